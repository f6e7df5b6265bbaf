/**
 * The layer cache: one small JSON file per step key under `$ROOT/build-cache/`, written
 * atomically, so it survives the process and concurrent builds never see half an entry. A key
 * chains the key of the step before it (for the first step: the base image's ID), so a change
 * anywhere invalidates every later step. An entry records what the step produced: its history
 * time (so that an unchanged rebuild gives the same image ID) and its layer, if it made one.
 * An entry whose layer the store has since dropped (`rmi`) is a miss. Each entry names its
 * parent key, so `cache-prune.ts` can tell the entries no build can reach any more; a hit
 * touches the file, whose mtime is the entry's last use (`builder prune --filter until=`).
 */
import { mkdir, readdir, readFile, rm, stat, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { isDigest, sha256Digest, type Digest } from '../image/digest.js';
import { writeFileAtomic } from '../image/fs-util.js';
import type { Descriptor } from '../image/oci.js';

export interface CachedStep {
  /** The key of the step before (a base image's key, `image sha256:…`, for the first). */
  parent?: string;
  /** RFC 3339: the history entry's time. */
  created: string;
  /** The layer the step made; absent for metadata-only steps. */
  layer?: { descriptor: Descriptor; diffId: Digest };
}

/** A step's key: its parent's key and everything that decides its outcome. */
export function stepKey(parentKey: string, step: unknown): string {
  return sha256Digest(JSON.stringify([parentKey, step])).slice('sha256:'.length);
}

function parseEntry(text: string): CachedStep | undefined {
  const entry = JSON.parse(text) as Partial<CachedStep> | null;
  if (typeof entry?.created !== 'string') return undefined;
  if (entry.parent !== undefined && typeof entry.parent !== 'string') return undefined;
  if (entry.layer === undefined)
    return { created: entry.created, ...(entry.parent === undefined ? {} : { parent: entry.parent }) };
  const { descriptor, diffId } = entry.layer;
  if (!isDigest(diffId) || !isDigest(descriptor.digest) || typeof descriptor.size !== 'number') return undefined;
  return entry as CachedStep;
}

export class BuildCache {
  private readonly dir: string;

  constructor(root: string) {
    this.dir = join(root, 'build-cache');
  }

  /** The entry of `key`, marked used now. */
  async get(key: string): Promise<CachedStep | undefined> {
    const path = join(this.dir, `${key}.json`);
    const entry = await this.read(path);
    if (entry !== undefined) {
      const now = new Date();
      await utimes(path, now, now).catch((err: unknown) => {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err; // pruned meanwhile: still a hit
      });
    }
    return entry;
  }

  private async read(path: string): Promise<CachedStep | undefined> {
    try {
      return parseEntry(await readFile(path, 'utf8'));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' || err instanceof SyntaxError) return undefined;
      throw err;
    }
  }

  /** Every entry with its last use and size on disk; an unreadable entry comes as `step: undefined`. */
  async entries(): Promise<{ key: string; step: CachedStep | undefined; lastUsedMs: number; size: number }[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const out = [];
    for (const name of names) {
      if (!/^[0-9a-f]{64}\.json$/.test(name)) continue;
      const path = join(this.dir, name);
      const st = await stat(path).catch(() => undefined);
      if (st === undefined) continue;
      out.push({ key: name.slice(0, 64), step: await this.read(path), lastUsedMs: st.mtimeMs, size: st.size });
    }
    return out;
  }

  async remove(key: string): Promise<void> {
    await rm(join(this.dir, `${key}.json`), { force: true });
  }

  async put(key: string, step: CachedStep): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    await writeFileAtomic(join(this.dir, `${key}.json`), JSON.stringify(step));
  }
}
