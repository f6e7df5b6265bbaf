/**
 * The containers of one tsdock root: listing, finding one by name, id or id prefix, and the lock
 * that serialises changes to the set (a name is unique only if two creates cannot interleave).
 */
import { mkdirSync, readdirSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { TsdockError } from '../errors.js';
import { native } from '../native.js';
import { readRecord, type ContainerRecord } from './container-record.js';

export interface StoredContainer {
  dir: string;
  record: ContainerRecord;
}

/** Every container with a record; directories still being created (no record yet) are skipped. */
export function listContainers(containersRoot: string): StoredContainer[] {
  let names: string[];
  try {
    names = readdirSync(containersRoot);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const found: StoredContainer[] = [];
  for (const name of names) {
    if (!/^[0-9a-f]{64}$/.test(name)) continue;
    const dir = join(containersRoot, name);
    const record = readRecord(dir);
    if (record !== undefined) found.push({ dir, record });
  }
  return found;
}

/**
 * Docker's lookup order: a full id, then an exact name, then a unique id prefix.
 *
 * @throws TsdockError `CONTAINER_NOT_FOUND` when nothing (or more than one id) matches.
 */
export function findContainer(containersRoot: string, ref: string): StoredContainer {
  const all = listContainers(containersRoot);
  const name = ref.startsWith('/') ? ref.slice(1) : ref;
  const exact = all.find((c) => c.record.id === ref) ?? all.find((c) => c.record.name === name);
  if (exact !== undefined) return exact;
  const prefixed = ref.length > 0 ? all.filter((c) => c.record.id.startsWith(ref)) : [];
  if (prefixed.length === 1 && prefixed[0] !== undefined) return prefixed[0];
  if (prefixed.length > 1) {
    throw new TsdockError('CONTAINER_NOT_FOUND', `multiple containers match the id prefix "${ref}"`);
  }
  throw new TsdockError('CONTAINER_NOT_FOUND', `no such container: ${ref}`);
}

/**
 * Runs `fn` holding the root's container lock (flock(2): released if this process dies). The
 * lock file sits beside the containers directory, which then holds containers only.
 */
export async function withContainersLock<T>(containersRoot: string, fn: () => T | Promise<T>): Promise<T> {
  mkdirSync(containersRoot, { recursive: true, mode: 0o711 });
  const file = await open(`${containersRoot}.lock`, 'a', 0o600);
  try {
    await native().flock(file.fd, 'exclusive');
    return await fn();
  } finally {
    await file.close();
  }
}
