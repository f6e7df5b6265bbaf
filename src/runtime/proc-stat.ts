/**
 * Process identity for reconciliation. A pid alone is not an identity: after a process dies its
 * pid is reused. The start time (field 22 of `/proc/<pid>/stat`, in clock ticks since boot)
 * together with the pid names one process for the life of the boot (proc(5)).
 */
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

/** A process as it was when tsdock saw it start. */
export interface ProcessIdentity {
  pid: number;
  /** `/proc/<pid>/stat` field 22, kept as a string: it is compared, never computed with. */
  startTime: string;
}

/**
 * The start time of `pid`, or undefined when no such process runs. A zombie does not run: it has
 * exited, and only waits for a parent (perhaps not ours) to reap it.
 */
export function processStartTime(pid: number): string | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) is in parentheses and may itself hold spaces and parentheses.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state), so field 22 is fields[19].
  if (fields[0] === 'Z' || fields[0] === 'X') return undefined;
  return fields[19];
}

/** The identity of a running `pid`, or undefined when it is already gone. */
export function identify(pid: number): ProcessIdentity | undefined {
  const startTime = processStartTime(pid);
  return startTime === undefined ? undefined : { pid, startTime };
}

/** Whether the very process `who` names still runs. */
export function isAlive(who: ProcessIdentity | undefined): boolean {
  return who !== undefined && processStartTime(who.pid) === who.startTime;
}

/**
 * Waits, at most about `limitMs`, until `who` no longer runs: a monitor goes on briefly after the
 * exit file it writes (closing its attach socket), and must be gone before its container's files
 * and cgroup are reused or removed.
 */
export async function untilGone(who: ProcessIdentity | undefined, limitMs = 2000): Promise<void> {
  for (let waited = 0; waited < limitMs && isAlive(who); waited += 10) await sleep(10);
}
