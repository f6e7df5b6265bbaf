/**
 * What can be done to an existing container: observe, signal, stop, wait, pause, remove. No
 * daemon holds containers, so every operation starts from the record and the processes that
 * exist now (see `container-state.ts`), and signals go straight to the container's init,
 * verified by its start time, so a recycled pid is never signalled.
 */
import { constants } from 'node:os';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { TsdockError } from '../errors.js';
import { openContainerCgroup } from './cgroups/index.js';
import { removeContainerDir, containerDirPaths } from './container-dir.js';
import { releaseUserNamespace } from './userns.js';
import { releaseNetwork } from './container-network.js';
import {
  readExitRecord,
  readHealthRecord,
  readRecord,
  readRunRecord,
  writeRecord,
  writeStopRequest,
  type ContainerRecord,
} from './container-record.js';
import { observeState, type ObservedState } from './container-state.js';
import { actorOf, recordEvent, type ContainerEventBody } from './events.js';
import { listContainers, releaseContainerName, withContainersLock, type StoredContainer } from './container-store.js';
import { isAlive, untilGone } from './proc-stat.js';
import { removeAnonymousVolumes } from './volume-store.js';

/** A container and the state it is really in. */
export interface ObservedContainer extends StoredContainer {
  observed: ObservedState;
}

export function observe(stored: StoredContainer): ObservedContainer {
  const files = {
    exit: readExitRecord(stored.dir),
    run: readRunRecord(stored.dir),
    health: stored.record.healthcheck === undefined ? undefined : readHealthRecord(stored.dir),
  };
  return { ...stored, observed: observeState(stored.record, files) };
}

/** Records an event about `container` in its root's events file. */
export function emit(container: StoredContainer, body: ContainerEventBody): void {
  recordEvent(dirname(container.dir), actorOf(container.record), body);
}

export function isActive(observed: ObservedState): boolean {
  return observed.status === 'running' || observed.status === 'paused' || observed.status === 'restarting';
}

/** `KILL`, `SIGKILL` or `9` -> the signal's number. */
export function parseSignal(spec: string): number {
  const upper = spec.toUpperCase();
  const name = upper.startsWith('SIG') ? upper : `SIG${upper}`;
  const byName = (constants.signals as Record<string, number | undefined>)[name];
  if (byName !== undefined) return byName;
  if (/^\d+$/.test(spec) && Number(spec) > 0 && Number(spec) < 65) return Number(spec);
  throw new TsdockError('INVALID_ARGUMENT', `invalid signal "${spec}"`);
}

/** Sends `signal` to the container's init, if that very process still runs. */
function signalInit(container: ObservedContainer, signal: number): boolean {
  const init = container.observed.init;
  if (init === undefined || !isAlive(init)) return false;
  try {
    process.kill(init.pid, signal);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw err;
  }
}

