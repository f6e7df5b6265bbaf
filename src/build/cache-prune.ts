/**
 * Pruning the build cache (`tsdock builder prune`, and the clean-up after `rmi`/`image prune`).
 *
 * An entry is *unreachable* when no build can hit it again: its layer is gone from the store,
 * its parent entry is gone or unreachable, its chain starts at an image the store no longer
 * has, or it predates parent links. The clean-up after an image removal drops just those.
 * `builder prune` drops, like BuildKit's default, the entries whose layer no image shares
 * (the cache's own data), with `all` every entry, and with `until` only those unused since;
 * entries left without their parent go too, then the store collects the layers nothing holds.
 *
 * Builds hold `builds.lock` shared from start to finish; `builder prune` holds it exclusively,
 * so it waits for in-flight builds and never takes a layer or entry one of them uses.
 */
import { join } from 'node:path';
import { statIfExists } from '../image/fs-util.js';
import { StoreLock } from '../image/lock.js';
import type { ImageStore } from '../image/store.js';
import { BuildCache, type CachedStep } from './build-cache.js';

export interface CachePruneOptions {
  /** Every entry, not only those whose layer no image shares. */
  all?: boolean;
  /** Only entries last used before this time (ms since the epoch). */
  usedBefore?: number;
}

export interface CachePruneResult {
  /** Keys of the removed entries. */
  removed: string[];
  /** Bytes of entries and of the blobs no image needed any more. */
  reclaimed: number;
}

/** The lock that keeps `builder prune` out of in-flight builds. */
export function buildsLock(root: string): StoreLock {
  return new StoreLock(join(root, 'builds.lock'), () => Promise.resolve());
}

/** What the store holds, as far as the cache's reachability goes. */
interface StoreView {
  imageIds: ReadonlySet<string>;
  /** diff_ids of every image's layers. */
  sharedDiffIds: ReadonlySet<string>;
  hasBlob(digest: string): Promise<boolean>;
}

async function storeView(store: ImageStore): Promise<StoreView> {
  const ids = new Set((await store.list()).map((row) => row.id));
  const diffIds = new Set<string>();
  for (const id of ids) for (const diffId of (await store.inspect(id)).layers) diffIds.add(diffId);
  const blobs = join(store.root, 'blobs');
  return {
    imageIds: ids,
    sharedDiffIds: diffIds,
    hasBlob: async (digest) => (await statIfExists(join(blobs, ...digest.split(':')))) !== undefined,
  };
}

type Entry = Awaited<ReturnType<BuildCache['entries']>>[number];

/**
 * The entries to remove: those `doomed` names, and every one that is (or then becomes)
 * unreachable. Decided parents first, memoised, so a long chain costs one pass.
 */
async function entriesToRemove(
  entries: Entry[],
  view: StoreView,
  doomed: (entry: Entry & { step: CachedStep }) => boolean,
): Promise<Entry[]> {
  const byKey = new Map(entries.map((e) => [e.key, e]));
  const kept = new Map<string, boolean>();
  const keep = async (entry: Entry): Promise<boolean> => {
    const known = kept.get(entry.key);
    if (known !== undefined) return known;
    kept.set(entry.key, false); // a cycle (a corrupt file) keeps nothing
    const { step } = entry;
    let result = step?.parent !== undefined && !doomed({ ...entry, step });
    if (result && step?.layer !== undefined) result = await view.hasBlob(step.layer.descriptor.digest);
    const parent = step?.parent ?? '';
    if (result && parent.startsWith('image ')) result = view.imageIds.has(parent.slice('image '.length));
    else if (result && !parent.startsWith('scratch ')) {
      const above = byKey.get(parent);
      result = above !== undefined && (await keep(above));
    }
    kept.set(entry.key, result);
    return result;
  };
  const out: Entry[] = [];
  for (const entry of entries) if (!(await keep(entry))) out.push(entry);
  return out;
}

async function removeEntries(cache: BuildCache, entries: Entry[]): Promise<number> {
  let bytes = 0;
  for (const entry of entries) {
    await cache.remove(entry.key);
    bytes += entry.size;
  }
  return bytes;
}

/**
 * `builder prune`: waits for in-flight builds, removes entries as `options` say (and those left
 * unreachable), then the layers and blobs no image holds.
 */
export async function pruneBuildCache(store: ImageStore, options: CachePruneOptions = {}): Promise<CachePruneResult> {
  return buildsLock(store.root).run('exclusive', async () => {
    const cache = new BuildCache(store.root);
    const view = await storeView(store);
    const old = (e: Entry): boolean => options.usedBefore === undefined || e.lastUsedMs < options.usedBefore;
    const doomed = (e: Entry & { step: CachedStep }): boolean => {
      if (!old(e)) return false;
      if (options.all === true) return true;
      return e.step.layer !== undefined && !view.sharedDiffIds.has(e.step.layer.diffId);
    };
    const removed = await entriesToRemove(await cache.entries(), view, doomed);
    const entryBytes = await removeEntries(cache, removed);
    return { removed: removed.map((e) => e.key), reclaimed: entryBytes + (await store.collect()) };
  });
}

/**
 * After an image removal: drops the entries no build can reach any more. Without the builds
 * lock (an `rmi` does not wait for builds): a build that rewrites an entry meanwhile may lose
 * it, which costs a later cache miss and nothing else.
 */
export async function dropUnreachableEntries(store: ImageStore): Promise<number> {
  const cache = new BuildCache(store.root);
  const entries = await cache.entries();
  if (entries.length === 0) return 0;
  const removed = await entriesToRemove(entries, await storeView(store), () => false);
  return removeEntries(cache, removed);
}
