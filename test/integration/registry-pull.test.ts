/**
 * Pulling from a real registry (Debian's docker-registry on 127.0.0.1), images put there by
 * umoci + skopeo, the result compared file by file with `umoci unpack` of the same image.
 */
import { lstat, mkdir, mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chainIds, sha256Digest } from '../../src/image/digest.js';
import { openImageStore } from '../../src/image/store.js';
import { pullImage } from '../../src/image/registry/pull.js';
import { TransferStore } from '../../src/image/registry/transfer-store.js';
import type { ProgressEvent } from '../../src/image/registry/progress.js';
import { tsdock } from '../helpers/host.js';
import { buildLayout, sh, skopeoCopy, startRegistry, type FileSpec, type Registry } from '../helpers/registry.js';
import { describeTree } from '../helpers/tree.js';

const layers: FileSpec[][] = [
  [
    { path: 'etc/hello', content: 'hello\n', mode: 0o644 },
    { path: 'bin/tool', content: '#!/bin/sh\necho tool\n', mode: 0o755 },
    { path: 'srv/owned', content: 'x', uid: 1234, gid: 5678, mode: 0o600 },
    { path: 'srv/setuid', content: 's', mode: 0o4755 },
    { path: 'srv/link', symlink: '../etc/hello' },
    { path: 'srv/hard', hardlink: 'etc/hello' },
    { path: 'var/empty', dir: true, mode: 0o1777 },
  ],
  [
    { path: 'etc/hello', content: 'hello again\n' },
    { path: 'usr/share/big', content: Buffer.alloc(3 * 1024 * 1024, 'abcdefgh') },
    { path: 'srv/setuid', remove: true },
    { path: 'var/empty', remove: true },
  ],
];

