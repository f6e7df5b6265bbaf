/**
 * Extracting an image archive (an OCI archive or a `docker save` tar) into a scratch directory so
 * that its files can be read by path. Only regular files and directories are written; symlinks
 * and hardlinks (`docker save` links duplicate layers) are only recorded and resolved on lookup,
 * inside the archive. With no link ever on disk, nothing can be written or read outside
 * `dest`, whatever the archive holds.
 */
import { createReadStream } from 'node:fs';
import { mkdir, open } from 'node:fs/promises';
import { join } from 'node:path';
import { TsdockError } from '../errors.js';
import { decompress } from './compression.js';
import { entryComponents } from './entry-path.js';
import { writeAll } from './fs-util.js';
import { readTar } from './tar-reader.js';

/** Symlinks resolved in a row before a lookup gives up (Linux's own limit, path_resolution(7)). */
const MAX_LINK_HOPS = 40;

/** An extracted archive: maps a member path to the extracted regular file. */
export interface ExtractedArchive {
  /** The file at `path` after following the archive's links, or `undefined` when there is none. */
  lookup(path: string): string | undefined;
}

interface Link {
  hard: boolean;
  target: string;
}

/**
 * Extracts `file` (tar, or gzip-compressed tar) into the empty directory `dest`; `content`, when
 * given, holds the archive's bytes instead (a stream: stdin), `file` then only names it.
 *
 * @throws TsdockError `INVALID_IMAGE` naming `file` for a malformed archive or conflicting members.
 */
export async function extractArchive(
  file: string,
  dest: string,
  content: AsyncIterable<Buffer> = createReadStream(file),
): Promise<ExtractedArchive> {
  const files = new Set<string>();
  const dirs = new Set<string>(['']);
  const links = new Map<string, Link>();
  const conflict = (path: string): TsdockError =>
    new TsdockError('INVALID_IMAGE', `${file}: archive member ${JSON.stringify(path)} conflicts with another`);

  const ensureDir = async (parts: string[]): Promise<void> => {
    for (let depth = 1; depth <= parts.length; depth++) {
      const rel = parts.slice(0, depth).join('/');
      if (dirs.has(rel)) continue;
      if (files.has(rel) || links.has(rel)) throw conflict(rel);
      await mkdir(join(dest, rel));
      dirs.add(rel);
    }
  };

  try {
    for await (const entry of readTar(await decompress(content))) {
      const parts = entryComponents(entry.path);
      const rel = parts.join('/');
      if (entry.type === 'directory') {
        await ensureDir(parts);
      } else if (entry.type === 'symlink' || entry.type === 'hardlink') {
        if (dirs.has(rel)) throw conflict(rel);
        links.set(rel, { hard: entry.type === 'hardlink', target: entry.linkname });
        files.delete(rel);
      } else if (entry.type === 'file') {
        if (dirs.has(rel)) throw conflict(rel);
        await ensureDir(parts.slice(0, -1));
        const handle = await open(join(dest, rel), 'w', 0o600);
        try {
          for await (const chunk of entry.body) await writeAll(handle, chunk);
        } finally {
          await handle.close();
        }
        files.add(rel);
        links.delete(rel);
      }
    }
  } catch (err) {
    if (err instanceof TsdockError && !err.message.startsWith(`${file}: `)) {
      throw new TsdockError(err.code, `${file}: ${err.message}`, { cause: err });
    }
    throw err;
  }

  return {
    lookup(path: string): string | undefined {
      const pending = path.split('/');
      const resolved: string[] = [];
      let hops = 0;
      while (pending.length > 0) {
        const part = pending.shift() ?? '';
        if (part === '' || part === '.') continue;
        if (part === '..') {
          if (resolved.pop() === undefined) return undefined;
          continue;
        }
        resolved.push(part);
        const link = links.get(resolved.join('/'));
        if (link === undefined) continue;
        if (++hops > MAX_LINK_HOPS) return undefined;
        resolved.pop();
        // A hardlink names a member from the archive's root; a symlink is relative to its
        // directory unless absolute, and an absolute one is taken as relative to the root.
        if (link.hard || link.target.startsWith('/')) resolved.length = 0;
        pending.unshift(...link.target.split('/'));
      }
      const rel = resolved.join('/');
      return files.has(rel) ? join(dest, rel) : undefined;
    },
  };
}
