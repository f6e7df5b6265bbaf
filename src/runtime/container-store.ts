/**
 * The containers of one tsdock root: listing, finding one by name, id or id prefix, and the lock
 * that serialises changes to the set (a name is unique only if two creates cannot interleave).
 */
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { TsdockError } from '../errors.js';
import { native } from '../native.js';
import { containerIds, idOfName, releaseName } from './container-names.js';
import { readRecord, type ContainerRecord } from './container-record.js';

export interface StoredContainer {
  dir: string;
  record: ContainerRecord;
}

/** Every container with a record; directories still being created (no record yet) are skipped. */
export function listContainers(containersRoot: string): StoredContainer[] {
  return containerIds(containersRoot).flatMap((id) => stored(containersRoot, id) ?? []);
}

function stored(containersRoot: string, id: string): StoredContainer | undefined {
  const dir = join(containersRoot, id);
  const record = readRecord(dir);
  return record === undefined ? undefined : { dir, record };
}

/**
 * Docker's lookup order: a full id, then an exact name (the names index: no record but the one
 * found is read), then a unique id prefix.
 *
 * @throws TsdockError `CONTAINER_NOT_FOUND` when nothing (or more than one id) matches.
 */
export function findContainer(containersRoot: string, ref: string): StoredContainer {
  const byId = /^[0-9a-f]{64}$/.test(ref) ? stored(containersRoot, ref) : undefined;
  if (byId !== undefined) return byId;
  const named = idOfName(containersRoot, ref.startsWith('/') ? ref.slice(1) : ref);
  const byName = named === undefined ? undefined : stored(containersRoot, named);
  if (byName !== undefined) return byName;
  const prefixed = ref.length > 0 ? containerIds(containersRoot).filter((id) => id.startsWith(ref)) : [];
  const matches = prefixed.flatMap((id) => stored(containersRoot, id) ?? []);
  if (matches.length === 1 && matches[0] !== undefined) return matches[0];
  if (matches.length > 1) {
    throw new TsdockError('CONTAINER_NOT_FOUND', `multiple containers match the id prefix "${ref}"`);
  }
  throw new TsdockError('CONTAINER_NOT_FOUND', `no such container: ${ref}`);
}

/**
 * Runs `fn` holding the root's container lock (flock(2): released if this process dies). The
 * lock file sits beside the containers directory, which then holds containers only. Only the
 * flock, which may wait, goes through the thread pool: opening and closing a local file costs
 * less than a round trip there.
 */
export async function withContainersLock<T>(containersRoot: string, fn: () => T | Promise<T>): Promise<T> {
  mkdirSync(containersRoot, { recursive: true, mode: 0o711 });
  const fd = openSync(`${containersRoot}.lock`, 'a', 0o600);
  try {
    await native().flock(fd, 'exclusive');
    return await fn();
  } finally {
    closeSync(fd);
  }
}

/**
 * Frees the name of a removed container. After its record went: a removal killed in between
 * leaves a stale entry (taken for free), never a record without its entry.
 */
export function releaseContainerName(containersRoot: string, name: string, id: string): Promise<void> {
  return withContainersLock(containersRoot, () => {
    releaseName(containersRoot, name, id);
  });
}