/** Mounts the layers read-only as overlay (as the runtime would) and describes the merged tree. */
async function describeLayers(root: string, chains: string[], mnt: string): Promise<string[]> {
  const lower = chains
    .map((c) => join(root, 'layers', c.slice('sha256:'.length)))
    .reverse()
    .join(':');
  await mkdir(mnt, { recursive: true });
  await sh('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${lower}`, mnt]);
  try {
    return await describeTree(mnt);
  } finally {
    await sh('umount', [mnt]);
  }
}

describe('pull from an open registry', () => {
  let registry: Registry;
  let work: string;
  let layout: string;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'tsdock-pull-'));
    registry = await startRegistry();
    layout = await buildLayout(work, layers);
    await skopeoCopy(`oci:${layout}:latest`, `docker://${registry.host}/test/app:oci`);
    await skopeoCopy(`oci:${layout}:latest`, `docker://${registry.host}/test/app:v2s2`, ['--format', 'v2s2']);
    await skopeoCopy(`oci:${layout}:latest`, `docker://${registry.host}/test/app:zstd`, [
      '--dest-compress',
      '--dest-compress-format',
      'zstd',
    ]);
    await sh('umoci', ['unpack', '--image', `${layout}:latest`, join(work, 'umoci')]);
  });

  afterAll(async () => {
    await registry.stop();
    await rm(work, { recursive: true, force: true });
  });

  for (const tag of ['oci', 'v2s2', 'zstd']) {
    it(`pulls the ${tag} image and unpacks the same tree as umoci`, async () => {
      const root = join(work, `root-${tag}`);
      await openImageStore(root);
      const events: ProgressEvent[] = [];
      const result = await pullImage(new TransferStore(root), `${registry.host}/test/app:${tag}`, {
        onProgress: (e) => events.push(e),
      });
      expect(result.name).toBe(`${registry.host}/test/app:${tag}`);
      const store = await openImageStore(root);
      const resolved = await store.resolve(`${registry.host}/test/app:${tag}`);
      expect(resolved.config.Cmd).toEqual(['/bin/true']);
      const config = JSON.parse(
        await sh('skopeo', ['inspect', '--tls-verify=false', '--config', `docker://${registry.host}/test/app:${tag}`]),
      ) as { rootfs: { diff_ids: string[] } };
      const chains = chainIds(config.rootfs.diff_ids as never);
      const ours = await describeLayers(root, chains, join(work, `mnt-${tag}`));
      const theirs = await describeTree(join(work, 'umoci', 'rootfs'));
      expect(ours).toEqual(theirs);
      // The deletion travelled as a whiteout: overlay's 0:0 character device in the top layer.
      const top = join(root, 'layers', (chains[1] ?? '').slice('sha256:'.length));
      expect((await lstat(join(top, 'srv/setuid'))).isCharacterDevice()).toBe(true);
      expect(events.some((e) => e.type === 'layer' && e.status === 'complete')).toBe(true);
      expect(events.at(-1)?.type).toBe('done');
      // Nothing left over in the download area.
      expect(await readdir(join(root, 'downloads'))).toEqual([]);
    });
  }

  it('pulls by digest, and finds the image by that digest', async () => {
    const raw = await sh('skopeo', [
      'inspect',
      '--raw',
      '--tls-verify=false',
      `docker://${registry.host}/test/app:v2s2`,
    ]);
    const ref = `${registry.host}/test/app@${sha256Digest(raw)}`;
    const root = join(work, 'root-digest');
    await openImageStore(root);
    const result = await pullImage(new TransferStore(root), ref);
    expect(result.digest).toBe(sha256Digest(raw));
    const resolved = await (await openImageStore(root)).resolve(ref);
    expect(resolved.id).toBe(result.id);
  });

  it('tags and pushes through the CLI, and drops week-old partial downloads', async () => {
    const root = join(work, 'root-oci');
    const stale = join(root, 'downloads', 'f'.repeat(64));
    await writeFile(stale, 'old');
    await utimes(stale, new Date('2020-01-01'), new Date('2020-01-01'));
    const tag = await tsdock(['--root', root, 'tag', `${registry.host}/test/app:oci`, `${registry.host}/cli/pushed:1`]);
    expect([tag.code, tag.stderr]).toEqual([0, '']);
    const push = await tsdock(['--root', root, 'push', `${registry.host}/cli/pushed:1`]);
    expect([push.code, push.stderr]).toEqual([0, '']);
    expect(push.stdout).toMatch(/Mounted from another repository/);
    expect(push.stdout).toMatch(/^1: digest: sha256:[0-9a-f]{64} size: \d+$/m);
    const raw = await sh('skopeo', [
      'inspect',
      '--raw',
      '--tls-verify=false',
      `docker://${registry.host}/cli/pushed:1`,
    ]);
    expect(push.stdout).toContain(sha256Digest(raw));
    const pull = await tsdock(['--root', root, 'pull', `${registry.host}/cli/pushed:1`]);
    expect([pull.code, pull.stderr]).toEqual([0, '']);
    expect(await readdir(join(root, 'downloads'))).toEqual([]);
  });

  it('--max-concurrent-downloads 1 fetches one layer after the other; a bad value is refused', async () => {
    const root = join(work, 'root-serial');
    await openImageStore(root);
    const events: ProgressEvent[] = [];
    await pullImage(new TransferStore(root), `${registry.host}/test/app:oci`, {
      concurrency: 1,
      onProgress: (e) => events.push(e),
    });
    // Each layer's events form one run: the next layer starts after the last one completed.
    const order = events.flatMap((e) => (e.type === 'layer' && e.status !== 'waiting' ? [e.digest] : []));
    const runs = order.filter((d, i) => i === 0 || order[i - 1] !== d);
    expect(new Set(runs).size).toBe(runs.length);
    expect(runs).toHaveLength(2);

    const cliPull = await tsdock([
      '--root',
      join(work, 'root-serial-cli'),
      'pull',
      '-q',
      '--max-concurrent-downloads',
      '1',
      `${registry.host}/test/app:oci`,
    ]);
    expect([cliPull.code, cliPull.stderr]).toEqual([0, '']);
    const bad = await tsdock([
      '--root',
      root,
      'pull',
      '--max-concurrent-downloads',
      '0',
      `${registry.host}/test/app:oci`,
    ]);
    expect(bad.code).toBe(125);
    expect(bad.stderr).toBe('tsdock: invalid --max-concurrent-downloads "0": expected 1 to 64\n');
  });

  it('a second pull finds every layer already there', async () => {
    const root = join(work, 'root-oci');
    const events: ProgressEvent[] = [];
    await pullImage(new TransferStore(root), `${registry.host}/test/app:oci`, { onProgress: (e) => events.push(e) });
    const statuses = events.flatMap((e) => (e.type === 'layer' && e.status !== 'waiting' ? [e.status] : []));
    expect(statuses).toEqual(['exists', 'exists']);
  });
});
