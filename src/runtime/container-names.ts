/**
 * The names of a root's containers, indexed: `containers.names/<name>` is a symlink whose
 * target is the id of the container holding the name. A lookup is one readlink(2) and one
 * record read, however many containers there are; a name is taken by symlink(2), which creates
 * the entry or fails with EEXIST, never half of one.
 *
 * Entries change only under the containers lock (`withContainersLock`), so two creates of one
 * name cannot both win. An entry can outlive its container (a create or an rm killed midway):
 * one whose id has no record, or a record of another name, is stale and counts as free. The
 * record is written after the entry and removed before it, so a record always has its entry.
 */
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readlinkSync,
  renameSync,
  rmSync,
  symlinkSync,
  unlinkSync,
} from 'node:fs';
import { join } from 'node:path';
import { errnoCode, TsdockError } from '../errors.js';
import { readRecord } from './container-record.js';

function namesDirOf(containersRoot: string): string {
  return `${containersRoot}.names`;
}

/**
 * Builds the index from the records when the root has none yet (a store from before it): in a
 * temp dir renamed into place, so a reader sees no index or a whole one.
 */
function ensureIndex(containersRoot: string): string {
  const dir = namesDirOf(containersRoot);
  if (existsSync(dir)) return dir;
  const building = mkdtempSync(`${dir}.building-`);
  try {
    for (const id of containerIds(containersRoot)) {
      const name = readRecord(join(containersRoot, id))?.name;
      if (name !== undefined) symlinkSync(id, join(building, name));
    }
    renameSync(building, dir);
  } catch (err) {
    // Another process put its index in place first: it is as good as ours.
    if (errnoCode(err) !== 'ENOTEMPTY' && errnoCode(err) !== 'EEXIST') throw err;
  } finally {
    rmSync(building, { recursive: true, force: true });
  }
  return dir;
}

/** The ids in the store (directories that may still lack a record). */
export function containerIds(containersRoot: string): string[] {
  try {
    return readdirSync(containersRoot).filter((entry) => /^[0-9a-f]{64}$/.test(entry));
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return [];
    throw err;
  }
}

/** What the entry of `name` points at, stale or not (undefined: none). */
function entryOf(dir: string, name: string): string | undefined {
  try {
    return readlinkSync(join(dir, name));
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw err;
  }
}

/** The id of the container named `name`, or undefined when none is. */
export function idOfName(containersRoot: string, name: string): string | undefined {
  const dir = namesDirOf(containersRoot);
  // No index before the root's first create under it: the records are all there is.
  if (!existsSync(dir)) {
    return containerIds(containersRoot).find((id) => readRecord(join(containersRoot, id))?.name === name);
  }
  const id = entryOf(dir, name);
  if (id === undefined) return undefined;
  return readRecord(join(containersRoot, id))?.name === name ? id : undefined;
}

/**
 * Gives `name` to container `id`, replacing a stale entry. Call it holding the containers lock.
 *
 * @throws TsdockError `CONFLICT` (Docker's message) when a container holds the name.
 */
export function reserveName(containersRoot: string, name: string, id: string): void {
  const dir = ensureIndex(containersRoot);
  const entry = join(dir, name);
  for (;;) {
    try {
      symlinkSync(id, entry);
      return;
    } catch (err) {
      if (errnoCode(err) !== 'EEXIST') throw err;
    }
    const holder = idOfName(containersRoot, name);
    if (holder !== undefined) {
      throw new TsdockError(
        'CONFLICT',
        `Conflict. The container name "/${name}" is already in use by container "${holder}". ` +
          'You have to remove (or rename) that container to be able to reuse that name.',
      );
    }
    unlinkSync(entry);
  }
}

/** Frees `name` if container `id` holds it. Call it holding the containers lock. */
export function releaseName(containersRoot: string, name: string, id: string): void {
  const dir = namesDirOf(containersRoot);
  if (entryOf(dir, name) === id) unlinkSync(join(dir, name));
}
