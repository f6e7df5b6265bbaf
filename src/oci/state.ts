/**
 * A container of tsdock-runtime on disk: `<root>/<id>/` holds `state.json` (written atomically;
 * native/src/runtime/state.c reads it too)
 * and, from create until start, `start.sock`, the socket the waiting init accepts `start` on.
 * The status is derived, never stored: `stopped` once the init (pid + start time) is gone,
 * `created` while the start socket is there, `paused` while the cgroup is frozen, else `running`.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TsdockError } from '../errors.js';
import { writeFileAtomic } from '../runtime/record-file.js';
import type { CgroupPlace } from './cgroups-path.js';
import type { OciHooks } from './spec.js';

export type Status = 'created' | 'running' | 'paused' | 'stopped';

export interface StoredState {
  id: string;
  /** The bundle directory and the container's root, absolute. */
  bundle: string;
  rootfs: string;
  /** The init's pid (host view) and its start time (`/proc/<pid>/stat` field 22); 0 and '' while creating. */
  pid: number;
  startTime: string;
  /** RFC 3339. */
  created: string;
  annotations: Record<string, string>;
  cgroup: CgroupPlace;
  /**
   * The cgroup's files as create resolved them, so that the native front end
   * (native/src/runtime) acts on them without detecting the hierarchies again.
   */
  cgroupPaths: { procs: string[]; dirs: string[]; parents: string[] };
  /** The hooks of the later verbs, taken at create as runc keeps them: start's and delete's. */
  hooks: Pick<OciHooks, 'poststart' | 'poststop'>;
}

export const STATE_FILE = 'state.json';
export const SPEC_VERSION = '1.0.2';
export const START_SOCKET = 'start.sock';

/** Container ids as runc takes them: no path separators, nothing that climbs. */
export function checkId(id: string | undefined): string {
  if (id === undefined || id === '') throw new TsdockError('INVALID_ARGUMENT', 'container id cannot be empty');
  if (!/^[\w+.-]+$/.test(id) || id === '.' || id === '..') {
    throw new TsdockError(
      'INVALID_ARGUMENT',
      `invalid container id "${id}": use letters, digits, '_', '+', '.' or '-'`,
    );
  }
  return id;
}

export function containerDir(root: string, id: string): string {
  return join(root, checkId(id));
}

export function writeState(dir: string, state: StoredState): void {
  writeFileAtomic(join(dir, STATE_FILE), JSON.stringify(state) + '\n');
}

export function readState(root: string, id: string): StoredState {
  const dir = containerDir(root, id);
  let text: string;
  try {
    text = readFileSync(join(dir, STATE_FILE), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new TsdockError('CONTAINER_NOT_FOUND', `container "${id}" does not exist`);
    }
    throw new TsdockError('STORE', `cannot read ${join(dir, STATE_FILE)}: ${(err as Error).message}`, { cause: err });
  }
  return JSON.parse(text) as StoredState;
}

/** What the status is derived from. */
export interface Observed {
  initAlive: boolean;
  startSocket: boolean;
  frozen: boolean;
}

export function statusOf(o: Observed): Status {
  if (!o.initAlive) return 'stopped';
  if (o.startSocket) return 'created';
  return o.frozen ? 'paused' : 'running';
}

/** The runtime-spec state document (`state`, and hooks' stdin: `creating` during create). */
export function specState(s: StoredState, status: Status | 'creating'): Record<string, unknown> {
  return {
    ociVersion: SPEC_VERSION,
    id: s.id,
    status,
    pid: status === 'stopped' ? 0 : s.pid,
    bundle: s.bundle,
    rootfs: s.rootfs,
    created: s.created,
    owner: '',
    annotations: s.annotations,
  };
}
