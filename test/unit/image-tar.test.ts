import { describe, expect, it } from 'vitest';
import { TsdockError } from '../../src/errors.js';
import { entryComponents } from '../../src/image/entry-path.js';
import { BLOCK, encodeHeader, padding, paxRecord, parsePax, type TarHeader } from '../../src/image/tar-header.js';
import { readTar } from '../../src/image/tar-reader.js';
import { writeTar, type TarWriterEntry } from '../../src/image/tar-writer.js';
import { classifyLayerEntry } from '../../src/image/whiteout.js';
import { tarEntry } from '../helpers/tar.js';

async function* from<T>(items: T[]): AsyncGenerator<T> {
  for (const item of items) yield await Promise.resolve(item);
}

async function collect(source: AsyncIterable<Buffer>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of source) chunks.push(c);
  return Buffer.concat(chunks);
}

/** Reads an archive; `chunk` re-slices the input to exercise reads across chunk borders. */
async function read(archive: Buffer, chunk = 7): Promise<(TarHeader & { content: string })[]> {
  const pieces: Buffer[] = [];
  for (let i = 0; i < archive.length; i += chunk) pieces.push(archive.subarray(i, i + chunk));
  const out: (TarHeader & { content: string })[] = [];
  for await (const { body, ...h } of readTar(from(pieces)))
    out.push({ ...h, content: (await collect(body)).toString() });
  return out;
}

async function write(entries: TarWriterEntry[]): Promise<Buffer> {
  return collect(writeTar(from(entries)));
}

/** A raw header block with a correct checksum, for formats the writer never produces. */
function rawBlock(fields: { name: string; type: string; size?: number; magic?: string }): Buffer {
  const block = Buffer.alloc(BLOCK);
  block.write(fields.name, 0, 100, 'utf8');
  block.write('0000644\0', 100, 'latin1');
  block.write('0000000\0', 108, 'latin1');
  block.write('0000000\0', 116, 'latin1');
  block.write((fields.size ?? 0).toString(8).padStart(11, '0') + '\0', 124, 'latin1');
  block.write('00000000000\0', 136, 'latin1');
  block.write(fields.type, 156, 'latin1');
  block.write(fields.magic ?? 'ustar  \0', 257, 'latin1');
  return withChecksum(block);
}

function withChecksum(block: Buffer): Buffer {
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of block) sum += b;
  block.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'latin1');
  return block;
}

const END = Buffer.alloc(2 * BLOCK);

describe('tar round trip', () => {
  it('keeps every header field and the content', async () => {
    const longName = `${'dir/'.repeat(40)}file`;
    const entries: TarWriterEntry[] = [
      tarEntry({ path: 'etc/', type: 'directory', mode: 0o755 }),
      tarEntry({ path: 'etc/passwd', size: 5, body: from([Buffer.from('root\n')]), uid: 1, gid: 2, mode: 0o4755 }),
      tarEntry({ path: longName, size: 3, body: from([Buffer.from('abc')]) }),
      tarEntry({ path: 'ünï/cödé', size: 0 }),
      tarEntry({ path: 'ln', type: 'symlink', linkname: `/${'x'.repeat(150)}` }),
      tarEntry({ path: 'hard', type: 'hardlink', linkname: 'etc/passwd' }),
      tarEntry({ path: 'dev/null', type: 'chardev', devmajor: 1, devminor: 3 }),
      tarEntry({ path: 'fifo', type: 'fifo', mode: 0o600 }),
      tarEntry({ path: 'big-ids', uid: 3_000_000, gid: 4_000_000 }),
      tarEntry({
        path: 'cap',
        xattrs: new Map([
          ['security.capability', Buffer.from([0x01, 0x00, 0x00, 0x02, 0xff, 0xfe, 0x80, 0x00])],
          ['user.note', Buffer.from('x=y\n')],
        ]),
      }),
    ];
    const archive = await write(entries);
    expect(archive.length % BLOCK).toBe(0);
    const back = await read(archive);
    expect(back.map((e) => e.path)).toEqual(entries.map((e) => e.path));
    back.forEach((got, i) => {
      const want = Object.fromEntries(Object.entries(entries[i] ?? {}).filter(([key]) => key !== 'body'));
      expect({ ...got, content: undefined }).toEqual({ ...want, content: undefined });
    });
    expect(back[1]?.content).toBe('root\n');
    expect(back[2]?.content).toBe('abc');
  });

  it('is deterministic', async () => {
    const make = (): TarWriterEntry[] => [tarEntry({ path: 'a', size: 1, body: from([Buffer.from('x')]) })];
    expect((await write(make())).equals(await write(make()))).toBe(true);
  });

  it('refuses a body that does not match its size', async () => {
    await expect(write([tarEntry({ size: 4, body: from([Buffer.from('abc')]) })])).rejects.toThrow(/size changed/);
    await expect(write([tarEntry({ size: 2, body: from([Buffer.from('abc')]) })])).rejects.toThrow(/size changed/);
  });

  it('skips bodies the consumer does not read', async () => {
    const archive = await write([
      tarEntry({ path: 'a', size: 600, body: from([Buffer.alloc(600, 1)]) }),
      tarEntry({ path: 'b', size: 1, body: from([Buffer.from('z')]) }),
    ]);
    const paths: string[] = [];
    for await (const e of readTar(from([archive]))) paths.push(e.path);
    expect(paths).toEqual(['a', 'b']);
  });
});

