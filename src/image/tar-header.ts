/**
 * The tar header format (POSIX ustar + pax extended headers, plus the GNU long-name records that
 * `docker save` and GNU tar still write): decoding one 512-byte block, parsing and writing pax
 * records, encoding headers for the writer. Pure functions over Buffers; no I/O.
 *
 * Pax values are kept as raw bytes: an xattr such as `security.capability` is binary, and a
 * parser that decodes pax records as UTF-8 text (node-tar does) corrupts it.
 */
import { TsdockError } from '../errors.js';

export const BLOCK = 512;

/** The entry kinds a layer can hold. */
export type TarType = 'file' | 'hardlink' | 'symlink' | 'chardev' | 'blockdev' | 'directory' | 'fifo';

/** One archive member's metadata, after pax and GNU long-name records are applied. */
export interface TarHeader {
  /** As stored: relative, `/`-separated, maybe with `./` in front or `/` behind. */
  path: string;
  type: TarType;
  /** Permission bits with setuid, setgid and sticky (`& 0o7777`). */
  mode: number;
  uid: number;
  gid: number;
  /** Bytes of content; 0 for every type but `file`. */
  size: number;
  /** Seconds since the epoch, fractional when a pax record says so. */
  mtime: number;
  atime?: number;
  /** Target of a symlink, or the earlier member a hardlink names. */
  linkname: string;
  devmajor: number;
  devminor: number;
  /** Extended attributes from `SCHILY.xattr.<name>` pax records. */
  xattrs: Map<string, Buffer>;
}

/** A header block as stored, before meta records (pax, GNU long names) are applied. */
export interface RawHeader {
  kind: TarType | 'pax' | 'pax-global' | 'gnu-longname' | 'gnu-longlink';
  name: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  linkname: string;
  devmajor: number;
  devminor: number;
}

const TYPES: Record<string, RawHeader['kind']> = {
  '0': 'file',
  '\0': 'file',
  '7': 'file',
  '1': 'hardlink',
  '2': 'symlink',
  '3': 'chardev',
  '4': 'blockdev',
  '5': 'directory',
  '6': 'fifo',
  x: 'pax',
  g: 'pax-global',
  L: 'gnu-longname',
  K: 'gnu-longlink',
};

function malformed(reason: string): TsdockError {
  return new TsdockError('INVALID_IMAGE', `malformed tar: ${reason}`);
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Bytes up to the first NUL, as UTF-8; non-UTF-8 names are refused rather than mangled. */
export function decodeString(bytes: Buffer): string {
  let end = 0;
  let ascii = true;
  for (; end < bytes.length; end++) {
    const byte = bytes[end] ?? 0;
    if (byte === 0) break;
    if (byte > 0x7f) ascii = false;
  }
  if (ascii) return bytes.toString('latin1', 0, end); // the common case, without a decoder call
  try {
    return utf8.decode(bytes.subarray(0, end));
  } catch {
    throw malformed('a name is not valid UTF-8');
  }
}

/**
 * The common form of an octal field, digits up to a NUL or space or the field's end, read
 * without building a string; `undefined` for anything else (then the general parse decides).
 */
function plainOctal(block: Buffer, start: number, end: number): number | undefined {
  let value = 0;
  let i = start;
  for (; i < end; i++) {
    const byte = block[i] ?? 0;
    if (byte === 0 || byte === 0x20) break;
    if (byte < 0x30 || byte > 0x37) return undefined;
    value = value * 8 + byte - 0x30;
  }
  return i === start ? undefined : value;
}

/** A field's text up to its first NUL or space, trimmed. */
function fieldText(block: Buffer, start: number, end: number): string {
  return block
    .toString('latin1', start, end)
    .replace(/[\0 ].*$/s, '')
    .trim();
}

/** An octal field, or GNU base-256 when the high bit of the first byte is set. */
function decodeNumber(block: Buffer, start: number, end: number, name: string): number {
  const first = block[start] ?? 0;
  if (first & 0x80) {
    if (first === 0xff) throw malformed(`negative ${name}`);
    let value = first & 0x7f;
    for (let i = start + 1; i < end; i++) value = value * 256 + (block[i] ?? 0);
    if (!Number.isSafeInteger(value)) throw malformed(`${name} too large`);
    return value;
  }
  const plain = plainOctal(block, start, end);
  if (plain !== undefined) return plain;
  const text = fieldText(block, start, end);
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) throw malformed(`bad ${name} field ${JSON.stringify(text)}`);
  return parseInt(text, 8);
}

