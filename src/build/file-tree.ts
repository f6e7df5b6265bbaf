/**
 * Read-only views of the trees a build reads files from: the build context (one directory) and
 * an image's root file system (a stack of unpacked layers in overlayfs form, read as overlayfs
 * would merge them: whiteouts delete, opaque directories hide what is below). Paths are
 * component lists, already inside the tree; every ancestor is checked to be a real directory
 * in each layer before anything below it is looked at, so a symlink in any layer is never
 * followed on the host. `resolveInTree` follows a tree's symlinks the way the kernel would with
 * the tree as `/` (RESOLVE_IN_ROOT): `..` stops at the root, absolute links restart from it.
 */
import { lstat, readdir, readlink } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { join } from 'node:path';
import { TsdockError } from '../errors.js';
import { native } from '../native.js';
import { OPAQUE_XATTR } from '../image/whiteout.js';

/** An entry of a tree: its metadata and the host path to read it from. */
export interface TreeEntry {
  stat: Stats;
  hostPath: string;
}

export interface FileTree {
  /** The entry at `components` without following a final symlink; undefined when absent. */
  lstat(components: readonly string[]): Promise<TreeEntry | undefined>;
  /** The names in the directory at `components` (which must be a directory), sorted. */
  readdir(components: readonly string[]): Promise<string[]>;
  /** What a link at `components` points to. */
  readlink(components: readonly string[]): Promise<string>;
}

async function lstatIfPresent(path: string): Promise<Stats | undefined> {
  try {
    return await lstat(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw err;
  }
}

const isWhiteout = (st: Stats): boolean => st.isCharacterDevice() && st.rdev === 0;

/** A stack of unpacked layers, bottom to top (one directory: the context, or a scratch tree). */
export class LayeredTree implements FileTree {
  constructor(private readonly layers: readonly string[]) {}

  /**
   * The layers (top first) in which every ancestor of `components` is a directory that shows
   * through, with the entry each holds at `components` (if any).
   */
  private async visible(components: readonly string[]): Promise<{ layer: string; stat: Stats }[]> {
    let live = [...this.layers].reverse();
    for (let depth = 1; depth <= components.length; depth++) {
      const rel = components.slice(0, depth).join('/');
      const found: { layer: string; stat: Stats }[] = [];
      for (const layer of live) {
        const st = await lstatIfPresent(join(layer, rel));
        if (st === undefined) continue;
        if (isWhiteout(st)) break;
        found.push({ layer, stat: st });
        if (!st.isDirectory()) break;
        if (native().lgetxattr(join(layer, rel), OPAQUE_XATTR)?.toString() === 'y') break;
      }
      // A non-directory on top hides the directories below it.
      const topIsDir = found[0]?.stat.isDirectory() === true;
      if (depth === components.length) return topIsDir ? found.filter((f) => f.stat.isDirectory()) : found.slice(0, 1);
      if (!topIsDir) return [];
      live = found.filter((f) => f.stat.isDirectory()).map((f) => f.layer);
    }
    return [];
  }

  async lstat(components: readonly string[]): Promise<TreeEntry | undefined> {
    if (components.length === 0) {
      const top = this.layers.at(-1);
      return top === undefined ? undefined : { stat: await lstat(top), hostPath: top };
    }
    const [top] = await this.visible(components);
    return top === undefined ? undefined : { stat: top.stat, hostPath: join(top.layer, components.join('/')) };
  }

  async readdir(components: readonly string[]): Promise<string[]> {
    const dirs =
      components.length === 0 ? [...this.layers].reverse() : (await this.visible(components)).map((f) => f.layer);
    const rel = components.join('/');
    const names = new Set<string>();
    const hidden = new Set<string>();
    for (const layer of dirs) {
      const dir = join(layer, rel);
      for (const name of await readdir(dir)) {
        if (hidden.has(name) || names.has(name)) continue;
        const st = await lstat(join(dir, name));
        if (isWhiteout(st)) hidden.add(name);
        else names.add(name);
      }
      if (components.length === 0) continue;
      if (native().lgetxattr(dir, OPAQUE_XATTR)?.toString() === 'y') break;
    }
    return [...names].sort();
  }

  async readlink(components: readonly string[]): Promise<string> {
    const entry = await this.lstat(components);
    if (entry === undefined) throw new TsdockError('INVALID_ARGUMENT', `/${components.join('/')}: no such file`);
    return readlink(entry.hostPath);
  }
}

/** The components of a path inside a tree (`..` cannot climb above the root). */
export function splitPath(path: string): string[] {
  const out: string[] = [];
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') out.pop();
    else out.push(part);
  }
  return out;
}

const MAX_LINKS = 40; // the kernel's limit (MAXSYMLINKS)

/**
 * Resolves `path` inside `tree` as the kernel would with the tree as its root: symlinks in the
 * path are followed within the tree, the last one only when `followLast`. Missing components
 * are kept as they are (a COPY destination need not exist yet).
 *
 * @throws TsdockError `INVALID_ARGUMENT` for a symlink loop.
 */
export async function resolveInTree(tree: FileTree, path: string, followLast: boolean): Promise<string[]> {
  let pending = splitPath(path);
  const done: string[] = [];
  let hops = 0;
  while (pending.length > 0) {
    const [name, ...rest] = pending as [string, ...string[]];
    if (name === '..') {
      done.pop();
      pending = rest;
      continue;
    }
    const candidate = [...done, name];
    const entry = await tree.lstat(candidate);
    const follow = rest.length > 0 || followLast;
    if (entry?.stat.isSymbolicLink() !== true || !follow) {
      done.push(name);
      pending = rest;
      continue;
    }
    if (++hops > MAX_LINKS) throw new TsdockError('INVALID_ARGUMENT', `/${path}: too many levels of symbolic links`);
    const target = await tree.readlink(candidate);
    if (target.startsWith('/')) done.length = 0;
    pending = [...target.split('/').filter((p) => p !== '' && p !== '.'), ...rest];
  }
  return done;
}
