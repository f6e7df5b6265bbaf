/**
 * Reads a file of an image before any container exists, straight from its unpacked layer
 * directories, with overlayfs semantics: the topmost layer wins, a whiteout (a 0:0 character
 * device) hides a path, an opaque directory hides everything below it in lower layers.
 */
import type { Stats } from 'node:fs';
import { lstat, readFile } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { native } from '../native.js';

const OPAQUE_XATTRS = ['trusted.overlay.opaque', 'user.overlay.opaque'];

async function lstatOrUndefined(path: string): Promise<Stats | undefined> {
  try {
    return await lstat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') {
      return undefined;
    }
    throw err;
  }
}

function isOpaque(dir: string): boolean {
  return OPAQUE_XATTRS.some((name) => native().lgetxattr(dir, name)?.toString() === 'y');
}

/** Unpacked layers never change (DESIGN: read-only once complete), so reads can be remembered. */
const cache = new Map<string, Buffer | undefined>();
const CACHE_ENTRIES = 128;

/**
 * The content of `path` (absolute, inside the image) as the merged rootfs would show it, or
 * `undefined` when the image has no such regular file. `layerDirs` run bottom to top.
 */
export async function readLayeredFile(layerDirs: readonly string[], path: string): Promise<Buffer | undefined> {
  const key = [...layerDirs, path].join('\0');
  if (cache.has(key)) return cache.get(key);
  const content = await readThroughLayers(layerDirs, path);
  if (cache.size >= CACHE_ENTRIES) cache.delete(cache.keys().next().value as string);
  cache.set(key, content);
  return content;
}

async function readThroughLayers(layerDirs: readonly string[], path: string): Promise<Buffer | undefined> {
  const found = await findLayered(layerDirs, path);
  return found?.stats.isFile() === true ? readFile(found.path) : undefined;
}

/**
 * The entry the merged rootfs shows at `path` (absolute, inside the image): where it is and its
 * lstat, or `undefined` when there is none (a parent that is no directory hides it too).
 */
export async function findLayered(
  layerDirs: readonly string[],
  path: string,
): Promise<{ path: string; stats: Stats } | undefined> {
  const parts = posix.normalize(path).split('/').filter(Boolean);
  for (const layer of [...layerDirs].reverse()) {
    let hiddenBelow = false;
    for (let depth = 1; depth <= parts.length; depth++) {
      const here = join(layer, ...parts.slice(0, depth));
      const stats = await lstatOrUndefined(here);
      if (stats === undefined) break;
      if (stats.isCharacterDevice() && stats.rdev === 0) return undefined;
      if (depth === parts.length) return { path: here, stats };
      if (!stats.isDirectory()) return undefined;
      if (isOpaque(here)) hiddenBelow = true;
    }
    if (hiddenBelow) return undefined;
  }
  return undefined;
}
