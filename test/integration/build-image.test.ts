/**
 * What `tsdock build` makes is a standard OCI image: pushed to a real registry it comes back
 * through skopeo, validates with oci-image-tool, and unpacks (umoci) to the same tree Debian's
 * buildah builds from the same Dockerfile. The demo Dockerfile gives the tree the layout writer
 * gives.
 */
import { copyFile, mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBusyboxImage } from '../../images/busybox/image.js';
import { openImageStore } from '../../src/image/store.js';
import { repoRoot, tsdock } from '../helpers/host.js';
import { sh, skopeoCopy, startRegistry, type Registry } from '../helpers/registry.js';
import { listTree, tempDir } from './image-helpers.js';

let registry: Registry;

beforeAll(async () => {
  registry = await startRegistry();
});

afterAll(async () => {
  await registry.stop();
});

/** A context whose Dockerfile needs no base image: busybox copied in, and a RUN using it. */
async function scratchContext(): Promise<string> {
  const dir = await tempDir('tsdock-build-cmp-');
  await copyFile('/bin/busybox', join(dir, 'busybox'));
  await mkdir(join(dir, 'tree/sub/deeper'), { recursive: true });
  await writeFile(join(dir, 'tree/sub/deeper/file'), 'content\n');
  await writeFile(join(dir, 'tree/gone'), 'removed by the RUN\n');
  await symlink('deeper/file', join(dir, 'tree/sub/link'));
  await writeFile(join(dir, 'script.sh'), '#!/bin/sh\necho script\n');
  await writeFile(
    join(dir, 'Dockerfile'),
    [
      'FROM scratch',
      'COPY busybox /bin/busybox',
      'COPY tree/ /data/',
      'COPY --chmod=750 script.sh /usr/local/bin/',
      'COPY --chown=1000:1000 tree/sub /home/user/',
      'WORKDIR /work',
      'RUN ["/bin/busybox", "sh", "-c", "/bin/busybox mkdir -p /out && /bin/busybox echo hi > /out/hi && /bin/busybox rm /data/gone"]',
      'ENV A=1',
      'CMD ["/bin/busybox", "cat", "/out/hi"]',
    ].join('\n'),
  );
  return dir;
}

/** Mount points buildah 1.28 leaves in an image (empty); Docker and tsdock leave them out. */
const BUILDAH_MOUNT_POINTS = new Set([
  'dev',
  'proc',
  'run',
  'sys',
  'etc',
  'etc/hostname',
  'etc/hosts',
  'etc/resolv.conf',
]);

describe('built images', () => {
  it('push to a registry, pull back with skopeo, validate, and unpack to the tree buildah builds', async () => {
    const work = await tempDir('tsdock-build-image-');
    const root = join(work, 'root');
    const context = await scratchContext();
    const name = `${registry.host}/built/cmp:1`;
    const built = await tsdock(['--root', root, 'build', '--network', 'none', '-t', name, context]);
    expect([built.code, built.stderr]).toEqual([0, '']);
    const pushed = await tsdock(['--root', root, 'push', name]);
    expect([pushed.code, pushed.stderr]).toEqual([0, '']);

    const ours = join(work, 'ours');
    await skopeoCopy(`docker://${name}`, `oci:${ours}:latest`);
    await sh('oci-image-tool', ['validate', '--type', 'image', '--ref', 'name=latest', ours]);
    const config = JSON.parse(await sh('skopeo', ['inspect', '--config', `oci:${ours}:latest`])) as {
      config: { Env: string[]; Cmd: string[]; WorkingDir: string };
      history: { empty_layer?: boolean }[];
      rootfs: { diff_ids: string[] };
    };
    expect(config.config).toEqual({ Env: ['A=1'], Cmd: ['/bin/busybox', 'cat', '/out/hi'], WorkingDir: '/work' });
    expect(config.history.filter((h) => h.empty_layer !== true)).toHaveLength(config.rootfs.diff_ids.length);
    await sh('umoci', ['unpack', '--image', `${ours}:latest`, join(work, 'ours-bundle')]);

    const buildah = [
      '--root',
      join(work, 'buildah'),
      '--runroot',
      join(work, 'buildah-run'),
      '--storage-driver',
      'vfs',
    ];
    await sh('buildah', [...buildah, 'bud', '--quiet', '--isolation', 'chroot', '-t', 'cmp:1', context]);
    const theirs = join(work, 'theirs');
    await sh('buildah', [...buildah, 'push', '--quiet', 'cmp:1', `oci:${theirs}:latest`]);
    await sh('umoci', ['unpack', '--image', `${theirs}:latest`, join(work, 'theirs-bundle')]);

    const tree = (dir: string): Promise<string[]> => listTree(join(work, dir, 'rootfs'));
    const theirsTree = (await tree('theirs-bundle')).filter(
      (line) => !BUILDAH_MOUNT_POINTS.has(line.split(' ')[0] ?? ''),
    );
    expect(await tree('ours-bundle')).toEqual(theirsTree);
  });

  it('images/busybox/Dockerfile builds the tree the layout writer builds', async () => {
    const work = await tempDir('tsdock-build-busybox-');
    const context = join(work, 'context');
    await mkdir(context);
    for (const file of ['Dockerfile', '.dockerignore']) {
      await copyFile(join(repoRoot, 'images/busybox', file), join(context, file));
    }
    await sh(process.execPath, [join(repoRoot, 'dist/images/busybox/context.js'), context]);
    const root = join(work, 'root');
    const built = await tsdock(['--root', root, 'build', '-q', '-t', 'busybox', context]);
    expect([built.code, built.stderr]).toEqual([0, '']);
    const fromDockerfile = await (await openImageStore(root)).resolve('busybox');

    const layout = join(work, 'layout');
    await buildBusyboxImage({ out: layout });
    const reference = await openImageStore(join(work, 'reference'));
    await reference.importLayout(layout);
    const fromLayout = await reference.resolve('busybox');

    expect(fromDockerfile.config).toEqual(fromLayout.config);
    expect(fromDockerfile.layerDirs).toHaveLength(1);
    expect(await listTree(fromDockerfile.layerDirs[0] ?? '')).toEqual(await listTree(fromLayout.layerDirs[0] ?? ''));
  });
});
