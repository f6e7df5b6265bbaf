/**
 * A COPY or ADD as layer members: the planned items (see `copy-plan.ts`) in order, each parent
 * directory first with the metadata it already has in the image (so the layer changes nothing
 * but what was copied; a missing parent is made 0755), local archives extracted below their
 * destination, files linked among the sources kept linked. `contentHash` is the cache's view of
 * the same items: paths, types, modes, owners, link targets (hard ones too) and bytes, but not
 * times (Docker's rule: touching a file is no change).
 */
import { constants, createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { TsdockError } from '../errors.js';
import { decompress } from '../image/compression.js';
import { Digester, digestStream, sha256Digest } from '../image/digest.js';
import { entryComponents } from '../image/entry-path.js';
import type { TarHeader } from '../image/tar-header.js';
import { readTar } from '../image/tar-reader.js';
import type { TarWriterEntry } from '../image/tar-writer.js';
import { ARCHIVE_DECODERS } from './archive-decoders.js';
import type { CopyAttributes, CopyItem } from './copy-plan.js';
import type { FileTree } from './file-tree.js';

const header = (path: string, fields: Partial<TarHeader>): TarHeader => ({
  path,
  type: 'file',
  mode: 0o644,
  uid: 0,
  gid: 0,
  size: 0,
  mtime: 0,
  linkname: '',
  devmajor: 0,
  devminor: 0,
  xattrs: new Map(),
  ...fields,
});

/** Whether a local file is a tar archive: plain, or compressed with gzip, zstd, bzip2 or xz. */
export async function isTarArchive(hostPath: string): Promise<boolean> {
  try {
    const stream = await decompress(createReadStream(hostPath, { highWaterMark: 64 * 1024 }), ARCHIVE_DECODERS);
    const chunks: Buffer[] = [];
    let length = 0;
    for await (const chunk of stream) {
      chunks.push(chunk);
      length += chunk.length;
      if (length >= 512) break;
    }
    const head = Buffer.concat(chunks);
    return head.length >= 512 && head.subarray(257, 262).toString('latin1') === 'ustar';
  } catch (err) {
    // Corrupt data is no archive: copied as a file (Docker's rule).
    if (err instanceof TsdockError && err.code === 'INVALID_IMAGE') return false;
    throw err;
  }
}

async function* fileBody(hostPath: string): AsyncGenerator<Buffer> {
  // O_NOFOLLOW: the path was checked inside its tree; a swap for a link must not be followed.
  const handle = await open(hostPath, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    yield* handle.createReadStream({ autoClose: false }) as AsyncIterable<Buffer>;
  } finally {
    await handle.close();
  }
}

async function hostPathOf(tree: FileTree, components: string[]): Promise<string> {
  const entry = await tree.lstat(components);
  if (entry === undefined) throw new TsdockError('STORE', `/${components.join('/')}: vanished while copying`);
  return entry.hostPath;
}

/**
 * For each tree item that is one more link to a file this COPY already copies, the destination
 * of that first copy: as Docker does, files hardlinked among the sources stay linked in the layer.
 */
function hardlinkTargets(items: CopyItem[]): Map<CopyItem, string> {
  const firstDest = new Map<string, string>();
  const links = new Map<CopyItem, string>();
  for (const item of items) {
    const { source } = item;
    if (source.kind !== 'tree' || !source.stat.isFile() || source.stat.nlink < 2) continue;
    const inode = `${String(source.stat.dev)}:${String(source.stat.ino)}`;
    const dest = item.dest.join('/');
    const first = firstDest.get(inode);
    if (first === undefined) firstDest.set(inode, dest);
    else if (first !== dest) links.set(item, first);
  }
  return links;
}

/** The member of one tree item, with `--chown`/`--chmod` applied; `linkTo` makes it a hardlink. */
function treeEntry(
  item: CopyItem & { source: { kind: 'tree' } },
  attrs: CopyAttributes,
  hostPath: string,
  linkTo: string | undefined,
): TarWriterEntry {
  const { stat, linkname } = item.source;
  const path = item.dest.join('/');
  const mode = stat.isSymbolicLink() ? 0o777 : (attrs.mode ?? stat.mode & 0o7777);
  const base = header(path, { mode, uid: attrs.uid, gid: attrs.gid, mtime: Math.floor(stat.mtimeMs / 1000) });
  if (stat.isDirectory()) return { ...base, path: `${path}/`, type: 'directory' };
  if (stat.isSymbolicLink()) return { ...base, type: 'symlink', linkname: linkname ?? '' };
  if (linkTo !== undefined) return { ...base, type: 'hardlink', linkname: linkTo };
  if (stat.isFile()) return { ...base, size: stat.size, body: fileBody(hostPath) };
  throw new TsdockError('INVALID_ARGUMENT', `COPY /${item.source.components.join('/')}: not a file, directory or link`);
}

/**
 * Directory members for `dirs` (component lists), shallowest first: as the image has them, or
 * new (0755, owned by `--chown`'s ids) where it has none. A layer must carry every parent of
 * what it adds, or the unpacked layer would give that parent default metadata over the image's.
 */
export async function directoryEntries(
  dirs: string[][],
  rootfs: FileTree,
  attrs: CopyAttributes,
): Promise<TarWriterEntry[]> {
  const unique = new Map(dirs.map((d) => [d.join('/'), d]));
  const out: TarWriterEntry[] = [];
  for (const [path, components] of [...unique].sort((a, b) => a[1].length - b[1].length)) {
    const existing = await rootfs.lstat(components);
    if (existing?.stat.isDirectory() === true) {
      const { stat } = existing;
      out.push(
        header(`${path}/`, {
          type: 'directory',
          mode: stat.mode & 0o7777,
          uid: stat.uid,
          gid: stat.gid,
          mtime: Math.floor(stat.mtimeMs / 1000),
        }),
      );
    } else {
      out.push(header(`${path}/`, { type: 'directory', mode: 0o755, uid: attrs.uid, gid: attrs.gid }));
    }
  }
  return out;
}

/** Every ancestor of the items' destinations (for an archive: its directory too), not copied itself. */
function parentDirs(items: CopyItem[]): string[][] {
  const copied = new Set(items.map((i) => i.dest.join('/')));
  const parents: string[][] = [];
  for (const item of items) {
    const upTo = item.source.kind === 'archive' ? item.dest.length : item.dest.length - 1;
    for (let depth = 1; depth <= upTo; depth++) {
      const components = item.dest.slice(0, depth);
      if (!copied.has(components.join('/')) || item.source.kind === 'archive') parents.push(components);
    }
  }
  return parents;
}

/** The members of an archive, moved below `dest`. */
async function* archiveEntries(hostPath: string, dest: string[]): AsyncGenerator<TarWriterEntry> {
  for await (const entry of readTar(await decompress(createReadStream(hostPath), ARCHIVE_DECODERS))) {
    const components = entryComponents(entry.path);
    if (components.length === 0) continue;
    const path = [...dest, ...components].join('/');
    const linkname =
      entry.type === 'hardlink' ? [...dest, ...entryComponents(entry.linkname)].join('/') : entry.linkname;
    yield { ...entry, path: entry.type === 'directory' ? `${path}/` : path, linkname };
  }
}

/** The layer members of a COPY/ADD. */
export async function* copyEntries(
  items: CopyItem[],
  rootfs: FileTree,
  attrs: CopyAttributes,
): AsyncGenerator<TarWriterEntry> {
  yield* await directoryEntries(parentDirs(items), rootfs, attrs);
  const links = hardlinkTargets(items);
  for (const item of items) {
    const { source } = item;
    if (source.kind === 'archive') yield* archiveEntries(source.hostPath, item.dest);
    else if (source.kind === 'bytes') {
      const mode = attrs.mode ?? source.mode;
      yield {
        ...header(item.dest.join('/'), { mode, uid: attrs.uid, gid: attrs.gid, mtime: source.mtime }),
        size: source.data.length,
        body: Readable.from([source.data]),
      };
    } else {
      const linkTo = links.get(item);
      const hostPath =
        source.stat.isFile() && linkTo === undefined ? await hostPathOf(source.tree, source.components) : '';
      yield treeEntry({ ...item, source }, attrs, hostPath, linkTo);
    }
  }
}

/** The cache's digest of what a COPY/ADD would write. */
export async function contentHash(items: CopyItem[], attrs: CopyAttributes): Promise<string> {
  const digester = new Digester();
  const add = (record: unknown): void => {
    digester.update(Buffer.from(`${JSON.stringify(record)}\n`));
  };
  add(attrs);
  const links = hardlinkTargets(items);
  for (const item of items) {
    const { source } = item;
    const dest = item.dest.join('/');
    const linkTo = links.get(item);
    if (linkTo !== undefined) add([dest, 'hardlink', linkTo]);
    else if (source.kind === 'bytes') add([dest, 'bytes', source.mode, sha256Digest(source.data)]);
    else if (source.kind === 'archive') {
      add([dest, 'archive', (await digestStream(createReadStream(source.hostPath))).digest]);
    } else {
      const { stat } = source;
      const content = stat.isFile()
        ? (await digestStream(fileBody(await hostPathOf(source.tree, source.components)))).digest
        : '';
      add([dest, stat.mode, source.linkname ?? '', content]);
    }
  }
  return digester.digest();
}