/** Whether a block holds only zeros (the end-of-archive marker). */
export function isZeroBlock(block: Buffer): boolean {
  for (let i = 0; i < block.length; i++) if (block[i] !== 0) return false;
  return true;
}

/** Whether a non-zero block is a tar header at all: its checksum field matches its bytes. */
export function hasValidChecksum(block: Buffer): boolean {
  let stored = plainOctal(block, 148, 156);
  if (stored === undefined) {
    const field = fieldText(block, 148, 156);
    if (!/^[0-7]+$/.test(field)) return false;
    stored = parseInt(field, 8);
  }
  // The sum counts the checksum field itself as spaces.
  let unsigned = 0;
  let high = 0;
  for (let i = 0; i < BLOCK; i++) {
    const byte = i >= 148 && i < 156 ? 0x20 : (block[i] ?? 0);
    unsigned += byte;
    if (byte > 127) high++;
  }
  // Some old writers summed signed chars; both sums are accepted, as GNU tar does.
  return stored === unsigned || stored === unsigned - 256 * high;
}

/** Decodes one header block; `undefined` for an all-zero block (the end-of-archive marker). */
export function decodeHeaderBlock(block: Buffer): RawHeader | undefined {
  if (isZeroBlock(block)) return undefined;
  if (!hasValidChecksum(block)) throw malformed('header checksum mismatch');
  const typeflag = String.fromCharCode(block[156] ?? 0);
  const kind = TYPES[typeflag];
  if (kind === undefined) throw malformed(`unsupported entry type '${typeflag}'`);
  const name = decodeString(block.subarray(0, 100));
  // POSIX ustar ("ustar\0") splits long names into prefix + name; GNU ("ustar  ") uses that
  // area for other fields.
  const posix = block.subarray(257, 263).toString('latin1') === 'ustar\0';
  const prefix = posix ? decodeString(block.subarray(345, 500)) : '';
  return {
    kind: kind === 'file' && typeflag === '\0' && name.endsWith('/') ? 'directory' : kind,
    name: prefix === '' ? name : `${prefix}/${name}`,
    mode: decodeNumber(block, 100, 108, 'mode') & 0o7777,
    uid: decodeNumber(block, 108, 116, 'uid'),
    gid: decodeNumber(block, 116, 124, 'gid'),
    size: decodeNumber(block, 124, 136, 'size'),
    mtime: decodeNumber(block, 136, 148, 'mtime'),
    linkname: decodeString(block.subarray(157, 257)),
    devmajor: decodeNumber(block, 329, 337, 'devmajor'),
    devminor: decodeNumber(block, 337, 345, 'devminor'),
  };
}

/** Parses pax records (`"<len> <key>=<value>\n"`); values stay bytes. */
export function parsePax(data: Buffer): Map<string, Buffer> {
  const records = new Map<string, Buffer>();
  let pos = 0;
  while (pos < data.length) {
    if (data[pos] === 0) break; // padding after the last record
    const space = data.indexOf(0x20, pos);
    const length = space === -1 ? NaN : Number(data.toString('latin1', pos, space));
    if (!Number.isSafeInteger(length) || length <= space - pos || pos + length > data.length) {
      throw malformed('bad pax record length');
    }
    const record = data.subarray(space + 1, pos + length);
    if (record.at(-1) !== 0x0a) throw malformed('pax record not newline-terminated');
    const equals = record.indexOf(0x3d);
    if (equals <= 0) throw malformed('pax record without key');
    records.set(decodeString(record.subarray(0, equals)), record.subarray(equals + 1, record.length - 1));
    pos += length;
  }
  return records;
}

