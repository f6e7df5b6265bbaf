/**
 * The image store on a real file system: importing OCI layouts, resolving (with lazily unpacked
 * user-namespace variants), listing, tagging, removing with garbage collection, refusing bad
 * content without changing anything, and the cross-process lock.
 */
import { spawn } from 'node:child_process';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { digestHex, sha256Digest, type Digest } from '../../src/image/digest.js';
import { writeOciLayout, type WrittenLayout } from '../../src/image/oci-layout-writer.js';
import { StoreLock } from '../../src/image/lock.js';
import type { ImageStore } from '../../src/image/store.js';
import { exec, hashTree, listTree, store, tempDir } from './image-helpers.js';
import { rejection } from '../helpers/errors.js';

/** Writes an OCI layout whose layers hold the given files. */
async function layout(
  name: string,
  layers: Record<string, string>[],
  cmd = ['sh'],
): Promise<{ dir: string } & WrittenLayout> {
  const work = await tempDir('tsdock-src-');
  const dirs: string[] = [];
  for (const [i, files] of layers.entries()) {
    const dir = join(work, `layer${i}`);
    await mkdir(dir);
    for (const [path, content] of Object.entries(files)) {
      await mkdir(join(dir, path, '..'), { recursive: true });
      await writeFile(join(dir, path), content);
    }
    dirs.push(dir);
  }
  const dir = join(work, 'layout');
  return {
    dir,
    ...(await writeOciLayout(dir, { name, config: { Cmd: cmd, Env: ['A=1'] }, layers: dirs, mtime: 1_700_000_000 })),
  };
}

const BASE = { 'bin/sh': 'shell', 'etc/passwd': 'root:x:0:0::/root:/bin/sh\n' };

/** Replaces the image config of a one-image layout, rewriting manifest and index to match. */
async function rewriteConfig(dir: string, change: (config: { rootfs: { diff_ids: string[] } }) => void): Promise<void> {
  const blob = (d: string): string => join(dir, 'blobs/sha256', d.slice(7));
  const index = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')) as {
    manifests: { digest: string; size: number }[];
  };
  const entry = index.manifests[0];
  if (entry === undefined) throw new Error('empty index');
  const manifest = JSON.parse(await readFile(blob(entry.digest), 'utf8')) as {
    config: { digest: string; size: number };
  };
  const config = JSON.parse(await readFile(blob(manifest.config.digest), 'utf8')) as { rootfs: { diff_ids: string[] } };
  change(config);
  const put = async (data: Buffer): Promise<{ digest: Digest; size: number }> => {
    const digest = sha256Digest(data);
    await writeFile(blob(digest), data);
    return { digest, size: data.length };
  };
  Object.assign(manifest.config, await put(Buffer.from(JSON.stringify(config))));
  Object.assign(entry, await put(Buffer.from(JSON.stringify(manifest))));
  await writeFile(join(dir, 'index.json'), JSON.stringify(index));
}

