/**
 * Turning an overlayfs upper directory (what a RUN changed) into the members of an OCI layer:
 * the reverse of `image/whiteout.ts`. A 0:0 character device means "deleted below" and becomes
 * an empty `.wh.<name>` member; a directory marked `trusted.overlay.opaque=y` hides everything
 * below it and gets a `.wh..wh..opq` member after its own entry. Everything else is copied as
 * it is, with its owner, mode, mtime and xattrs (except overlayfs' own `trusted.overlay.*`
 * bookkeeping). The runtime mounts every overlay with `redirect_dir=nofollow,metacopy=off`, so each
 * changed file and renamed directory is whole in the upper directory; an entry that still
 * carries a redirect or metacopy mark (an upper dir from elsewhere) fails the step rather than
 * give a layer that silently lacks data.
 */
import type { Stats } from 'node:fs';
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { TsdockError } from '../errors.js';
import { native } from '../native.js';
import type { TarHeader } from '../image/tar-header.js';
import { nonDirectoryEntry, type TarWriterEntry } from '../image/tar-writer.js';
import { OPAQUE_XATTR } from '../image/whiteout.js';

const OVERLAY_XATTR_PREFIX = 'trusted.overlay.';

/** What one entry of an upper directory stands for in a layer. */
export type UpperEntryKind = 'whiteout' | 'opaque-dir' | 'plain';

/** Classifies an upper-dir entry from its stat and its opaque xattr (undefined when unset). */
export function upperEntryKind(
  st: Pick<Stats, 'isCharacterDevice' | 'isDirectory' | 'rdev'>,
  opaque: Buffer | undefined,
): UpperEntryKind {
  if (st.isCharacterDevice() && st.rdev === 0) return 'whiteout';
  if (st.isDirectory() && opaque?.toString() === 'y') return 'opaque-dir';
  return 'plain';
}

/** overlayfs marks for "the data is elsewhere": a layer cannot express them. */
const INCOMPLETE_MARKS = [`${OVERLAY_XATTR_PREFIX}redirect`, `${OVERLAY_XATTR_PREFIX}metacopy`];

/**
 * The xattrs a layer member should carry: all but overlayfs' own.
 *
 * @throws TsdockError `BUILD_FAILED` for an entry overlayfs left incomplete (redirect, metacopy).
 */
export function layerXattrs(path: string): Map<string, Buffer> {
  const xattrs = new Map<string, Buffer>();
  for (const name of native().llistxattr(path)) {
    if (INCOMPLETE_MARKS.includes(name)) {
      throw new TsdockError(
        'BUILD_FAILED',
        `${path}: overlayfs recorded a ${name.split('.').at(-1) ?? ''} instead of the data; mount with redirect_dir=nofollow,metacopy=off`,
      );
    }
    if (name.startsWith(OVERLAY_XATTR_PREFIX)) continue;
    const value = native().lgetxattr(path, name);
    if (value !== undefined) xattrs.set(name, value);
  }
  return xattrs;
}

function headerOf(path: string, st: Stats, xattrs: Map<string, Buffer>): TarHeader {
  return {
    path,
    type: 'file',
    mode: st.mode & 0o7777,
    uid: st.uid,
    gid: st.gid,
    size: 0,
    mtime: Math.floor(st.mtimeMs / 1000),
    linkname: '',
    devmajor: 0,
    devminor: 0,
    xattrs,
  };
}

/** Whether every entry of a directory is in `skip` (and there is at least one). */
async function onlySkipped(abs: string, path: string, skip: ReadonlySet<string>): Promise<boolean> {
  const names = await readdir(abs);
  return names.length > 0 && names.every((name) => skip.has(`${path}/${name}`));
}

/**
 * The layer members of `upper`, names sorted (the same change always gives the same layer),
 * directories before their contents, several links to one inode as one file plus hardlinks.
 * Paths in `skip` (relative, `etc/hosts`) are left out with everything below them: the mount
 * points the runtime made, which are no change of the command's.
 */
export async function* diffUpperDir(
  upper: string,
  skip: ReadonlySet<string> = new Set(),
): AsyncGenerator<TarWriterEntry> {
  const firstPathOfInode = new Map<string, string>();

  async function* walk(rel: string): AsyncGenerator<TarWriterEntry> {
    for (const name of (await readdir(rel === '' ? upper : join(upper, rel))).sort()) {
      const path = rel === '' ? name : `${rel}/${name}`;
      if (skip.has(path)) continue;
      const abs = join(upper, path);
      const st = await lstat(abs);
      const kind = upperEntryKind(st, st.isDirectory() ? native().lgetxattr(abs, OPAQUE_XATTR) : undefined);
      if (kind === 'whiteout') {
        const slash = path.lastIndexOf('/');
        const whiteout = `${path.slice(0, slash + 1)}.wh.${path.slice(slash + 1)}`;
        yield { ...headerOf(whiteout, st, new Map()), mode: 0o644 };
        continue;
      }
      const base = headerOf(path, st, layerXattrs(abs));
      if (st.isDirectory()) {
        // A directory the runtime only touched to make a mount point in it is no change.
        if (kind === 'plain' && (await onlySkipped(abs, path, skip))) continue;
        yield { ...base, path: `${path}/`, type: 'directory' };
        if (kind === 'opaque-dir') yield { ...headerOf(`${path}/.wh..wh..opq`, st, new Map()), mode: 0o644 };
        yield* walk(path);
      } else {
        // Sockets cannot be in a tar: left out, as Docker does.
        const entry = await nonDirectoryEntry(abs, st, base, firstPathOfInode);
        if (entry !== undefined) yield entry;
      }
    }
  }

  yield* walk('');
}
