/**
 * What a COPY or ADD writes, worked out before anything is written: every source (a glob in the
 * context, a path in another stage or image, a heredoc, a downloaded file, a local archive to
 * extract) becomes items with a destination inside the image, Docker's rules applied: a
 * directory source copies its contents; a destination ending in `/`, or one that is a
 * directory in the image, receives sources by their base names; several sources need a
 * directory destination. Nothing here writes: `copy-step.ts` turns the items into a layer.
 */
import type { Stats } from 'node:fs';
import { posix } from 'node:path';
import { TsdockError } from '../errors.js';
import type { FileTree } from './file-tree.js';
import { resolveInTree, splitPath } from './file-tree.js';
import { hasGlob, segmentPattern } from './glob.js';

/** Owner and mode rules of one COPY: `--chown` ids (default 0:0) and `--chmod` bits. */
export interface CopyAttributes {
  uid: number;
  gid: number;
  /** Replaces the permission bits of every copied file and directory. */
  mode?: number;
}

/** Where an item's bytes come from. */
export type ItemSource =
  | { kind: 'tree'; tree: FileTree; components: string[]; stat: Stats; linkname?: string }
  | { kind: 'bytes'; data: Buffer; mode: number; mtime: number }
  | { kind: 'archive'; hostPath: string };

export interface CopyItem {
  /** Destination inside the image (an archive: the directory it is extracted into). */
  dest: string[];
  source: ItemSource;
}

/** Which tree paths a source word names: a plain path, or a glob matched segment by segment. */
export async function matchSource(
  tree: FileTree,
  word: string,
  excluded: (components: readonly string[]) => boolean,
): Promise<string[][]> {
  const segments = splitPath(word);
  if (!segments.some(hasGlob)) {
    const resolved = await resolveInTree(tree, word, true);
    if ((await tree.lstat(resolved)) === undefined || excluded(resolved)) return [];
    return [resolved];
  }
  let found: string[][] = [[]];
  for (const segment of segments) {
    const next: string[][] = [];
    const pattern = hasGlob(segment) ? segmentPattern(segment) : undefined;
    for (const dir of found) {
      const entry = await tree.lstat(dir);
      if (entry?.stat.isDirectory() !== true) continue;
      for (const name of await tree.readdir(dir))
        if (pattern?.test(name) ?? name === segment) next.push([...dir, name]);
    }
    found = next;
  }
  return found.filter((c) => !excluded(c));
}

/**
 * The items one source path (as matched) contributes: a directory's contents below `dest`
 * (walked, excluded entries skipped), anything else at `dest`.
 */
export async function collectTree(
  tree: FileTree,
  from: string[],
  dest: string[],
  excluded: (components: readonly string[]) => boolean,
): Promise<CopyItem[]> {
  const entry = await tree.lstat(from);
  if (entry === undefined) return [];
  const item = async (components: string[], to: string[], stat: Stats): Promise<CopyItem> => ({
    dest: to,
    source: {
      kind: 'tree',
      tree,
      components,
      stat,
      ...(stat.isSymbolicLink() ? { linkname: await tree.readlink(components) } : {}),
    },
  });
  if (!entry.stat.isDirectory()) return [await item(from, dest, entry.stat)];
  const items: CopyItem[] = [];
  const walk = async (dir: string[], to: string[]): Promise<void> => {
    for (const name of await tree.readdir(dir)) {
      const components = [...dir, name];
      if (excluded(components)) continue;
      const child = await tree.lstat(components);
      if (child === undefined) continue;
      items.push(await item(components, [...to, name], child.stat));
      if (child.stat.isDirectory()) await walk(components, [...to, name]);
    }
  };
  await walk(from, dest);
  return items;
}

/**
 * The destination of a COPY inside the image, resolved through the image's own symlinks, and
 * whether sources go *into* it (by base name) rather than *to* it.
 *
 * @throws TsdockError `INVALID_ARGUMENT` when several sources meet a destination that is not a
 *   directory (Docker's "must be a directory and end with a /").
 */
export async function resolveDestination(
  rootfs: FileTree,
  rawDest: string,
  workdir: string | undefined,
  sourceCount: number,
  anySourceIsDir: boolean,
): Promise<{ dest: string[]; into: boolean }> {
  const absolute = posix.isAbsolute(rawDest) ? rawDest : posix.join(workdir ?? '/', rawDest);
  const endsWithSlash = rawDest.endsWith('/') || rawDest === '.' || rawDest.endsWith('/.');
  const dest = await resolveInTree(rootfs, absolute, true);
  const existingDir = (await rootfs.lstat(dest))?.stat.isDirectory() === true;
  if (sourceCount > 1 && !endsWithSlash && !existingDir) {
    throw new TsdockError(
      'INVALID_ARGUMENT',
      `when using COPY with more than one source file, the destination must be a directory and end with a /`,
    );
  }
  return { dest, into: endsWithSlash || existingDir || (anySourceIsDir && sourceCount > 1) };
}