describe('import and resolve', () => {
  it('imports a layout and resolves it by name, short ID and full ID', async () => {
    const s = await store();
    const image = await layout('busybox:latest', [BASE, { 'etc/motd': 'hi' }]);
    expect(await s.importLayout(image.dir)).toEqual([{ id: image.config, names: ['busybox:latest'] }]);

    const resolved = await s.resolve('busybox');
    expect(resolved.id).toBe(image.config);
    expect(resolved.name).toBe('busybox:latest');
    expect(resolved.config).toEqual({ Cmd: ['sh'], Env: ['A=1'] });
    expect(resolved.layerDirs).toHaveLength(2);
    const [bottom = '', top = ''] = resolved.layerDirs;
    expect(bottom).toBe(join(s.root, 'layers', digestHex(image.diffIds[0] as Digest)));
    expect(await listTree(bottom)).toContain('etc/passwd f 0644 0:0 size 26');
    expect(await listTree(top)).toEqual(['etc d 0755 0:0', 'etc/motd f 0644 0:0 size 2']);

    expect((await s.resolve(image.config)).layerDirs).toEqual(resolved.layerDirs);
    expect((await s.resolve(digestHex(image.config).slice(0, 12))).name).toBe('busybox:latest');
    expect(await s.list()).toEqual([
      {
        repository: 'busybox',
        tag: 'latest',
        id: image.config,
        created: '2023-11-14T22:13:20.000Z',
        size: expect.any(Number) as number,
      },
    ]);
    const [row] = await s.list();
    const blobSizes = await Promise.all(
      [image.config, ...image.layers].map(async (d) => (await stat(join(s.root, 'blobs/sha256', digestHex(d)))).size),
    );
    expect(row?.size).toBe(blobSizes.reduce((a, b) => a + b, 0));
  });

  it('says what is missing and how to get it', async () => {
    const err = await rejection((await store()).resolve('busybox:latest'));
    expect(err.code).toBe('IMAGE_NOT_FOUND');
    expect(err.message).toBe('image not found: busybox:latest; load or pull it first (tsdock load -i FILE)');
  });

  it('unpacks the layers for an id mapping on first use, once', async () => {
    const s = await store();
    const image = await layout('app:v1', [BASE]);
    await s.importLayout(image.dir);
    const mapping = { uid: { hostID: 100000, size: 65536 }, gid: { hostID: 100000, size: 65536 } };
    const plain = await s.resolve('app:v1');
    const mapped = await s.resolve('app:v1', { idMapping: mapping });
    const [dir = ''] = mapped.layerDirs;
    expect(dir).toBe(`${plain.layerDirs[0] ?? ''}-100000-65536`);
    expect(await listTree(dir)).toEqual([
      'bin d 0755 100000:100000',
      'bin/sh f 0644 100000:100000 size 5',
      'etc d 0755 100000:100000',
      'etc/passwd f 0644 100000:100000 size 26',
    ]);
    expect((await stat(dir)).uid).toBe(100000);
    expect((await stat(plain.layerDirs[0] ?? '')).uid).toBe(0);
    const inode = (await stat(dir)).ino;
    expect((await s.resolve('app:v1', { idMapping: mapping })).layerDirs).toEqual(mapped.layerDirs);
    expect((await stat(dir)).ino).toBe(inode);
    expect((await readdir(join(s.root, 'layers'))).sort()).toEqual(
      [digestHex(image.diffIds[0] as Digest), `${digestHex(image.diffIds[0] as Digest)}-100000-65536`].sort(),
    );
  });
});

