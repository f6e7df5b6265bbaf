/**
 * The layer cache: one small JSON file per step key under `$ROOT/build-cache/`, written
 * atomically, so it survives the process and concurrent builds never see half an entry. A key
 * chains the key of the step before it (for the first step: the base image's ID), so a change
 * anywhere invalidates every later step. An entry records what the step produced: its history
 * time (so that an unchanged rebuild gives the same image ID) and its layer, if it made one.
 * An entry whose layer the store has since dropped (`rmi`) is a miss.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isDigest, sha256Digest, type Digest } from '../image/digest.js';
import { writeFileAtomic } from '../image/fs-util.js';
import type { Descriptor } from '../image/oci.js';

export interface CachedStep {
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
  if (entry.layer === undefined) return { created: entry.created };
  const { descriptor, diffId } = entry.layer;
  if (!isDigest(diffId) || !isDigest(descriptor.digest) || typeof descriptor.size !== 'number') return undefined;
  return entry as CachedStep;
}

export class BuildCache {
  private readonly dir: string;

  constructor(root: string) {
    this.dir = join(root, 'build-cache');
  }

  async get(key: string): Promise<CachedStep | undefined> {
    try {
      return parseEntry(await readFile(join(this.dir, `${key}.json`), 'utf8'));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' || err instanceof SyntaxError) return undefined;
      throw err;
    }
  }

  async put(key: string, step: CachedStep): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    await writeFileAtomic(join(this.dir, `${key}.json`), JSON.stringify(step));
  }
}
