/**
 * A container's persisted record, `containers/<id>/config.json`: what it was created from and
 * the last state tsdock recorded. Written to a temp file, fsynced (unless it is a `--rm` one) and
 * renamed, so a reader (or a tsdock killed mid-write) sees the old record or the new one, never
 * half of one.
 */
import { unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { HEALTH_FILE, type Healthcheck, type HealthState } from './healthcheck.js';
import type { ContainerOptions } from './options.js';
import { readJsonFile, writeFileAtomic } from './record-file.js';
import type { ProcessIdentity } from './proc-stat.js';
import type { UserNamespaceIds } from './userns.js';
import type { RestartPolicy } from './restart-policy.js';

/** Why a container's last run ended. */
export type ExitReason = 'exited' | 'signal' | 'oom' | 'stop-timeout' | 'health-kill' | 'monitor-lost';

/** Docker's container states. */
export type ContainerStatus = 'created' | 'running' | 'paused' | 'restarting' | 'exited' | 'dead';

/** What tsdock last wrote about the container's process. */
export interface RecordedState {
  status: ContainerStatus;
  /** The monitor of the current (or last) run. */
  monitor?: ProcessIdentity;
  /** The container's init, host pid view. */
  init?: ProcessIdentity;
  startedAt?: string;
  finishedAt?: string;
  exitCode?: number;
  oomKilled?: boolean;
  reason?: ExitReason;
  /** `stop` gave up waiting and sent SIGKILL: the exit's reason is the stop timeout. */
  stopTimedOut?: boolean;
  /** Restarts by the restart policy during the last start. */
  restartCount?: number;
  /** Why the last start failed, or what went wrong with the monitor. */
  error?: string;
}

/** `--log-opt`: rotation of the json-file log (Docker's default: one file, unbounded). */
export interface LogConfig {
  /** Bytes; rotate before the file would grow past it. */
  maxSize?: number;
  /** Files kept in all, the current one included. */
  maxFile?: number;
}

export interface ContainerRecord {
  id: string;
  name: string;
  /** The image as the user named it. */
  image: string;
  /** The image's id (config digest). */
  imageId: string;
  created: string;
  /** The resolved argv (entrypoint + command). */
  args: string[];
  options: ContainerOptions;
  /** `--rm`: removed once it exits. */
  autoRemove: boolean;
  log: LogConfig;
  /** `--init`. */
  init?: boolean;
  /** `--stop-signal`, else the image's STOPSIGNAL, when either is given. */
  stopSignal?: string;
  /** `--stop-timeout`: seconds a stop waits before SIGKILL when it names none (default 10). */
  stopTimeout?: number;
  /** The pod's infra container (`options.pod`): it holds the pod's namespaces, `ps` hides it. */
  infra?: boolean;
  /** The host ids of its user namespace (`--userns private|auto`). */
  idMappings?: UserNamespaceIds;
  /** `--restart`; absent: `no`. */
  restartPolicy?: RestartPolicy;
  /** The health check the monitor runs: the image's and the options' merged. */
  healthcheck?: Healthcheck;
  state: RecordedState;
}

/** What the monitor writes when the container's init exits (native/src/monitor/status.c). */
export interface ExitRecord {
  exitCode: number;
  signal: number;
  oomKilled: boolean;
  /** Absent in exit files of monitors older than the restart policies. */
  reason?: ExitReason;
  restartCount?: number;
  finishedAt: string;
}

/** The monitor's live state: its current run, or the wait for a restart (restart.c). */
export interface RunRecord {
  /** The init's host pid; 0 while restarting. */
  pid: number;
  startTime: string;
  /** When this run began, or (restarting) when the last one ended. */
  since: string;
  restartCount: number;
  restarting: boolean;
  /** How the last run ended, while restarting. */
  exitCode: number;
}

export const RECORD_FILE = 'config.json';
export const EXIT_FILE = 'exit.json';
export const RUN_FILE = 'run.json';
/** Written before a user's stop or kill signal, so the restart policy leaves it stopped. */
export const STOP_REQUEST_FILE = 'stop-request';

export function writeRecord(dir: string, record: ContainerRecord): void {
  // A `--rm` container's record is not fsynced: after a machine crash it would only be removed.
  writeFileAtomic(join(dir, RECORD_FILE), JSON.stringify(record, null, 2) + '\n', { durable: !record.autoRemove });
}

/**
 * The record in `dir`, or undefined when there is none: a container being created or removed,
 * or a `--rm` one whose unsynced record a machine crash emptied.
 */
export function readRecord(dir: string): ContainerRecord | undefined {
  return readJsonFile<ContainerRecord>(join(dir, RECORD_FILE), { emptyIsNone: true });
}

/** The monitor's exit record in `dir`, when the last run has ended and the monitor wrote it. */
export function readExitRecord(dir: string): ExitRecord | undefined {
  return readJsonFile<ExitRecord>(join(dir, EXIT_FILE));
}

/**
 * The monitor's live state in `dir`, once it started the container. The monitor does not fsync
 * it (it names this boot's processes only), so a machine crash may leave it empty: that is none.
 */
export function readRunRecord(dir: string): RunRecord | undefined {
  return readJsonFile<RunRecord>(join(dir, RUN_FILE), { emptyIsNone: true });
}

/** The health check's state, once the monitor ran the container with one. */
export function readHealthRecord(dir: string): HealthState | undefined {
  return readJsonFile<HealthState>(join(dir, HEALTH_FILE));
}

/** What the last start's monitor left (exit, live state, stop request, health): a start begins anew. */
export function removeMonitorFiles(dir: string): void {
  for (const name of [EXIT_FILE, RUN_FILE, STOP_REQUEST_FILE, HEALTH_FILE]) {
    try {
      unlinkSync(join(dir, name));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
}

/** Tells the monitor the user stops the container: `stop`, or `stop-timeout` once SIGKILL follows. */
export function writeStopRequest(dir: string, kind: 'stop' | 'stop-timeout'): void {
  writeFileAtomic(join(dir, STOP_REQUEST_FILE), `${kind}\n`);
}