describe('names and removal', () => {
  it('removes only what no other image uses, then everything', async () => {
    const s = await store();
    const a = await layout('a:1', [BASE, { a: 'a' }]);
    const b = await layout('b:1', [BASE, { b: 'b' }], ['b']);
    await s.importLayout(a.dir);
    await s.importLayout(b.dir);
    const shared = join(s.root, 'layers', digestHex(a.diffIds[0] as Digest));
    expect(a.layers[0]).toBe(b.layers[0]);
    expect(await readdir(join(s.root, 'layers'))).toHaveLength(3);
    expect(await readdir(join(s.root, 'blobs/sha256'))).toHaveLength(7); // 3 layers, 2 configs, 2 manifests

    expect(await s.remove('a:1')).toEqual(['Untagged: a:1', `Deleted: ${a.config}`]);
    expect(await readdir(join(s.root, 'layers'))).toHaveLength(2);
    expect((await stat(shared)).isDirectory()).toBe(true);
    expect((await readdir(join(s.root, 'blobs/sha256'))).sort()).toEqual(
      [b.manifest, b.config, ...b.layers].map((d) => digestHex(d)).sort(),
    );
    await expect(s.resolve('b:1')).resolves.toMatchObject({ id: b.config });

    expect(await s.remove(b.config)).toEqual(['Untagged: b:1', `Deleted: ${b.config}`]);
    expect(await readdir(join(s.root, 'layers'))).toEqual([]);
    expect(await readdir(join(s.root, 'blobs/sha256'))).toEqual([]);
    expect(await s.list()).toEqual([]);
  });

  it('untags one of several names; by ID across repositories only with force', async () => {
    const s = await store();
    const image = await layout('busybox:latest', [BASE]);
    await s.importLayout(image.dir);
    await s.tag('busybox', 'busybox:1.36');
    await s.tag(image.config, 'localhost:5000/mine:v1');
    expect((await s.list()).map((r) => `${r.repository}:${r.tag}`).sort()).toEqual([
      'busybox:1.36',
      'busybox:latest',
      'localhost:5000/mine:v1',
    ]);

    expect(await s.remove('busybox:1.36')).toEqual(['Untagged: busybox:1.36']);
    const err = await rejection(s.remove(image.config));
    expect(err.code).toBe('INVALID_ARGUMENT');
    expect(err.message).toContain('busybox:latest, localhost:5000/mine:v1');
    expect(await s.resolve('busybox')).toMatchObject({ id: image.config });
    expect(await s.remove(image.config, { force: true })).toEqual([
      'Untagged: busybox:latest',
      'Untagged: localhost:5000/mine:v1',
      `Deleted: ${image.config}`,
    ]);
    expect(await readdir(join(s.root, 'blobs/sha256'))).toEqual([]);
  });

  it('keeps an image whose name moved to another one, as <none>', async () => {
    const s = await store();
    const old = await layout('app:latest', [{ v: '1' }]);
    const next = await layout('app:latest', [{ v: '2' }]);
    await s.importLayout(old.dir);
    await s.importLayout(next.dir);
    expect((await s.list()).map((r) => [r.repository, r.tag, r.id]).sort()).toEqual(
      [
        ['<none>', '<none>', old.config],
        ['app', 'latest', next.config],
      ].sort(),
    );
    expect((await s.resolve(old.config)).name).toBe(old.config);
    expect(await s.remove(old.config)).toEqual([`Deleted: ${old.config}`]);
    expect(await readdir(join(s.root, 'layers'))).toEqual([digestHex(next.diffIds[0] as Digest)]);
  });
});

describe('bad content leaves the store as it was', () => {
  async function storeWithOneImage(): Promise<ImageStore> {
    const s = await store();
    await s.importLayout((await layout('keep:1', [BASE])).dir);
    return s;
  }

  it.each([
    [
      'a layer whose bytes do not match its digest',
      async (dir: string, w: WrittenLayout): Promise<void> => {
        const path = join(dir, 'blobs/sha256', digestHex(w.layers[1] as Digest));
        const data = await readFile(path);
        data[data.length - 10] = (data[data.length - 10] ?? 0) ^ 0xff;
        await writeFile(path, data);
      },
      /layer 2: blob sha256:[0-9a-f]{64} has digest sha256:/,
    ],
    [
      'a missing layer',
      async (dir: string, w: WrittenLayout): Promise<void> => {
        await exec('rm', [join(dir, 'blobs/sha256', digestHex(w.layers[1] as Digest))]);
      },
      /layer 2: blob sha256:[0-9a-f]{64} is missing/,
    ],
    [
      'a config that lies about diff_ids',
      async (dir: string): Promise<void> => {
        await rewriteConfig(dir, (c) => {
          c.rootfs.diff_ids[1] = sha256Digest('not this');
        });
      },
      /layer 2 \(sha256:[0-9a-f]{64}\): layer content does not match its diff_id/,
    ],
    [
      'a config with too few diff_ids',
      async (dir: string): Promise<void> => {
        await rewriteConfig(dir, (c) => {
          c.rootfs.diff_ids.pop();
        });
      },
      /lists 2 layers, its config 1 diff_ids/,
    ],
    [
      'an index that points at nothing',
      async (dir: string): Promise<void> => {
        await writeFile(join(dir, 'index.json'), '{"schemaVersion":2,"manifests":[]}');
      },
      /no image for linux\/[a-z0-9]+ in index.json/,
    ],
  ])('refuses %s', async (_what, damage, message) => {
    const s = await storeWithOneImage();
    const image = await layout('new:1', [BASE, { 'big/file': 'x'.repeat(100_000) }]);
    await damage(image.dir, image);
    const before = await hashTree(s.root);
    const err = await rejection(s.importLayout(image.dir));
    expect(err.code).toBe('INVALID_IMAGE');
    expect(err.message).toMatch(message);
    expect(err.message.startsWith(`${image.dir}: `)).toBe(true);
    expect(await hashTree(s.root)).toBe(before);
    await expect(s.resolve('keep:1')).resolves.toMatchObject({ name: 'keep:1' });
  });
});