function paxNumber(value: Buffer, key: string, fractional: boolean): number {
  const text = value.toString('latin1');
  if (!(fractional ? /^-?[0-9]+(\.[0-9]+)?$/ : /^[0-9]+$/).test(text)) throw malformed(`bad pax ${key}`);
  const n = Number(text);
  if (!Number.isFinite(n) || (!fractional && !Number.isSafeInteger(n))) throw malformed(`bad pax ${key}`);
  return n;
}

const XATTR_PREFIX = 'SCHILY.xattr.';

/**
 * Builds an entry's header from its raw block and the pax records in force (global first, then
 * the entry's own; an empty value deletes). GNU long names were already folded into `raw`.
 */
export function applyPax(raw: RawHeader & { kind: TarType }, pax: Map<string, Buffer>): TarHeader {
  const header: TarHeader = {
    path: raw.name,
    type: raw.kind,
    mode: raw.mode,
    uid: raw.uid,
    gid: raw.gid,
    size: raw.kind === 'file' ? raw.size : 0,
    mtime: raw.mtime,
    linkname: raw.linkname,
    devmajor: raw.devmajor,
    devminor: raw.devminor,
    xattrs: new Map(),
  };
  for (const [key, value] of pax) {
    if (value.length === 0) continue;
    if (key.startsWith(XATTR_PREFIX)) header.xattrs.set(key.slice(XATTR_PREFIX.length), value);
    else if (key.startsWith('GNU.sparse.')) throw malformed('sparse files are not supported');
    else if (key === 'path') header.path = decodeString(value);
    else if (key === 'linkpath') header.linkname = decodeString(value);
    else if (key === 'size' && raw.kind === 'file') header.size = paxNumber(value, key, false);
    else if (key === 'uid') header.uid = paxNumber(value, key, false);
    else if (key === 'gid') header.gid = paxNumber(value, key, false);
    else if (key === 'mtime') header.mtime = paxNumber(value, key, true);
    else if (key === 'atime') header.atime = paxNumber(value, key, true);
  }
  return header;
}

// ---- encoding (for the layer and archive writer) ----

const USTAR_NAME = 100;
const USTAR_PREFIX = 155;
const MAX_OCTAL_7 = 0o7777777;
const MAX_OCTAL_11 = 0o77777777777;

const TYPEFLAGS: Record<TarType, string> = {
  file: '0',
  hardlink: '1',
  symlink: '2',
  chardev: '3',
  blockdev: '4',
  directory: '5',
  fifo: '6',
};

function writeOctal(block: Buffer, offset: number, width: number, value: number): void {
  block.write(value.toString(8).padStart(width - 1, '0') + '\0', offset, width, 'latin1');
}

/** Splits a path into ustar (prefix, name), or `undefined` when it does not fit. */
function splitUstar(path: string): [string, string] | undefined {
  if (Buffer.byteLength(path) <= USTAR_NAME) return ['', path];
  for (let slash = path.indexOf('/'); slash !== -1; slash = path.indexOf('/', slash + 1)) {
    const prefix = path.slice(0, slash);
    const name = path.slice(slash + 1);
    if (Buffer.byteLength(prefix) <= USTAR_PREFIX && Buffer.byteLength(name) <= USTAR_NAME && name !== '') {
      return [prefix, name];
    }
  }
  return undefined;
}

/** One pax record; its length prefix counts its own digits. */
export function paxRecord(key: string, value: Buffer | string): Buffer {
  const body = Buffer.concat([Buffer.from(` ${key}=`), Buffer.from(value), Buffer.from('\n')]);
  let length = body.length + 1;
  while (String(length).length + body.length !== length) length = String(length).length + body.length;
  return Buffer.concat([Buffer.from(String(length)), body]);
}

