/**
 * How the library starts tsdock-monitor (runtime/spawn.ts over the addon's posix_spawn), as root
 * on the real kernel: the monitor is this process's child in a session of its own; a detached one
 * that ends is reaped, not left a zombie; Node's own child_process children still hear their own
 * exits alongside; a monitor killed under its caller is reported as such.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Runtime } from '../../src/index.js';
import { busyboxRoot, type BusyboxRoot } from '../helpers/busybox.js';
import { removeAllContainers } from '../helpers/runtime-teardown.js';
import { removeCgroupParent, uniqueCgroupParent } from '../helpers/host.js';

let box: BusyboxRoot;
let runtime: Runtime;
const cgroupParent = uniqueCgroupParent('spawn');
const quiet = { stdin: 'ignore', output: 'ignore' } as const;

beforeAll(async () => {
  box = await busyboxRoot('spawn');
  runtime = await Runtime.open({ root: box.root });
});

afterAll(async () => {
  await removeAllContainers(runtime);
  await removeCgroupParent(cgroupParent);
  await box.remove();
});

interface Stat {
  state: string;
  ppid: number;
  session: number;
}

/** Fields of /proc/PID/stat (proc(5)); undefined once the pid is gone. */
function stat(pid: number): Stat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // After "pid (comm) ": state ppid pgrp session ...; comm may hold spaces and parentheses.
  const [state = '', ppid = '', , session = ''] = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state, ppid: Number(ppid), session: Number(session) };
}

/** This process's children that ended but were never waited for. */
function zombieChildren(): number[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map(Number)
    .filter((pid) => {
      const s = stat(pid);
      return s?.ppid === process.pid && s.state === 'Z';
    });
}

/** Polls `probe` until it holds, at most `tries` times (no timed assertion). */
async function eventually(probe: () => boolean, tries = 200): Promise<void> {
  for (let i = 0; i < tries && !probe(); i++) await sleep(50);
  expect(probe()).toBe(true);
}

/** A child_process child that exits with `code` once told to on its stdin. */
function waitingChild(code: number): { exit: Promise<unknown[]>; release(): void } {
  const child = spawn('/bin/sh', ['-c', `read line; exit ${code}`], { stdio: ['pipe', 'ignore', 'ignore'] });
  return { exit: once(child, 'exit'), release: () => child.stdin.end('go\n') };
}

describe('spawning tsdock-monitor', () => {
  it('reaps a detached monitor once it ends, beside a child_process child that hears its own exit', async () => {
    const bystander = waitingChild(7);
    const id = await runtime.runDetached('busybox', { command: ['sleep', '600'], network: 'none', cgroupParent });
    const [container] = (await runtime.list()).filter((c) => c.record.id === id);
    const monitor = container?.record.state.monitor?.pid ?? -1;
    // Our child, in a session of its own (as `detached: true` made it).
    expect(stat(monitor)).toMatchObject({ ppid: process.pid, session: monitor });

    await runtime.kill(id, 'KILL');
    await eventually(() => stat(monitor)?.ppid !== process.pid);
    expect(zombieChildren()).toEqual([]);

    bystander.release();
    expect(await bystander.exit).toEqual([7, null]);
  });

  it('gives an attached run and child_process children each their own exit status', async () => {
    const before = waitingChild(5);
    const after = waitingChild(6);
    before.release();
    const run = runtime.run('busybox', {
      command: ['sh', '-c', 'exit 3'],
      network: 'none',
      cgroupParent,
      stdio: quiet,
    });
    const [result, beforeExit] = await Promise.all([run, before.exit]);
    after.release();
    expect(result.exitCode).toBe(3);
    expect(beforeExit).toEqual([5, null]);
    expect(await after.exit).toEqual([6, null]);
    expect(zombieChildren()).toEqual([]);
  });

  it('rejects `exited` when the monitor is killed under its caller', async () => {
    const c = await runtime.start('busybox', {
      command: ['sleep', '600'],
      network: 'none',
      cgroupParent,
      stdio: quiet,
    });
    process.kill(c.monitor.pid, 'SIGKILL');
    await expect(c.monitor.exited).rejects.toThrow('tsdock-monitor ended unexpectedly (SIGKILL)');
    // The container's init outlived its monitor: afterAll kills it with the container.
    expect(zombieChildren()).toEqual([]);
  });
});