describe('the store lock', () => {
  it('makes a mutation wait for another process that holds it, and clears stale temporaries', async () => {
    const s = await store();
    await s.importLayout((await layout('a:1', [BASE])).dir);
    await writeFile(join(s.root, 'ingest', 'left-by-a-killed-load'), 'x');
    await mkdir(join(s.root, 'layers', '.tmp-killed'));

    const holder = spawn('flock', ['--exclusive', join(s.root, 'lock'), 'sh', '-c', 'echo locked; sleep 0.7'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await new Promise<void>((resolve) =>
      holder.stdout.once('data', () => {
        resolve();
      }),
    );
    const started = Date.now();
    await s.tag('a:1', 'a:2');
    const waited = Date.now() - started;
    expect(waited).toBeGreaterThanOrEqual(500);
    expect(holder.exitCode).toBe(0);

    expect(await readdir(join(s.root, 'ingest'))).toEqual([]);
    expect(await readdir(join(s.root, 'layers'))).toHaveLength(1);
    expect((await s.list()).map((r) => r.tag).sort()).toEqual(['1', '2']);
  });

  it('lets shared holders in one process overlap, and puts an exclusive request between them', async () => {
    const root = await tempDir();
    const lockFile = join(root, 'lock');
    const lock = new StoreLock(lockFile, () => Promise.resolve());
    const events: string[] = [];
    let open = (): void => undefined;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const reader = (name: string): Promise<void> =>
      lock.run('shared', async () => {
        events.push(`${name} in`);
        await gate;
        events.push(`${name} out`);
      });
    const r1 = reader('r1');
    const r2 = reader('r2');
    for (let i = 0; i < 200 && events.length < 2; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(events).toEqual(['r1 in', 'r2 in']);
    // Another process can share the lock now, but not take it exclusively.
    await exec('flock', ['--nonblock', '--shared', lockFile, 'true']);
    await expect(exec('flock', ['--nonblock', '--exclusive', lockFile, 'true'])).rejects.toThrow();

    const w = lock.run('exclusive', () => Promise.resolve(void events.push('w')));
    const r3 = lock.run('shared', () => Promise.resolve(void events.push('r3')));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(events).toEqual(['r1 in', 'r2 in']);
    open();
    await Promise.all([r1, r2, w, r3]);
    expect(events).toEqual(['r1 in', 'r2 in', 'r1 out', 'r2 out', 'w', 'r3']);
    await exec('flock', ['--nonblock', '--exclusive', lockFile, 'true']);
  });

  it('serialises concurrent mutations within one process', async () => {
    const s = await store();
    const images = await Promise.all(
      ['x:1', 'y:1', 'z:1'].map((name, i) => layout(name, [BASE, { [name]: String(i) }])),
    );
    await Promise.all(images.map((image) => s.importLayout(image.dir)));
    expect((await s.list()).map((r) => r.repository).sort()).toEqual(['x', 'y', 'z']);
  });
});
