import { describe, expect, it } from 'vitest';
import type { ContainerRecord, ExitRecord, RecordedState } from '../../src/runtime/container-record.js';
import { observeState } from '../../src/runtime/container-state.js';
import type { ProcessIdentity } from '../../src/runtime/proc-stat.js';

const monitor: ProcessIdentity = { pid: 100, startTime: '5000' };
const init: ProcessIdentity = { pid: 101, startTime: '5001' };

function record(state: RecordedState): ContainerRecord {
  return {
    id: 'a'.repeat(64),
    name: 'web',
    image: 'busybox',
    imageId: 'sha256:x',
    created: '2026-01-01T00:00:00.000Z',
    args: ['sleep', '100'],
    options: {},
    autoRemove: false,
    log: {},
    state,
  };
}

const running: RecordedState = { status: 'running', monitor, init, startedAt: '2026-01-01T00:00:01.000Z' };
const exit = (e: Partial<ExitRecord> = {}): ExitRecord => ({
  exitCode: 0,
  signal: 0,
  oomKilled: false,
  finishedAt: '2026-01-01T00:00:02.000Z',
  ...e,
});
/** `alive` for a host where exactly these processes run (by pid *and* start time). */
const only =
  (...live: ProcessIdentity[]) =>
  (who: ProcessIdentity | undefined): boolean =>
    live.some((p) => p.pid === who?.pid && p.startTime === who.startTime);

describe('observeState', () => {
  it.each([
    ['init and monitor run', [monitor, init], 'running', 101],
    ['the monitor was killed, the init runs on', [init], 'running', 101],
    ['the init exited, the monitor is writing the exit file', [monitor], 'running', 0],
    ['both are gone without an exit file', [], 'dead', 0],
    [
      'the pids were reused by other processes',
      [
        { pid: 100, startTime: '9' },
        { pid: 101, startTime: '9' },
      ],
      'dead',
      0,
    ],
  ] as const)('%s', (_label, live, status, pid) => {
    const o = observeState(record(running), {}, only(...live));
    expect(o.status).toBe(status);
    expect(o.pid).toBe(pid);
    if (status === 'dead') expect(o.reason).toBe('monitor-lost');
  });

  it.each([
    [exit({ exitCode: 3 }), false, 3, 'exited'],
    [exit({ exitCode: 143, signal: 15 }), false, 143, 'signal'],
    [exit({ exitCode: 137, signal: 9, oomKilled: true }), false, 137, 'oom'],
    [exit({ exitCode: 137, signal: 9 }), true, 137, 'stop-timeout'],
    [exit({ exitCode: 0 }), true, 0, 'exited'],
  ] as const)('an exit file %j (stop timed out: %s) gives code %i, reason %s', (e, timedOut, code, reason) => {
    const o = observeState(record({ ...running, stopTimedOut: timedOut }), { exit: e }, only(monitor));
    expect(o).toMatchObject({ status: 'exited', exitCode: code, reason, pid: 0, finishedAt: e.finishedAt });
  });

  it('trusts a recorded end over processes that happen to run', () => {
    const ended = record({ ...running, status: 'exited', exitCode: 4, reason: 'exited' });
    expect(observeState(ended, {}, only(monitor, init))).toMatchObject({
      status: 'exited',
      exitCode: 4,
      pid: 0,
    });
  });

  it('keeps paused while the init runs', () => {
    expect(observeState(record({ ...running, status: 'paused' }), {}, only(init)).status).toBe('paused');
  });

  it('follows the init a restart made, and counts the restarts', () => {
    const next: ProcessIdentity = { pid: 202, startTime: '6000' };
    const run = {
      pid: 202,
      startTime: '6000',
      since: '2026-01-01T00:00:05.000Z',
      restartCount: 2,
      restarting: false,
      exitCode: 0,
    };
    expect(observeState(record(running), { run }, only(monitor, next))).toMatchObject({
      status: 'running',
      pid: 202,
      restartCount: 2,
      startedAt: run.since,
    });
  });

  it('is restarting while the monitor waits out the backoff, dead if the monitor is gone', () => {
    const run = {
      pid: 0,
      startTime: '',
      since: '2026-01-01T00:00:05.000Z',
      restartCount: 1,
      restarting: true,
      exitCode: 3,
    };
    expect(observeState(record(running), { run }, only(monitor))).toMatchObject({
      status: 'restarting',
      exitCode: 3,
      finishedAt: run.since,
      restartCount: 1,
    });
    expect(observeState(record(running), { run }, only()).status).toBe('dead');
  });

  it("takes the monitor's reason and restart count from the exit file", () => {
    const e = exit({ exitCode: 1, reason: 'exited', restartCount: 3 });
    expect(observeState(record(running), { exit: e }, only())).toMatchObject({ status: 'exited', restartCount: 3 });
  });
});
