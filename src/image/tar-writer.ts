/**
 * Writing tar streams: {@link writeTar} serialises entries, {@link packDirectory} walks a
 * directory into entries in a reproducible order. Used to build layers and OCI archives.
 */
import { createReadStream, type Stats } from 'node:fs';
import { lstat, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { TsdockError } from '../errors.js';
import { BLOCK, encodeHeader, padding, type TarHeader } from './tar-header.js';

/** An entry to write; a `file` carries exactly `size` bytes of body. */
export interface TarWriterEntry extends TarHeader {
  body?: AsyncIterable<Buffer>;
}

/**
 * Serialises entries to a tar stream, ending with the two zero blocks.
 *
 * @throws TsdockError `STORE` when a file's body is not exactly `size` bytes (it changed while
 *   being read).
 */
export async function* writeTar(entries: AsyncIterable<TarWriterEntry>): AsyncGenerator<Buffer> {
  for await (const entry of entries) {
    yield encodeHeader(entry);
    if (entry.type !== 'file') continue;
    let written = 0;
    for await (const chunk of entry.body ?? []) {
      written += chunk.length;
      if (written > entry.size) break;
      yield chunk;
    }
    if (written !== entry.size) {
      throw new TsdockError('STORE', `${entry.path}: size changed while archiving (${entry.size} -> ${written})`);
    }
    yield padding(entry.size);
  }
  yield Buffer.alloc(2 * BLOCK);
}

export interface PackOptions {
  /** Record this mtime (seconds) for every entry instead of the files' own. */
  mtime?: number;
  /** Record this owner for every entry instead of the files' own. */
  owner?: { uid: number; gid: number };
}

/** major(3)/minor(3) of a Linux dev_t. */
const major = (rdev: number): number => Number(((BigInt(rdev) >> 8n) & 0xfffn) | ((BigInt(rdev) >> 32n) & ~0xfffn));
const minor = (rdev: number): number => Number((BigInt(rdev) & 0xffn) | ((BigInt(rdev) >> 12n) & ~0xffn));

/**
 * The entry for the non-directory `st` (on disk at `abs`) under the header `base`: a file whose
 * inode was packed before under another path becomes a hardlink to that path (`firstPathOfInode`
 * remembers them); a socket, which a tar cannot hold, has none.
 */
export async function nonDirectoryEntry(
  abs: string,
  st: Stats,
  base: TarHeader,
  firstPathOfInode: Map<string, string>,
): Promise<TarWriterEntry | undefined> {
  if (st.isSymbolicLink()) return { ...base, type: 'symlink', linkname: await readlink(abs) };
  if (st.isFile()) {
    const inode = `${String(st.dev)}:${String(st.ino)}`;
    const first = st.nlink > 1 ? firstPathOfInode.get(inode) : undefined;
    if (first !== undefined) return { ...base, type: 'hardlink', linkname: first };
    if (st.nlink > 1) firstPathOfInode.set(inode, base.path);
    return { ...base, size: st.size, body: createReadStream(abs) };
  }
  if (st.isCharacterDevice() || st.isBlockDevice()) {
    const type = st.isCharacterDevice() ? 'chardev' : 'blockdev';
    return { ...base, type, devmajor: major(st.rdev), devminor: minor(st.rdev) };
  }
  if (st.isFIFO()) return { ...base, type: 'fifo' };
  return undefined;
}

/**
 * The entries of a directory tree, without the root itself: names sorted (so the same tree
 * always gives the same stream), directories with a trailing `/`, files with several links as
 * one file plus hardlinks to it. Sockets are left out (tar cannot hold them); xattrs are not
 * recorded.
 */
export async function* packDirectory(root: string, options: PackOptions = {}): AsyncGenerator<TarWriterEntry> {
  const firstPathOfInode = new Map<string, string>();

  async function* walk(rel: string): AsyncGenerator<TarWriterEntry> {
    const names = (await readdir(rel === '' ? root : join(root, rel))).sort();
    for (const name of names) {
      const path = rel === '' ? name : `${rel}/${name}`;
      const abs = join(root, path);
      const st = await lstat(abs);
      const base: TarHeader = {
        path,
        type: 'file',
        mode: st.mode & 0o7777,
        uid: options.owner?.uid ?? st.uid,
        gid: options.owner?.gid ?? st.gid,
        size: 0,
        mtime: options.mtime ?? Math.floor(st.mtimeMs / 1000),
        linkname: '',
        devmajor: 0,
        devminor: 0,
        xattrs: new Map(),
      };
      if (st.isDirectory()) {
        yield { ...base, path: `${path}/`, type: 'directory' };
        yield* walk(path);
      } else {
        const entry = await nonDirectoryEntry(abs, st, base, firstPathOfInode);
        if (entry !== undefined) yield entry;
      }
    }
  }

  yield* walk('');
}