function ustarBlock(fields: {
  name: string;
  prefix: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  typeflag: string;
  linkname: string;
  devmajor: number;
  devminor: number;
}): Buffer {
  const block = Buffer.alloc(BLOCK);
  block.write(fields.name, 0, USTAR_NAME, 'utf8');
  writeOctal(block, 100, 8, fields.mode);
  writeOctal(block, 108, 8, fields.uid);
  writeOctal(block, 116, 8, fields.gid);
  writeOctal(block, 124, 12, fields.size);
  writeOctal(block, 136, 12, fields.mtime);
  block.write(fields.typeflag, 156, 1, 'latin1');
  block.write(fields.linkname, 157, 100, 'utf8');
  block.write('ustar\x0000', 257, 8, 'latin1');
  writeOctal(block, 329, 8, fields.devmajor);
  writeOctal(block, 337, 8, fields.devminor);
  block.write(fields.prefix, 345, USTAR_PREFIX, 'utf8');
  let sum = 8 * 0x20;
  for (let i = 0; i < BLOCK; i++) if (i < 148 || i >= 156) sum += block[i] ?? 0;
  block.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'latin1');
  return block;
}

/** Zero bytes that round `size` up to a whole block. */
export function padding(size: number): Buffer {
  return Buffer.alloc((BLOCK - (size % BLOCK)) % BLOCK);
}

/**
 * Encodes a header as ustar, preceded by a pax header when something does not fit ustar (long
 * or non-ASCII names, ids or sizes beyond the octal fields, xattrs). Whole-second mtimes only:
 * the writer exists to make reproducible layers.
 */
export function encodeHeader(header: TarHeader): Buffer {
  const pax: Buffer[] = [];
  const ascii = (s: string): boolean => /^[\x20-\x7e]*$/.test(s);
  const split = ascii(header.path) ? splitUstar(header.path) : undefined;
  if (split === undefined) pax.push(paxRecord('path', header.path));
  const linkFits = ascii(header.linkname) && Buffer.byteLength(header.linkname) <= USTAR_NAME;
  if (!linkFits) pax.push(paxRecord('linkpath', header.linkname));
  if (header.uid > MAX_OCTAL_7) pax.push(paxRecord('uid', String(header.uid)));
  if (header.gid > MAX_OCTAL_7) pax.push(paxRecord('gid', String(header.gid)));
  if (header.size > MAX_OCTAL_11) pax.push(paxRecord('size', String(header.size)));
  for (const name of [...header.xattrs.keys()].sort()) {
    pax.push(paxRecord(XATTR_PREFIX + name, header.xattrs.get(name) ?? Buffer.alloc(0)));
  }
  const mtime = Math.min(Math.max(0, Math.floor(header.mtime)), MAX_OCTAL_11);
  const main = ustarBlock({
    name: split?.[1] ?? header.path.slice(0, USTAR_NAME),
    prefix: split?.[0] ?? '',
    mode: header.mode & 0o7777,
    uid: Math.min(header.uid, MAX_OCTAL_7),
    gid: Math.min(header.gid, MAX_OCTAL_7),
    size: Math.min(header.size, MAX_OCTAL_11),
    mtime,
    typeflag: TYPEFLAGS[header.type],
    linkname: linkFits ? header.linkname : '',
    devmajor: header.devmajor,
    devminor: header.devminor,
  });
  if (pax.length === 0) return main;
  const data = Buffer.concat(pax);
  const paxHeader = ustarBlock({
    name: 'PaxHeader',
    prefix: '',
    mode: 0o644,
    uid: 0,
    gid: 0,
    size: data.length,
    mtime,
    typeflag: 'x',
    linkname: '',
    devmajor: 0,
    devminor: 0,
  });
  return Buffer.concat([paxHeader, data, padding(data.length), main]);
}
