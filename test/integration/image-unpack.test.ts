/**
 * Unpacking layers for real (root, the native addon, overlayfs): whiteouts and opaque dirs give
 * the right merged tree, metadata survives, owners shift for a user namespace, and hostile
 * layers never reach outside their directory.
 */
import { constants, createReadStream } from 'node:fs';
import { chmod, chown, copyFile, link, lstat, lutimes, mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { digestStream, type Digest } from '../../src/image/digest.js';
import { writeTar, type TarWriterEntry } from '../../src/image/tar-writer.js';
import { tarEntry } from '../helpers/tar.js';
import { unpackLayer, type UnpackOptions } from '../../src/image/unpack.js';
import { native } from '../../src/native.js';
import { exec, gnuTar, listTree, overlayView, tempDir } from './image-helpers.js';
import { rejection } from '../helpers/errors.js';

async function files(root: string, tree: Record<string, string>): Promise<string> {
  for (const [path, content] of Object.entries(tree)) {
    await mkdir(join(root, path, '..'), { recursive: true });
    await writeFile(join(root, path), content);
  }
  return root;
}

async function unpackFile(
  tar: string,
  options: UnpackOptions = {},
): Promise<{ dir: string; skipped: number; diffId: Digest }> {
  const dir = await tempDir('tsdock-layer-');
  const result = await unpackLayer(createReadStream(tar), dir, options);
  return { dir, skipped: result.skippedDevices, diffId: result.diffId };
}

async function* items<T>(list: T[]): AsyncGenerator<T> {
  for (const item of list) yield await Promise.resolve(item);
}

/** A layer written by our tar writer, for members GNU tar would never produce. */
async function crafted(list: TarWriterEntry[]): Promise<AsyncIterable<Buffer>> {
  const chunks: Buffer[] = [];
  for await (const chunk of writeTar(items(list))) chunks.push(chunk);
  return items([Buffer.concat(chunks)]);
}

describe('whiteouts and opaque directories', () => {
  it('give the merged tree overlayfs should show', async () => {
    const src = await tempDir();
    const base = await files(join(src, 'l1'), {
      'etc/motd': 'hello',
      'etc/keep': 'k',
      'dir/a': 'a',
      'dir/sub/b': 'b',
      'opq/x': 'x',
      'opq/y': 'y',
      'gone/file': 'f',
    });
    const middle = await files(join(src, 'l2'), {
      'etc/.wh.motd': '',
      'opq/.wh..wh..opq': '',
      'opq/z': 'z',
      '.wh.gone': '',
      'dir/c': 'c',
      'new/n': 'n',
    });
    const top = await files(join(src, 'l3'), {
      'etc/motd': 'again',
      'dir/sub/.wh.b': '',
      'new/.wh..wh..opq': '',
      'new/m': 'm',
    });
    const layers = [];
    for (const [i, dir] of [base, middle, top].entries()) {
      layers.push((await unpackFile(await gnuTar(dir, join(src, `l${i + 1}.tar.gz`), true))).dir);
    }

    const [, l2dir = '', l3dir = ''] = layers;
    expect(await listTree(l2dir)).toEqual([
      'dir d 0755 0:0',
      'dir/c f 0644 0:0 size 1',
      'etc d 0755 0:0',
      'etc/motd c 0000 0:0 dev 0',
      'gone c 0000 0:0 dev 0',
      'new d 0755 0:0',
      'new/n f 0644 0:0 size 1',
      'opq d 0755 0:0',
      'opq/z f 0644 0:0 size 1',
    ]);
    expect(native().lgetxattr(join(l2dir, 'opq'), 'trusted.overlay.opaque')?.toString()).toBe('y');
    expect(native().lgetxattr(join(l2dir, 'opq'), 'user.overlay.opaque')?.toString()).toBe('y');
    expect(native().lgetxattr(join(l2dir, 'etc'), 'trusted.overlay.opaque')).toBeUndefined();
    expect(native().lgetxattr(join(l3dir, 'new'), 'trusted.overlay.opaque')?.toString()).toBe('y');

    const view = await overlayView(layers, 'etc/motd');
    expect(view.listing).toEqual([
      './dir',
      './dir/a',
      './dir/c',
      './dir/sub',
      './etc',
      './etc/keep',
      './etc/motd',
      './new',
      './new/m',
      './opq',
      './opq/z',
    ]);
    expect(view.content).toBe('again');
    expect(await readFile('/proc/self/mountinfo', 'utf8')).not.toContain(src);
  });
});

describe('metadata', () => {
  it('keeps modes, owners, times, links, fifos and xattrs (binary ones too) and skips devices', async () => {
    const src = await tempDir();
    const root = join(src, 'root');
    await files(root, { 'bin/tool': 'tool', 'home/u/notes': 'n', caps: 'c' });
    await chown(join(root, 'bin/tool'), 1234, 5678);
    await chmod(join(root, 'bin/tool'), 0o4755);
    await chown(join(root, 'home/u'), 42, 43);
    await chmod(join(root, 'home/u'), 0o700);
    await chmod(join(root, 'home'), 0o1777);
    await symlink('../bin/tool', join(root, 'home/tool-link'));
    await link(join(root, 'bin/tool'), join(root, 'bin/tool-hard'));
    native().mknod(join(root, 'fifo'), constants.S_IFIFO | 0o640, 0, 0);
    native().mknod(join(root, 'null'), constants.S_IFCHR | 0o666, 1, 3);
    // cap_net_raw+ep as a VFS_CAP_REVISION_2 blob: binary, with 0x00 and high bytes
    const cap = Buffer.from([1, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    native().lsetxattr(join(root, 'caps'), 'security.capability', cap);
    native().lsetxattr(join(root, 'home/u/notes'), 'user.comment', Buffer.from('hi'));
    await lutimes(join(root, 'home/tool-link'), 1_600_000_000, 1_600_000_000);
    await lutimes(join(root, 'home/u'), 1_500_000_000, 1_500_000_000);

    const want = await listTree(root, { times: true });
    const { dir, skipped } = await unpackFile(await gnuTar(root, join(src, 'layer.tar')));
    expect(await listTree(dir, { times: true })).toEqual(want.filter((l) => !l.startsWith('null ')));
    expect(skipped).toBe(1);
    expect(native().lgetxattr(join(dir, 'caps'), 'security.capability')).toEqual(cap);
    expect(native().lgetxattr(join(dir, 'home/u/notes'), 'user.comment')?.toString()).toBe('hi');
    const { stdout } = await exec('stat', ['-c', '%h %i', join(dir, 'bin/tool'), join(dir, 'bin/tool-hard')]);
    const [a, b] = stdout.trim().split('\n');
    expect(a?.startsWith('2 ')).toBe(true);
    expect(a).toBe(b);
  });

  it('shifts owners into a user-namespace mapping, and refuses ids outside it', async () => {
    const src = await tempDir();
    const root = await files(join(src, 'root'), { 'etc/passwd': 'x', 'home/u/f': 'f', '.wh.old': '' });
    await chown(join(root, 'home/u'), 1000, 1001);
    await chown(join(root, 'home/u/f'), 1000, 1001);
    const tar = await gnuTar(root, join(src, 'layer.tar'));
    const mapping = { uid: { hostID: 100000, size: 65536 }, gid: { hostID: 200000, size: 65536 } };

    const { dir } = await unpackFile(tar, { idMapping: mapping });
    expect(await listTree(dir)).toEqual([
      'etc d 0755 100000:200000',
      'etc/passwd f 0644 100000:200000 size 1',
      'home d 0755 100000:200000',
      'home/u d 0755 101000:201001',
      'home/u/f f 0644 101000:201001 size 1',
      'old c 0000 100000:200000 dev 0',
    ]);

    const small = { uid: { hostID: 100000, size: 1000 }, gid: { hostID: 100000, size: 65536 } };
    const err = await rejection(unpackFile(tar, { idMapping: small }));
    expect(err.code).toBe('INVALID_ARGUMENT');
    expect(err.message).toMatch(/home\/u.* id 1000, outside the user namespace mapping of 1000 ids/);
  });
});

describe('hostile layers', () => {
  const outsideFile = async (): Promise<string> => {
    const outside = await tempDir('tsdock-outside-');
    await writeFile(join(outside, 'secret'), 'untouched');
    return outside;
  };

  it.each([
    ['an absolute path', () => [tarEntry({ path: '/etc/evil' })], /absolute path/],
    ['a ".." path', () => [tarEntry({ path: '../evil' })], /"\.\."/],
    ['a nested ".." path', () => [tarEntry({ path: 'a/../../evil' })], /"\.\."/],
    ['a hardlink out of the layer', () => [tarEntry({ path: 'h', type: 'hardlink', linkname: '../x' })], /"\.\."/],
    [
      'a hardlink to nothing',
      () => [tarEntry({ path: 'h', type: 'hardlink', linkname: 'nope' })],
      /not an earlier member/,
    ],
    [
      'a non-directory root',
      () => [tarEntry({ path: './', type: 'symlink', linkname: '/' })],
      /root must be a directory/,
    ],
  ])('refuses %s', async (_what, make, message) => {
    const dest = await tempDir();
    const err = await rejection(unpackLayer(await crafted(make()), dest));
    expect(err.code).toBe('INVALID_IMAGE');
    expect(err.message).toMatch(message);
  });

  it.each([
    [
      'a file through a planted symlink',
      (o: string) => [
        tarEntry({ path: 'l', type: 'symlink', linkname: o }),
        tarEntry({ path: 'l/secret', size: 4, body: items([Buffer.from('evil')]) }),
      ],
    ],
    [
      'a whiteout through a planted symlink',
      (o: string) => [tarEntry({ path: 'l', type: 'symlink', linkname: o }), tarEntry({ path: 'l/.wh.secret' })],
    ],
    [
      'an opaque marker through a planted symlink',
      (o: string) => [tarEntry({ path: 'l', type: 'symlink', linkname: o }), tarEntry({ path: 'l/.wh..wh..opq' })],
    ],
    [
      'a directory through a planted symlink',
      (o: string) => [
        tarEntry({ path: 'l', type: 'symlink', linkname: o }),
        tarEntry({ path: 'l/sub/', type: 'directory' }),
      ],
    ],
    [
      'a file after its directory became a symlink',
      (o: string) => [
        tarEntry({ path: 'd/', type: 'directory', mode: 0o755 }),
        tarEntry({ path: 'd/f' }),
        tarEntry({ path: 'd', type: 'symlink', linkname: o }),
        tarEntry({ path: 'd/secret', size: 4, body: items([Buffer.from('evil')]) }),
      ],
    ],
    [
      'a hardlink through a planted symlink',
      (o: string) => [
        tarEntry({ path: 'l', type: 'symlink', linkname: o }),
        tarEntry({ path: 'h', type: 'hardlink', linkname: 'l/secret' }),
      ],
    ],
  ])('refuses %s and leaves the outside alone', async (_what, make) => {
    const outside = await outsideFile();
    const before = await listTree(outside, { times: true });
    const dest = await tempDir();
    const err = await rejection(unpackLayer(await crafted(make(outside)), dest));
    expect(err.code).toBe('INVALID_IMAGE');
    expect(err.message).toMatch(/goes through a symlink|not inside a directory of this layer/);
    expect(await listTree(outside, { times: true })).toEqual(before);
    expect(await readFile(join(outside, 'secret'), 'utf8')).toBe('untouched');
    expect(native().lgetxattr(outside, 'trusted.overlay.opaque')).toBeUndefined();
  });

  it.each([
    [
      'a directory member over a symlink to the outside (link, then chmod/chown)',
      (o: string) => [
        tarEntry({ path: 'd', type: 'symlink', linkname: o }),
        tarEntry({ path: 'd/', type: 'directory', mode: 0o777, uid: 1234, gid: 1234 }),
      ],
    ],
    [
      'a file member over a symlink to an outside file',
      (o: string) => [
        tarEntry({ path: 'f', type: 'symlink', linkname: join(o, 'secret') }),
        tarEntry({ path: 'f', mode: 0o4777, uid: 1234, size: 4, body: items([Buffer.from('evil')]) }),
      ],
    ],
    [
      'a hardlink to a symlink to the outside, then its metadata',
      (o: string) => [
        tarEntry({ path: 'l', type: 'symlink', linkname: join(o, 'secret') }),
        tarEntry({ path: 'h', type: 'hardlink', linkname: 'l' }),
        tarEntry({ path: 'h', type: 'directory', mode: 0o777 }),
      ],
    ],
    [
      'xattrs and times on a symlink to the outside',
      (o: string) => [
        tarEntry({
          path: 'l',
          type: 'symlink',
          linkname: o,
          mtime: 1,
          xattrs: new Map([['user.evil', Buffer.from('x')]]),
        }),
      ],
    ],
  ])('never changes what %s points to', async (_what, make) => {
    const outside = await outsideFile();
    const stat = async (): Promise<unknown> => {
      const st = await lstat(outside);
      return [st.mode, st.uid, st.gid, st.mtimeMs, native().llistxattr(outside)];
    };
    const before = [await listTree(outside, { times: true }), await stat()];
    const dest = await tempDir();
    // Refusing the layer and unpacking it inside are both fine; touching the outside is not.
    await unpackLayer(await crafted(make(outside)), dest).catch((err: unknown) => {
      expect(err).toMatchObject({ code: 'INVALID_IMAGE' });
    });
    expect([await listTree(outside, { times: true }), await stat()]).toEqual(before);
    expect(await readFile(join(outside, 'secret'), 'utf8')).toBe('untouched');
  });

  it('gives each member its own owner and mode inside setgid directories, whatever they would hand down', async () => {
    const dest = await tempDir();
    await chown(dest, 0, 50);
    await chmod(dest, 0o2755); // a setgid layer root: a new member would take gid 50
    await unpackLayer(
      await crafted([
        tarEntry({ path: 'top', mode: 0o640 }),
        tarEntry({ path: 'shared/', type: 'directory', mode: 0o2775, gid: 60 }),
        tarEntry({ path: 'shared/f', mode: 0o666 }),
        tarEntry({ path: 'shared/sub/', type: 'directory', mode: 0o755 }),
        tarEntry({ path: 'shared/link', type: 'symlink', linkname: 'f' }),
        tarEntry({ path: 'plain/f', mode: 0o755, uid: 7, gid: 8 }),
      ]),
      dest,
    );
    expect(await listTree(dest)).toEqual([
      'plain d 0755 0:0',
      'plain/f f 0755 7:8 size 0',
      'shared d 2775 0:60',
      'shared/f f 0666 0:0 size 0',
      'shared/link l 0777 0:0 -> f',
      'shared/sub d 0755 0:0',
      'top f 0640 0:0 size 0',
    ]);
  });

  it('ignores overlayfs xattrs a layer tries to set', async () => {
    const dest = await tempDir();
    const forged = new Map([
      ['trusted.overlay.opaque', Buffer.from('y')],
      ['trusted.overlay.redirect', Buffer.from('/etc')],
      ['user.overlay.opaque', Buffer.from('y')],
      ['user.fine', Buffer.from('ok')],
    ]);
    await unpackLayer(await crafted([tarEntry({ path: 'd/', type: 'directory', mode: 0o755, xattrs: forged })]), dest);
    expect(native().llistxattr(join(dest, 'd'))).toEqual(['user.fine']);
  });

  it('lets a later member replace an earlier one, as tar does', async () => {
    const dest = await tempDir();
    await unpackLayer(
      await crafted([
        tarEntry({ path: 'x', size: 3, body: items([Buffer.from('old')]) }),
        tarEntry({ path: 'x', size: 3, body: items([Buffer.from('new')]) }),
        tarEntry({ path: 'd/', type: 'directory', mode: 0o755 }),
        tarEntry({ path: 'd/inner' }),
        tarEntry({ path: 'd', type: 'symlink', linkname: 'x' }),
      ]),
      dest,
    );
    expect(await listTree(dest)).toEqual(['d l 0777 0:0 -> x', 'x f 0644 0:0 size 3']);
    expect(await readFile(join(dest, 'x'), 'utf8')).toBe('new');
  });
});

describe('diff_id', () => {
  it('is the digest of the uncompressed stream, whether it came plain, gzipped or zstd-compressed', async () => {
    const src = await tempDir();
    const root = await files(join(src, 'root'), { a: 'a' });
    await copyFile('/bin/busybox', join(root, 'busybox')); // big enough for many chunks
    const plain = await gnuTar(root, join(src, 'layer.tar'));
    await exec('gzip', ['-k', plain]);
    await exec('zstd', ['-q', '-k', plain]);
    const { digest } = await digestStream(createReadStream(plain));
    const want = await listTree(root);
    for (const file of [plain, `${plain}.gz`, `${plain}.zst`]) {
      const { dir, diffId } = await unpackFile(file, { expectedDiffId: digest });
      expect(diffId).toBe(digest);
      expect(await listTree(dir)).toEqual(want);
    }
  });

  it('must match what the config promises', async () => {
    const src = await tempDir();
    const tar = await gnuTar(await files(join(src, 'root'), { a: 'a' }), join(src, 'layer.tar'));
    const wrong = `sha256:${'0'.repeat(64)}` as Digest;
    const err = await rejection(unpackFile(tar, { expectedDiffId: wrong }));
    expect(err.code).toBe('INVALID_IMAGE');
    expect(err.message).toContain(`expected ${wrong}`);
  });

  it.each([
    ['xz', Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 0, 0]), /xz-compressed data is not supported/],
    ['broken zstd', Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 1, 2, 3, 4]), /malformed zstd/],
    ['broken gzip', Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 1, 2, 3]), /malformed gzip/],
    ['not a tar', Buffer.alloc(1024, 0x41), /not a tar archive/],
  ])('refuses %s', async (_what, bytes, message) => {
    const err = await rejection(unpackLayer(items([bytes]), await tempDir()));
    expect(err.code).toBe('INVALID_IMAGE');
    expect(err.message).toMatch(message);
  });
});
