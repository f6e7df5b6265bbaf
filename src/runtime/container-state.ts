/**
 * The state a container is really in, reconciled from its record, the monitor's exit file and
 * the processes that still exist. tsdock or the monitor may have been killed at any point, so
 * the record alone is not trusted: a "running" container whose monitor and init are both gone,
 * with no exit file, is dead. Processes are recognised by pid *and* start time.
 */
import type { ContainerRecord, ContainerStatus, ExitReason, ExitRecord } from './container-record.js';
import { isAlive, type ProcessIdentity } from './proc-stat.js';

export interface ObservedState {
  status: ContainerStatus;
  /** Host pid of the init while it runs, else 0. */
  pid: number;
  exitCode: number;
  oomKilled: boolean;
  startedAt?: string;
  finishedAt?: string;
  reason?: ExitReason;
  error?: string;
}

function exitReason(exit: ExitRecord, stopTimedOut: boolean): ExitReason {
  if (exit.oomKilled) return 'oom';
  if (stopTimedOut && exit.signal === 9) return 'stop-timeout';
  return exit.signal !== 0 ? 'signal' : 'exited';
}

/**
 * Pure: `exit` is the exit file (present only once the current run ended: a start removes it),
 * `alive` says whether a recorded process still exists.
 */
export function observeState(
  record: ContainerRecord,
  exit: ExitRecord | undefined,
  alive: (who: ProcessIdentity | undefined) => boolean = isAlive,
): ObservedState {
  const s = record.state;
  const base = { startedAt: s.startedAt, error: s.error };
  const ended = (status: ContainerStatus): ObservedState => ({
    ...base,
    status,
    pid: 0,
    exitCode: s.exitCode ?? 0,
    oomKilled: s.oomKilled ?? false,
    finishedAt: s.finishedAt,
    reason: s.reason,
  });
  if (s.status === 'created' || s.status === 'exited' || s.status === 'dead') return ended(s.status);
  if (exit !== undefined) {
    return {
      ...base,
      status: 'exited',
      pid: 0,
      exitCode: exit.exitCode,
      oomKilled: exit.oomKilled,
      finishedAt: exit.finishedAt,
      reason: exitReason(exit, s.stopTimedOut ?? false),
    };
  }
  const running = { ...base, status: s.status, exitCode: 0, oomKilled: false };
  // The init outlives a killed monitor (nothing ties it to its parent): it still runs.
  if (alive(s.init)) return { ...running, pid: s.init?.pid ?? 0 };
  // The monitor is between the init's exit and its exit file.
  if (alive(s.monitor)) return { ...running, pid: 0 };
  return {
    ...base,
    status: 'dead',
    pid: 0,
    exitCode: -1,
    oomKilled: false,
    reason: 'monitor-lost',
    error: 'the monitor ended without recording the exit',
  };
}
