/**
 * The state a container is really in, reconciled from its record, the monitor's exit file and
 * the processes that still exist. tsdock or the monitor may have been killed at any point, so
 * the record alone is not trusted: a "running" container whose monitor and init are both gone,
 * with no exit file, is dead. Processes are recognised by pid *and* start time.
 */
import type { ContainerRecord, ContainerStatus, ExitReason, ExitRecord, RunRecord } from './container-record.js';
import type { HealthState } from './healthcheck.js';
import { isAlive, type ProcessIdentity } from './proc-stat.js';

export interface ObservedState {
  status: ContainerStatus;
  /** Host pid of the init while it runs, else 0. */
  pid: number;
  /** The init while it runs (a restart makes a new one). */
  init?: ProcessIdentity;
  exitCode: number;
  oomKilled: boolean;
  startedAt?: string;
  finishedAt?: string;
  reason?: ExitReason;
  error?: string;
  /** Restarts by the restart policy since the last start. */
  restartCount: number;
  /** The health check's state (a container with one, once started), as of its last check. */
  health?: HealthState;
}

/** What the monitor of the last start wrote: its live state, and the exit once it is over. */
export interface MonitorFiles {
  exit?: ExitRecord;
  run?: RunRecord;
  health?: HealthState;
}

function exitReason(exit: ExitRecord, stopTimedOut: boolean): ExitReason {
  if (exit.oomKilled) return 'oom';
  if (stopTimedOut && exit.signal === 9) return 'stop-timeout';
  return exit.signal !== 0 ? 'signal' : 'exited';
}

/**
 * Pure: `files` are the monitor's (a start removes them; the exit file appears once the container
 * is over for good), `alive` says whether a recorded process still exists.
 */
export function observeState(
  record: ContainerRecord,
  files: MonitorFiles,
  alive: (who: ProcessIdentity | undefined) => boolean = isAlive,
): ObservedState {
  const s = record.state;
  const { exit, run } = files;
  const restartCount = exit?.restartCount ?? run?.restartCount ?? s.restartCount ?? 0;
  const startedAt = run !== undefined && !run.restarting ? run.since : s.startedAt;
  const base = {
    startedAt,
    error: s.error,
    restartCount,
    ...(files.health === undefined ? {} : { health: files.health }),
  };
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
      reason: exit.reason ?? exitReason(exit, s.stopTimedOut ?? false),
    };
  }
  if (run?.restarting === true && alive(s.monitor)) {
    return { ...base, status: 'restarting', pid: 0, exitCode: run.exitCode, oomKilled: false, finishedAt: run.since };
  }
  const running = { ...base, status: s.status, exitCode: 0, oomKilled: false };
  // The monitor's run file names the current init: a restart made a new one.
  const init = run !== undefined && run.pid > 0 ? { pid: run.pid, startTime: run.startTime } : s.init;
  // The init outlives a killed monitor (nothing ties it to its parent): it still runs.
  if (alive(init)) return { ...running, pid: init?.pid ?? 0, init };
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
