/**
 * Where a container's cgroup lives in one hierarchy, and creating it there.
 *
 * The parent rule, the same in every hierarchy (v1 and v2):
 * - `parent` defaults to {@link DEFAULT_PARENT}, `/tsdock`;
 * - an absolute parent is taken from the hierarchy's root: `/tsdock` is
 *   `/sys/fs/cgroup/memory/tsdock` on v1, `/sys/fs/cgroup/tsdock` on v2;
 * - a relative parent is taken from this process's own cgroup in that hierarchy, so `t-123` in a
 *   process whose memory cgroup is `/process_api/ab` is `/sys/fs/cgroup/memory/process_api/ab/t-123`.
 * The container's directory is `<parent>/<name>`.
 */
import { mkdirSync } from 'node:fs';
import { posix } from 'node:path';
import { TsdockError } from '../../errors.js';
import { errnoCode } from '../../errors.js';
import { isEnoent, reason, removeCgroupDir } from './cgroupfs.js';

export const DEFAULT_PARENT = '/tsdock';

/** A container's cgroup directory in one hierarchy, and the parents that lead to it. */
export interface Placement {
  /** The existing cgroup under which everything is created: the root, or this process's own. */
  base: string;
  /** Parent directories below `base`, shallowest first (empty for parent `/`). */
  parents: string[];
  /** The container's own directory. */
  dir: string;
}

/** Container ids and names: one path component that cannot climb (`..`) or hide (`.x`). */
export function checkName(name: string): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(name)) {
    throw new TsdockError(
      'INVALID_ARGUMENT',
      `invalid cgroup name "${name}": expected letters, digits, '_', '.' or '-', starting with a letter or digit`,
    );
  }
}

/** `a/b`, `/a/b`, `/`; no empty, `.` or `..` components. */
export function checkParent(parent: string): void {
  const components = parent.split('/').filter((c, i, all) => !(c === '' && (i === 0 || i === all.length - 1)));
  if (parent === '' || components.some((c) => c === '' || c === '.' || c === '..')) {
    throw new TsdockError(
      'INVALID_ARGUMENT',
      `invalid --cgroup-parent "${parent}": expected a cgroup path such as /tsdock or tests/run-1, without . or ..`,
    );
  }
}

/** Where `<parent>/<name>` lands in a hierarchy mounted at `mountPoint`, for a process at `ownPath`. */
export function place(mountPoint: string, ownPath: string, parent: string, name: string): Placement {
  // join() keeps a trailing slash (`join('/m', '/')` is `/m/`); the paths must compare equal.
  const base = posix.join(mountPoint, parent.startsWith('/') ? '' : ownPath).replace(/(.)\/$/, '$1');
  const parents: string[] = [];
  let dir = base;
  for (const component of parent.split('/').filter(Boolean)) {
    dir = posix.join(dir, component);
    parents.push(dir);
  }
  return { base, parents, dir: posix.join(dir, name) };
}

/** What a driver does while the directories are made. */
export interface CreateHooks {
  /** Before a directory is made in `dir` (v2: enable controllers in its `cgroup.subtree_control`). */
  beforeChild?(dir: string): Promise<void>;
  /** After `dir` was made or found in `parent` (v1 cpuset: copy cpus and mems down). */
  created?(dir: string, parent: string): Promise<void>;
}

function mkdirError(dir: string, err: unknown): TsdockError {
  if (errnoCode(err) === 'EEXIST') {
    return new TsdockError(
      'START_FAILED',
      `cgroup ${dir} already exists: a container with this name is running or left it behind`,
      { cause: err },
    );
  }
  return new TsdockError('START_FAILED', `cannot create cgroup ${dir}: ${reason(err)}`, { cause: err });
}

/** mkdir(2) of the container's directory: false when its parent is missing. */
function mkdirUnderExistingParent(dir: string): boolean {
  try {
    mkdirSync(dir);
    return true;
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return false;
    throw mkdirError(dir, err);
  }
}

/** mkdir(2) of a parent: one that exists is fine. */
function mkdirParent(dir: string): void {
  try {
    mkdirSync(dir);
  } catch (err) {
    if (errnoCode(err) !== 'EEXIST') throw mkdirError(dir, err);
  }
}

async function createOnce(placement: Placement, hooks: CreateHooks): Promise<void> {
  // Usually the parents exist (the default one stays): without a hook to run before a child is
  // made, the container's directory is made first, and the parents only when it cannot be.
  const made = hooks.beforeChild === undefined && mkdirUnderExistingParent(placement.dir);
  let above = placement.base;
  for (const dir of placement.parents) {
    await hooks.beforeChild?.(above);
    if (!made) mkdirParent(dir);
    await hooks.created?.(dir, above);
    above = dir;
  }
  await hooks.beforeChild?.(above);
  if (!made) {
    try {
      mkdirSync(placement.dir);
    } catch (err) {
      throw mkdirError(placement.dir, err);
    }
  }
  try {
    await hooks.created?.(placement.dir, above);
  } catch (err) {
    await removeCgroupDir(placement.dir);
    throw err;
  }
}

/**
 * Makes the parents (existing ones are fine) and the container's directory (an existing one is
 * an error). Another container's removal may rmdir an empty shared parent between our mkdir of
 * it and our use of it; that shows as ENOENT, and one more attempt recreates it.
 */
export async function createPlacement(placement: Placement, hooks: CreateHooks): Promise<void> {
  try {
    await createOnce(placement, hooks);
  } catch (err) {
    if (!isEnoent(err)) throw err;
    await createOnce(placement, hooks);
  }
}
