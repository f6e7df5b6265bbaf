/**
 * A container's persisted record, `containers/<id>/config.json`: what it was created from and
 * the last state tsdock recorded. Written to a temp file, fsynced and renamed, so a reader (or a
 * tsdock killed mid-write) sees the old record or the new one, never half of one.
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { TsdockError } from '../errors.js';
import type { ContainerOptions } from './options.js';
import type { ProcessIdentity } from './proc-stat.js';
import type { UserNamespaceIds } from './userns.js';

/** Why a container's last run ended. */
export type ExitReason = 'exited' | 'signal' | 'oom' | 'stop-timeout' | 'monitor-lost';

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
  /** The image's STOPSIGNAL, when it has one. */
  stopSignal?: string;
  /** The pod's infra container (`options.pod`): it holds the pod's namespaces, `ps` hides it. */
  infra?: boolean;
  /** The host ids of its user namespace (`--userns private|auto`). */
  idMappings?: UserNamespaceIds;
  state: RecordedState;
}

/** What the monitor writes when the container's init exits (native/src/monitor/status.c). */
export interface ExitRecord {
  exitCode: number;
  signal: number;
  oomKilled: boolean;
  finishedAt: string;
}

export const RECORD_FILE = 'config.json';
export const EXIT_FILE = 'exit.json';

/** Writes `data` to `path` through a temp file in the same directory: all or nothing. */
export function writeFileAtomic(path: string, data: string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, data);
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    unlinkSync(tmp);
    throw err;
  }
  closeSync(fd);
  renameSync(tmp, path);
}

export function writeRecord(dir: string, record: ContainerRecord): void {
  writeFileAtomic(join(dir, RECORD_FILE), JSON.stringify(record, null, 2) + '\n');
}

/** The record in `dir`, or undefined when there is none (a container being created or removed). */
export function readRecord(dir: string): ContainerRecord | undefined {
  let text: string;
  try {
    text = readFileSync(join(dir, RECORD_FILE), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new TsdockError('STORE', `cannot read ${join(dir, RECORD_FILE)}: ${(err as Error).message}`, { cause: err });
  }
  try {
    return JSON.parse(text) as ContainerRecord;
  } catch (err) {
    throw new TsdockError('STORE', `${join(dir, RECORD_FILE)} is not valid JSON`, { cause: err });
  }
}

/** The monitor's exit record in `dir`, when the last run has ended and the monitor wrote it. */
export function readExitRecord(dir: string): ExitRecord | undefined {
  try {
    return JSON.parse(readFileSync(join(dir, EXIT_FILE), 'utf8')) as ExitRecord;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new TsdockError('STORE', `cannot read ${join(dir, EXIT_FILE)}: ${(err as Error).message}`, { cause: err });
  }
}

export function removeExitRecord(dir: string): void {
  try {
    unlinkSync(join(dir, EXIT_FILE));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}