/** Wakes a monitor that waits to restart the container: it then gives up the restart. */
function signalMonitor(container: ObservedContainer): void {
  const monitor = container.record.state.monitor;
  if (container.observed.status !== 'restarting' || monitor === undefined || !isAlive(monitor)) return;
  try {
    process.kill(monitor.pid, 'SIGTERM');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

/**
 * Tells the monitor that the user ends this run, so no restart policy brings it back; as in
 * Docker, that is SIGKILL or the container's stop signal, not any signal.
 */
function requestStop(container: ObservedContainer): void {
  writeStopRequest(container.dir, 'stop');
  signalMonitor(container);
}

/**
 * `tsdock kill`: a signal to a running container's init. SIGKILL and the stop signal stop it as
 * the user asked (no restart), unless `proxied` from an attached client (`--sig-proxy`).
 */
export function killContainer(container: ObservedContainer, signal: number, proxied = false): void {
  if (!isActive(container.observed)) {
    throw new TsdockError('CONFLICT', `container ${container.record.name} is not running`);
  }
  const stopping = signal === constants.signals.SIGKILL || signal === stopSignalOf(container.record);
  if (stopping && !proxied) requestStop(container);
  // Before the signal: the die it may cause comes after it, as in Docker.
  emit(container, { action: 'kill', signal });
  if (!signalInit(container, signal) && container.observed.status !== 'restarting') {
    throw new TsdockError('CONFLICT', `container ${container.record.name} is not running`);
  }
}

function stopSignalOf(record: ContainerRecord): number {
  return parseSignal(record.stopSignal ?? 'SIGTERM');
}

/** Polls until the container is no longer active, or the deadline passes; returns what it saw. */
export async function waitInactive(stored: StoredContainer, deadline = Infinity): Promise<ObservedContainer> {
  let delay = 5;
  for (;;) {
    const record = readRecord(stored.dir);
    if (record === undefined) {
      throw new TsdockError('CONTAINER_NOT_FOUND', `container ${stored.record.name} was removed`);
    }
    const now = observe({ dir: stored.dir, record });
    if (!isActive(now.observed) || Date.now() >= deadline) return now;
    await sleep(Math.min(delay, Math.max(1, deadline - Date.now())));
    delay = Math.min(delay * 2, 100);
  }
}

/** Writes the observed end of a run into the record, so it survives the exit file's removal. */
export async function persistObserved(containersRoot: string, container: ObservedContainer): Promise<void> {
  const o = container.observed;
  if (isActive(o) || o.status === container.record.state.status) return;
  await withContainersLock(containersRoot, () => {
    const record = readRecord(container.dir);
    if (record === undefined) return;
    record.state = {
      ...record.state,
      status: o.status,
      exitCode: o.exitCode,
      oomKilled: o.oomKilled,
      finishedAt: o.finishedAt ?? new Date().toISOString(),
      reason: o.reason,
      error: o.error,
      restartCount: o.restartCount,
    };
    writeRecord(container.dir, record);
  });
}

async function updateRecord(dir: string, change: (record: ContainerRecord) => void): Promise<void> {
  const record = readRecord(dir);
  if (record === undefined) return;
  change(record);
  writeRecord(dir, record);
}

/** Seconds a stop waits for the exit before SIGKILL when neither it nor the container names any. */
export const DEFAULT_STOP_TIMEOUT = 10;

/**
 * `tsdock stop`: the container's stop signal (`--stop-signal`, the image's STOPSIGNAL, or
 * SIGTERM), up to `timeoutSeconds` (default its `--stop-timeout`, else 10) for the exit, then
 * SIGKILL to every process of the container (its cgroup). A paused container is thawed after
 * the signal, so it can act on it.
 */
export async function stopContainer(container: ObservedContainer, timeoutSeconds?: number): Promise<ObservedContainer> {
  if (!isActive(container.observed)) return container;
  const { record } = container;
  const timeout = timeoutSeconds ?? record.stopTimeout ?? DEFAULT_STOP_TIMEOUT;
  const cgroup = await openContainerCgroup({ name: record.id, parent: record.options.cgroupParent });
  const stopSignal = stopSignalOf(record);
  requestStop(container);
  emit(container, { action: 'kill', signal: stopSignal });
  signalInit(container, stopSignal);
  if (container.observed.status === 'paused') await cgroup.thaw();
  let now = await waitInactive(container, Date.now() + timeout * 1000);
  if (isActive(now.observed)) {
    await updateRecord(container.dir, (r) => {
      r.state.stopTimedOut = true;
    });
    writeStopRequest(container.dir, 'stop-timeout');
    emit(container, { action: 'kill', signal: constants.signals.SIGKILL });
    signalInit(now, constants.signals.SIGKILL);
    await cgroup.kill();
    now = await waitInactive(container);
  }
  emit(container, { action: 'stop' });
  return now;
}

/** `tsdock pause` / `unpause`: the cgroup freezer. */
export async function setPaused(container: ObservedContainer, paused: boolean): Promise<void> {
  const want = paused ? 'running' : 'paused';
  if (container.observed.status !== want) {
    throw new TsdockError(
      'CONFLICT',
      `container ${container.record.name} is ${container.observed.status}, not ${want}`,
    );
  }
  const { record } = container;
  const cgroup = await openContainerCgroup({ name: record.id, parent: record.options.cgroupParent });
  if (paused) await cgroup.freeze();
  else await cgroup.thaw();
  await updateRecord(container.dir, (r) => {
    r.state.status = paused ? 'paused' : 'running';
  });
  emit(container, { action: paused ? 'pause' : 'unpause' });
}

/**
 * `tsdock rm`: a running container only with `force` (SIGKILL first). Waits for the monitor to
 * finish, so nothing writes into the directory being removed, then removes what is left of the
 * cgroup and the directory; its anonymous volumes too with `volumes` (`rm -v`) or when it was
 * started with `--rm`, as Docker's.
 */
export async function removeContainer(
  containersRoot: string,
  container: ObservedContainer,
  force: boolean,
  volumes = false,
): Promise<void> {
  const { record } = container;
  if (isActive(container.observed)) {
    if (!force) {
      throw new TsdockError(
        'CONFLICT',
        `cannot remove container ${record.name}: it is ${container.observed.status} (stop it first, or use -f)`,
      );
    }
    const cgroup = await openContainerCgroup({ name: record.id, parent: record.options.cgroupParent });
    requestStop(container);
    signalInit(container, constants.signals.SIGKILL);
    await cgroup.thaw().catch(() => undefined);
    await cgroup.kill();
    await waitInactive(container);
  }
  await untilGone(record.state.monitor);
  await (await openContainerCgroup({ name: record.id, parent: record.options.cgroupParent })).destroy();
  await releaseNetwork(containersRoot, record);
  removeContainerDir(containerDirPaths(containersRoot, record.id));
  await releaseContainerName(containersRoot, record.name, record.id);
  await releaseUserNamespace(containersRoot, record.id);
  if (volumes || record.autoRemove) await removeAnonymousVolumes(containersRoot, record);
  emit(container, { action: 'destroy' });
}

/** Removes `--rm` containers whose run has ended (no daemon does it when they exit detached). */
export async function reapAutoRemoved(containersRoot: string): Promise<void> {
  for (const stored of listContainers(containersRoot)) {
    if (!stored.record.autoRemove) continue;
    const container = observe(stored);
    if (container.observed.status === 'exited' || container.observed.status === 'dead') {
      await removeContainer(containersRoot, container, false);
    }
  }
}
