/**
 * The demo image: built from the host's static busybox by tsdock's own layout writer, accepted
 * by skopeo and umoci, and unpacked by tsdock into the same tree umoci unpacks.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildBusyboxImage, IMAGE_NAME } from '../../images/busybox/image.js';
import { TsdockError } from '../../src/errors.js';
import { openImageStore } from '../../src/image/store.js';
import { exec, listTree, tempDir } from './image-helpers.js';

const PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

async function build(): Promise<{ out: string; archive: string; config: string; manifest: string }> {
  const work = await tempDir('tsdock-busybox-test-');
  const out = join(work, 'busybox-oci');
  const archive = join(work, 'busybox-oci.tar');
  const written = await buildBusyboxImage({ out, archive });
  return { out, archive, config: written.config, manifest: written.manifest };
}

describe('images/busybox', () => {
  it('is accepted by skopeo, with the config tsdock wrote', async () => {
    const { out, archive, manifest } = await build();
    const inspect = JSON.parse((await exec('skopeo', ['inspect', `oci:${out}`])).stdout) as Record<string, unknown>;
    expect(inspect.Digest).toBe(manifest);
    expect(inspect.Os).toBe('linux');
    expect(inspect.Env).toEqual([PATH]);
    const config = JSON.parse((await exec('skopeo', ['inspect', '--config', `oci-archive:${archive}`])).stdout) as {
      config: { Cmd: string[] };
    };
    expect(config.config.Cmd).toEqual(['sh']);
  });

  it('unpacks with umoci to the tree tsdock unpacks, and that tree runs', async () => {
    const { out, archive } = await build();
    const bundle = join(await tempDir('tsdock-umoci-'), 'bundle');
    await exec('umoci', ['unpack', '--image', `${out}:latest`, bundle]);
    const theirs = await listTree(join(bundle, 'rootfs'), { times: true });

    const store = await openImageStore(await tempDir('tsdock-store-'));
    expect(await store.load(archive)).toEqual([
      { id: expect.stringMatching(/^sha256:/) as string, names: [IMAGE_NAME] },
    ]);
    const image = await store.resolve('busybox');
    expect(image.config).toEqual({ Env: [PATH], Cmd: ['sh'] });
    expect(image.layerDirs).toHaveLength(1);
    const layer = image.layerDirs[0] ?? '';
    const ours = await listTree(layer, { times: true });
    expect(ours).toEqual(theirs);

    const applets = (await exec('/bin/busybox', ['--list-full'])).stdout.trim().split('\n');
    // bin/busybox and a symlink per other applet, 11 directories, passwd and group
    expect(ours).toHaveLength(applets.length + 11 + 2);
    const size = (await readFile('/bin/busybox')).length;
    expect(ours.find((l) => l.startsWith('bin/busybox '))).toMatch(new RegExp(`^bin/busybox f 0755 0:0 size ${size} `));
    expect(ours.find((l) => l.startsWith('bin/sh '))).toMatch(/^bin\/sh l 0777 0:0 -> \/bin\/busybox/);
    expect(ours.find((l) => l.startsWith('tmp '))).toMatch(/^tmp d 1777 0:0/);
    expect(ours.find((l) => l.startsWith('root '))).toMatch(/^root d 0700 0:0/);
    expect(ours.some((l) => l.startsWith('etc/hosts'))).toBe(false);
    expect(await readFile(join(layer, 'etc/passwd'), 'utf8')).toMatch(
      /^root:x:0:0:root:\/root:\/bin\/sh\nnobody:x:65534:/,
    );

    const { stdout } = await exec('chroot', [layer, '/bin/sh', '-c', 'echo "$(id -u) $(ls /bin | wc -l)"']);
    expect(stdout.trim()).toMatch(/^0 \d+$/);
  });

  it('is reproducible', async () => {
    const [a, b] = [await build(), await build()];
    expect(a.manifest).toBe(b.manifest);
    expect((await readFile(a.archive)).equals(await readFile(b.archive))).toBe(true);
  });

  it.each([
    ['/nonexistent/busybox', /\/nonexistent\/busybox not found; install it: apt-get install busybox-static/],
    ['/bin/ls', /\/bin\/ls is not a static .*; install busybox-static/],
  ])('refuses to build from %s', async (busybox, message) => {
    const err: unknown = await buildBusyboxImage({ out: join(await tempDir(), 'out'), busybox }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(TsdockError);
    expect((err as TsdockError).code).toBe('HOST_UNSUPPORTED');
    expect((err as TsdockError).message).toMatch(message);
  });
});
