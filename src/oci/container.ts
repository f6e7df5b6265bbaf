/**
 * A tsdock-runtime container as the verbs see it: its stored state, its observed status and its
 * cgroup. Signals go to the init only while it is the very process create started (pid + start
 * time), never to a reused pid.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TsdockError } from '../errors.js';
import { openContainerCgroup, type ContainerCgroup } from '../runtime/cgroups/index.js';
import { processStartTime } from '../runtime/proc-stat.js';
import { containerDir, readState, START_SOCKET, statusOf, type Status, type StoredState } from './state.js';

export interface Container {
  dir: string;
  state: StoredState;
  status: Status;
  cgroup: ContainerCgroup;
}

/** Whether any of the cgroup's directories is frozen (v2 `cgroup.freeze`, v1 `freezer.state`). */
function isFrozen(cgroup: ContainerCgroup): boolean {
  for (const dir of cgroup.dirs) {
    for (const [file, frozen] of [
      ['cgroup.freeze', '1'],
      ['freezer.state', 'FROZEN'],
    ] as const) {
      try {
        if (readFileSync(join(dir, file), 'utf8').trim() === frozen) return true;
      } catch {
        // Not this hierarchy's file.
      }
    }
  }
  return false;
}

export function initAlive(state: StoredState): boolean {
  return state.pid > 0 && processStartTime(state.pid) === state.startTime;
}

export async function loadContainer(root: string, id: string): Promise<Container> {
  const state = readState(root, id);
  const dir = containerDir(root, id);
  const cgroup = await openContainerCgroup({ name: state.cgroup.name, parent: state.cgroup.parent });
  const alive = initAlive(state);
  const status = statusOf({
    initAlive: alive,
    startSocket: existsSync(join(dir, START_SOCKET)),
    frozen: alive && isFrozen(cgroup),
  });
  return { dir, state, status, cgroup };
}

/** The pids in the container's cgroup (the first hierarchy that lists any: every task is in all). */
export function cgroupPids(cgroup: ContainerCgroup): number[] {
  for (const file of cgroup.procsFiles) {
    try {
      const pids = readFileSync(file, 'utf8').split('\n').filter(Boolean).map(Number);
      if (pids.length > 0) return pids;
    } catch {
      // A hierarchy without this cgroup any more.
    }
  }
  return [];
}

export function requireStatus(c: Container, allowed: readonly Status[], action: string): void {
  if (!allowed.includes(c.status)) {
    throw new TsdockError('CONFLICT', `cannot ${action} container "${c.state.id}": it is ${c.status}`);
  }
}