describe('tar reader formats', () => {
  it('reads GNU long names and long links', async () => {
    const name = `${'n'.repeat(150)}/file`;
    const link = `${'l'.repeat(150)}/target`;
    const archive = Buffer.concat([
      rawBlock({ name: '././@LongLink', type: 'L', size: name.length + 1 }),
      Buffer.from(`${name}\0`),
      padding(name.length + 1),
      rawBlock({ name: '././@LongLink', type: 'K', size: link.length + 1 }),
      Buffer.from(`${link}\0`),
      padding(link.length + 1),
      rawBlock({ name: 'short', type: '2' }),
      END,
    ]);
    const [entry] = await read(archive);
    expect(entry?.path).toBe(name);
    expect(entry?.linkname).toBe(link);
    expect(entry?.type).toBe('symlink');
  });

  it('applies global pax records to later entries, local ones to the next only', async () => {
    const global = paxRecord('uid', '7');
    const local = paxRecord('path', 'renamed');
    const archive = Buffer.concat([
      rawBlock({ name: 'g', type: 'g', size: global.length, magic: 'ustar\x0000' }),
      global,
      padding(global.length),
      rawBlock({ name: 'x', type: 'x', size: local.length, magic: 'ustar\x0000' }),
      local,
      padding(local.length),
      rawBlock({ name: 'one', type: '0' }),
      rawBlock({ name: 'two', type: '0' }),
      END,
    ]);
    const entries = await read(archive);
    expect(entries.map((e) => [e.path, e.uid])).toEqual([
      ['renamed', 7],
      ['two', 7],
    ]);
  });

  it('reads base-256 numbers, old-style directories and fractional pax mtimes', async () => {
    const block = rawBlock({ name: 'olddir/', type: '\0' });
    block[108] = 0x80; // base-256 uid
    block.fill(0, 109, 116);
    block[114] = 0x01;
    block[115] = 0x00;
    withChecksum(block);
    const mtime = paxRecord('mtime', '1700000000.5');
    const archive = Buffer.concat([
      block,
      rawBlock({ name: 'x', type: 'x', size: mtime.length, magic: 'ustar\x0000' }),
      mtime,
      padding(mtime.length),
      rawBlock({ name: 'f', type: '0' }),
      END,
    ]);
    const [dir, file] = await read(archive);
    expect(dir?.type).toBe('directory');
    expect(dir?.uid).toBe(256);
    expect(file?.mtime).toBe(1_700_000_000.5);
  });

  it('reads the octal fields and checksums older writers produce', async () => {
    const spaced = rawBlock({ name: 'spaced', type: '0' });
    spaced.write('000755 \0', 100, 'latin1'); // space-terminated, as old tars write them
    spaced.write('      \0\0', 108, 'latin1'); // blank: 0
    withChecksum(spaced);
    // A checksum that summed the bytes as signed chars (old SunOS and GNU writers).
    const signed = rawBlock({ name: 'caf\u00e9', type: '0' });
    signed.fill(0x20, 148, 156);
    let sum = 0;
    for (const b of signed) sum += b > 127 ? b - 256 : b;
    signed.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'latin1');
    const [a, b] = await read(Buffer.concat([spaced, signed, END]));
    expect([a?.mode, a?.uid]).toEqual([0o755, 0]);
    expect(b?.path).toBe('caf\u00e9');
  });

  it('joins the ustar prefix and name', async () => {
    const block = rawBlock({ name: 'name', type: '0', magic: 'ustar\x0000' });
    block.write('the/prefix', 345, 'utf8');
    const [entry] = await read(Buffer.concat([withChecksum(block), END]));
    expect(entry?.path).toBe('the/prefix/name');
  });

  it('accepts an archive that ends without the zero blocks', async () => {
    const entries = await read(rawBlock({ name: 'only', type: '0' }));
    expect(entries.map((e) => e.path)).toEqual(['only']);
  });

  it.each([
    ['garbage', () => Buffer.alloc(1024, 0x41), /^malformed tar: not a tar archive$/],
    ['a short text', () => Buffer.from('hello\n'), /^malformed tar: not a tar archive$/],
    [
      'a bad checksum',
      () =>
        Buffer.concat([rawBlock({ name: 'a', type: '0' }), rawBlock({ name: 'b', type: '0' }).fill(0x41, 0, 1), END]),
      /^malformed tar: header checksum mismatch$/,
    ],
    [
      'a truncated header',
      () => Buffer.concat([rawBlock({ name: 'a', type: '0' }), rawBlock({ name: 'b', type: '0' }).subarray(0, 300)]),
      /unexpected end/,
    ],
    ['a truncated body', () => rawBlock({ name: 'a', type: '0', size: 100 }), /unexpected end/],
    ['an unknown type', () => Buffer.concat([rawBlock({ name: 'a', type: 'V' }), END]), /unsupported entry type 'V'/],
    [
      'a number field with a non-octal digit',
      () => Buffer.concat([withChecksum(rawBlock({ name: 'a', type: '0' }).fill(0x38, 100, 101)), END]),
      /bad mode field "8000644"/,
    ],
    [
      'a sparse file',
      () => {
        const r = paxRecord('GNU.sparse.major', '1');
        const pax = rawBlock({ name: 'x', type: 'x', size: r.length });
        return Buffer.concat([pax, r, padding(r.length), rawBlock({ name: 's', type: '0' }), END]);
      },
      /sparse/,
    ],
    [
      'a non-UTF-8 name',
      () => Buffer.concat([withChecksum(rawBlock({ name: 'a', type: '0' }).fill(0xff, 1, 2)), END]),
      /UTF-8/,
    ],
  ])('refuses %s', async (_what, make, message) => {
    const err: unknown = await read(make()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TsdockError);
    expect((err as TsdockError).code).toBe('INVALID_IMAGE');
    expect((err as TsdockError).message).toMatch(message);
  });
});

describe('pax records', () => {
  it.each([
    ['path', 'x'],
    ['path', 'a'.repeat(95)],
    ['path', 'a'.repeat(1000)],
  ])('a %s record of %#: the length prefix counts itself', (key, value) => {
    const record = paxRecord(key, value);
    expect(Number(record.toString().split(' ')[0])).toBe(record.length);
    expect(parsePax(record).get(key)?.toString()).toBe(value);
  });

  it('refuses a record whose length runs past the data', () => {
    expect(() => parsePax(Buffer.from('99 path=x\n'))).toThrow(/length/);
  });
});

describe('ustar encoding', () => {
  it('uses a plain ustar header when everything fits', () => {
    expect(encodeHeader(tarEntry({ path: `${'p'.repeat(120)}/${'n'.repeat(90)}` })).length).toBe(BLOCK);
  });
  it.each([
    ['a name that cannot be split', tarEntry({ path: 'n'.repeat(101) })],
    ['a non-ASCII name', tarEntry({ path: 'é' })],
    ['an xattr', tarEntry({ xattrs: new Map([['user.a', Buffer.from('b')]]) })],
  ])('adds a pax header for %s', (_what, h) => {
    expect(encodeHeader(h).length).toBeGreaterThan(BLOCK);
  });
});

describe('entryComponents', () => {
  it.each([
    ['a/b/c', ['a', 'b', 'c']],
    ['./a/b/', ['a', 'b']],
    ['a//b/./c', ['a', 'b', 'c']],
    ['./', []],
    ['.', []],
    ['..a/b..', ['..a', 'b..']],
  ])('%j -> %j', (path, parts) => {
    expect(entryComponents(path)).toEqual(parts);
  });

  it.each([
    ['/etc/passwd', 'absolute'],
    ['../etc/passwd', '".."'],
    ['a/../../b', '".."'],
    ['a/..', '".."'],
    ['a\0b', 'NUL'],
  ])('refuses %j (%s)', (path, why) => {
    expect(() => entryComponents(path)).toThrow(why);
  });
});

describe('classifyLayerEntry', () => {
  it.each([
    [[], { kind: 'entry' }],
    [['etc', 'passwd'], { kind: 'entry' }],
    [['etc', '.wh.motd'], { kind: 'whiteout', target: ['etc', 'motd'] }],
    [['.wh.etc'], { kind: 'whiteout', target: ['etc'] }],
    [['a', 'b', '.wh..wh..opq'], { kind: 'opaque', dir: ['a', 'b'] }],
    [['.wh..wh..opq'], { kind: 'opaque', dir: [] }],
    [['.wh..wh.plnk'], { kind: 'ignored' }],
    [['.wh..wh.plnk', '123.456'], { kind: 'ignored' }],
    [['a', '.wh..wh.aufs'], { kind: 'ignored' }],
    [['.wh.dir', 'file'], { kind: 'entry' }],
    [['x.wh.y'], { kind: 'entry' }],
  ])('%j -> %j', (components, kind) => {
    expect(classifyLayerEntry(components)).toEqual(kind);
  });

  it.each([[['.wh.']], [['a', '.wh..']], [['.wh...']]])('refuses the whiteout %j that names nothing', (components) => {
    expect(() => classifyLayerEntry(components)).toThrow(/names nothing/);
  });
});
