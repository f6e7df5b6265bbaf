/**
 * Health checks run by the container's monitor (no Node process stays): status transitions,
 * timeout, start period, the image's HEALTHCHECK, --health-on-failure, and what ps, inspect and
 * events show, as root on the real kernel. Nothing here is timed: every wait polls for a state.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import { Runtime, type HealthState, type TsdockEvent } from '../../src/index.js';
import { containerBed } from '../helpers/container-bed.js';
import { until } from '../helpers/until.js';

const bed = containerBed('hc');
const { cli, unique, records, parent } = bed;
let runtime: Runtime;

beforeAll(async () => {
  runtime = await Runtime.open({ root: bed.root });
});

/** Checks every 200 ms, so a test sees several within its deadline. */
const FAST = ['--health-interval', '200ms', '--health-start-interval', '200ms'];
/** A command that ends cleanly on SIGTERM (a bare pid 1 ignores it). */
const SERVE = ['sh', '-c', 'trap "exit 0" TERM; while :; do sleep 0.1; done'];

async function runDetached(name: string, flags: string[], args: string[] = SERVE, image = 'busybox'): Promise<string> {
  const r = await cli([
    'run',
    '-d',
    '--network',
    'none',
    '--name',
    name,
    '--cgroup-parent',
    parent,
    ...flags,
    image,
    ...args,
  ]);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return r.stdout.trim();
}

interface Inspected {
  RestartCount: number;
  State: { Status: string; ExitCode: number; ExitReason: string; Health?: HealthState };
  Config: { Healthcheck?: { Test: string[]; Interval: number; Timeout: number; Retries: number } };
}

async function inspect(name: string): Promise<Inspected> {
  const r = await cli(['inspect', name]);
  expect(r.code).toBe(0);
  return (JSON.parse(r.stdout) as Inspected[])[0] as Inspected;
}

const healthOf = async (name: string): Promise<HealthState | undefined> => (await inspect(name)).State.Health;

async function untilHealth(name: string, status: HealthState['Status']): Promise<HealthState> {
  await until(`${name} ${status}`, async () => (await healthOf(name))?.Status === status);
  return (await healthOf(name)) as HealthState;
}

async function psStatus(name: string): Promise<string> {
  const r = await cli(['ps', '-a', '--format', 'json']);
  const line = r.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { Names: string; Status: string })
    .find((c) => c.Names === name);
  return line?.Status ?? '';
}

async function eventsOf(id: string): Promise<TsdockEvent[]> {
  const out: TsdockEvent[] = [];
  for await (const e of runtime.events({ since: 0, until: Date.now(), filters: { container: [id] } })) out.push(e);
  return out;
}

describe('health checks', () => {
  it('become healthy, run inside the container with its env and cwd, and show in ps, inspect and events', async () => {
    const name = unique('ok');
    const id = await runDetached(
      name,
      [...FAST, '-e', 'FOO=bar', '-w', '/tmp', '--health-cmd', 'cat /marker && echo "$FOO" && pwd'],
      ['sh', '-c', 'echo inside > /marker; trap "exit 0" TERM; while :; do sleep 0.1; done'],
    );
    const health = await untilHealth(name, 'healthy');
    expect(health.FailingStreak).toBe(0);
    const last = health.Log[health.Log.length - 1];
    expect(last).toMatchObject({ ExitCode: 0, Output: 'inside\nbar\n/tmp\n' });
    expect(Date.parse(last?.End ?? '')).toBeGreaterThanOrEqual(Date.parse(last?.Start ?? ''));
    await until('5 results kept', async () => (await healthOf(name))?.Log.length === 5);
    await sleep(500);
    expect((await healthOf(name))?.Log).toHaveLength(5);
    expect((await inspect(name)).Config.Healthcheck).toEqual({
      Test: ['CMD-SHELL', 'cat /marker && echo "$FOO" && pwd'],
      Interval: 200e6,
      Timeout: 30e9,
      StartPeriod: 0,
      StartInterval: 200e6,
      Retries: 3,
    });
    expect(await psStatus(name)).toMatch(/^Up .* \(healthy\)$/);
    const table = await cli(['ps']);
    expect(table.stdout).toContain('(healthy)');

    const health_events = (await eventsOf(id)).filter((e) => e.action === 'health_status');
    expect(health_events).toEqual([expect.objectContaining({ action: 'health_status', status: 'healthy', name })]);
    const text = await cli(['events', '--since', '1h', '--until', '0s', '--filter', `container=${name}`]);
    expect(text.stdout).toMatch(/ container health_status: healthy [0-9a-f]{64} /);
    expect((await cli(['rm', '-f', name])).code).toBe(0);
  });

  it("run in a container's own user namespace, joined first", async () => {
    const name = unique('userns');
    await runDetached(name, [...FAST, '--userns', 'private', '--health-cmd', 'id -u; cat /proc/self/uid_map']);
    const last = (await untilHealth(name, 'healthy')).Log.at(-1);
    expect(last?.Output.split(/\s+/).filter(Boolean)).toEqual(['0', '0', '100000', '65536']);
    expect((await cli(['rm', '-f', name])).code).toBe(0);
  });

  it('show no health before the first start, and starting once started', async () => {
    const name = unique('created');
    const created = await cli([
      'create',
      '--network',
      'none',
      '--name',
      name,
      '--cgroup-parent',
      parent,
      '--health-cmd',
      'true',
      '--health-interval',
      '1h',
      'busybox',
      ...SERVE,
    ]);
    expect(created).toMatchObject({ code: 0, stderr: '' });
    const before = await inspect(name);
    expect(before.State.Health).toBeUndefined();
    expect(before.Config.Healthcheck?.Test).toEqual(['CMD-SHELL', 'true']);
    expect((await cli(['start', name])).code).toBe(0);
    expect((await inspect(name)).State.Health).toEqual({ Status: 'starting', FailingStreak: 0, Log: [] });
    expect((await cli(['rm', '-f', name])).code).toBe(0);
  });

  it('show (health: starting) until the first check', async () => {
    const name = unique('starting');
    await runDetached(name, ['--health-cmd', 'true', '--health-interval', '1h']);
    expect(await psStatus(name)).toMatch(/^Up .* \(health: starting\)$/);
    expect(await healthOf(name)).toEqual({ Status: 'starting', FailingStreak: 0, Log: [] });
    expect((await cli(['rm', '-f', name])).code).toBe(0);
  });

  it('become unhealthy after --health-retries failures in a row, and healthy again', async () => {
    const name = unique('bad');
    const id = await runDetached(name, [
      ...FAST,
      '--health-retries',
      '3',
      '--health-cmd',
      'echo nope >&2; test -e /ok',
    ]);
    const health = await untilHealth(name, 'unhealthy');
    expect(health.FailingStreak).toBeGreaterThanOrEqual(3);
    expect(health.Log.slice(-3).map((r) => [r.ExitCode, r.Output])).toEqual(Array(3).fill([1, 'nope\n']));
    expect(await psStatus(name)).toMatch(/^Up .* \(unhealthy\)$/);
    expect((await cli(['exec', name, 'touch', '/ok'])).code).toBe(0);
    expect((await untilHealth(name, 'healthy')).FailingStreak).toBe(0);
    const statuses = (await eventsOf(id)).flatMap((e) => (e.action === 'health_status' ? [e.status] : []));
    expect(statuses).toEqual(['unhealthy', 'healthy']);
    expect((await cli(['rm', '-f', name])).code).toBe(0);
  });

  it('kill a check past --health-timeout and count it as a failure', async () => {
    const name = unique('timeout');
    await runDetached(name, [
      ...FAST,
      '--health-timeout',
      '300ms',
      '--health-retries',
      '1',
      '--health-cmd',
      'sleep 60',
    ]);
    const health = await untilHealth(name, 'unhealthy');
    expect(health.Log[0]).toMatchObject({ ExitCode: -1, Output: 'Health check exceeded timeout (300ms)' });
    await until('3 timed-out checks', async () => ((await healthOf(name))?.Log.length ?? 0) >= 3);
    // Each check was killed: at most the one under way is left.
    const top = await cli(['exec', name, 'ps', '-o', 'args']);
    expect(top.stdout.split('\n').filter((line) => line.includes('sleep 60')).length).toBeLessThanOrEqual(1);
    expect((await cli(['rm', '-f', name])).code).toBe(0);
  });

  it("kill a timed-out check's whole process group, and record what it said before the timeout", async () => {
    const name = unique('tree');
    const said = 'Health check exceeded timeout (1s): begun\n';
    await runDetached(name, [...FAST, '--health-timeout', '1s', '--health-cmd', 'echo begun; sleep 61 & sleep 62']);
    await until(
      'a timeout after the output',
      async () => (await healthOf(name))?.Log.some((r) => r.Output === said) === true,
    );
    await until('3 timed-out checks', async () => ((await healthOf(name))?.Log.length ?? 0) >= 3);
    expect((await healthOf(name))?.Log.every((r) => r.ExitCode === -1)).toBe(true);
    // The background sleep of every check went with it: at most the one under way is left.
    const top = await cli(['exec', name, 'ps', '-o', 'args']);
    for (const sleeper of ['sleep 61', 'sleep 62']) {
      expect(top.stdout.split('\n').filter((line) => line.includes(sleeper)).length).toBeLessThanOrEqual(1);
    }
    expect((await cli(['rm', '-f', name])).code).toBe(0);
  });

  it('do not count failures in the start period until the first success', async () => {
    const name = unique('period');
    await runDetached(name, [
      ...FAST,
      '--health-start-period',
      '1h',
      '--health-retries',
      '1',
      '--health-cmd',
      'test -e /ready',
    ]);
    await until('3 failed checks', async () => ((await healthOf(name))?.Log.length ?? 0) >= 3);
    expect(await healthOf(name)).toMatchObject({ Status: 'starting', FailingStreak: 0 });
    expect((await cli(['exec', name, 'touch', '/ready'])).code).toBe(0);
    await untilHealth(name, 'healthy');
    // Past the first success, the start period is over: one failure is unhealthy.
    expect((await cli(['exec', name, 'rm', '/ready'])).code).toBe(0);
    expect((await untilHealth(name, 'unhealthy')).FailingStreak).toBeGreaterThanOrEqual(1);
    expect((await cli(['rm', '-f', name])).code).toBe(0);
  });
});

describe('ps --filter health=', () => {
  it('lists the containers whose check is in that state', async () => {
    const good = await runDetached(unique('f-good'), [...FAST, '--health-cmd', 'true']);
    const bad = await runDetached(unique('f-bad'), [...FAST, '--health-retries', '1', '--health-cmd', 'false']);
    const plain = await runDetached(unique('f-none'), []);
    await until('both checked', async () => {
      const [g, b] = await Promise.all([healthOf(good), healthOf(bad)]);
      return g?.Status === 'healthy' && b?.Status === 'unhealthy';
    });
    const ids = async (...filters: string[]): Promise<string[]> => {
      const r = await cli(['ps', '-q', ...filters.flatMap((f) => ['--filter', f])]);
      expect(r.code).toBe(0);
      const shown = r.stdout.split('\n').filter(Boolean);
      return [good, bad, plain].filter((id) => shown.includes(id.slice(0, 12)));
    };
    expect(await ids('health=healthy')).toEqual([good]);
    expect(await ids('health=unhealthy', 'health=healthy')).toEqual([good, bad]);
    expect(await ids('health=none')).toEqual([plain]);
    expect(await ids('health=starting')).toEqual([]);
    const wrong = await cli(['ps', '--filter', 'health=sick']);
    expect(wrong.code).toBe(125);
    expect(wrong.stderr).toContain('invalid --filter "health=sick"');
    expect((await cli(['rm', '-f', good, bad, plain])).code).toBe(0);
  });
});

describe('a paused container', () => {
  it('is not checked until it is unpaused', async () => {
    const name = unique('paused');
    const id = await runDetached(name, [
      ...FAST,
      '--health-timeout',
      '300ms',
      '--health-retries',
      '1',
      '--health-cmd',
      'true',
    ]);
    await untilHealth(name, 'healthy');
    expect((await cli(['pause', name])).code).toBe(0);
    // Many intervals and timeouts long: a check run meanwhile would have frozen and timed out.
    await sleep(1500);
    expect(await healthOf(name)).toMatchObject({ Status: 'healthy', FailingStreak: 0 });
    expect((await healthOf(name))?.Log.map((r) => r.ExitCode)).not.toContain(-1);
    expect((await cli(['unpause', name])).code).toBe(0);
    const unpaused = Date.now();
    await until('a check after unpause', async () => {
      const last = (await healthOf(name))?.Log.at(-1);
      return last !== undefined && Date.parse(last.Start) > unpaused;
    });
    // A check the pause froze midway finished on unpause (before the next one began): discarded,
    // not a timeout.
    expect(await healthOf(name)).toMatchObject({ Status: 'healthy', FailingStreak: 0 });
    const statuses = (await eventsOf(id)).flatMap((e) => (e.action === 'health_status' ? [e.status] : []));
    expect(statuses).toEqual(['healthy']);
    expect((await cli(['rm', '-f', name])).code).toBe(0);
  });
});

describe('the image HEALTHCHECK', () => {
  let image: string;

  beforeAll(async () => {
    image = unique('img');
    const context = await mkdtemp(join(tmpdir(), 'tsdock-hc-build-'));
    try {
      await writeFile(
        join(context, 'Dockerfile'),
        'FROM busybox\nHEALTHCHECK --interval=200ms --start-interval=200ms --retries=1 CMD ["test", "-e", "/etc/passwd"]\n',
      );
      const built = await cli(['build', '--network', 'none', '-t', image, context]);
      expect(built.stderr).not.toContain('tsdock:');
      expect(built.code).toBe(0);
    } finally {
      await rm(context, { recursive: true, force: true });
    }
  });

  it('is run, with flags overriding it field by field', async () => {
    const name = unique('img-run');
    await runDetached(name, ['--health-timeout', '5s'], SERVE, image);
    await untilHealth(name, 'healthy');
    expect((await inspect(name)).Config.Healthcheck).toMatchObject({
      Test: ['CMD', 'test', '-e', '/etc/passwd'],
      Interval: 200e6,
      Timeout: 5e9,
      Retries: 1,
    });
    expect((await cli(['rm', '-f', name])).code).toBe(0);
  });

  it("runs a CMD-SHELL check under the image's SHELL", async () => {
    const context = await mkdtemp(join(tmpdir(), 'tsdock-hc-shell-'));
    const shelled = unique('img-shell');
    try {
      await writeFile(join(context, 'Dockerfile'), 'FROM busybox\nSHELL ["/bin/sh", "-xc"]\n');
      expect((await cli(['build', '--network', 'none', '-t', shelled, context])).code).toBe(0);
    } finally {
      await rm(context, { recursive: true, force: true });
    }
    const name = unique('shell-run');
    await runDetached(name, [...FAST, '--health-cmd', 'echo ok'], SERVE, shelled);
    // sh -x traces the command before it runs it: the image's shell ran it, not a plain sh -c.
    expect((await untilHealth(name, 'healthy')).Log[0]).toMatchObject({ ExitCode: 0, Output: '+ echo ok\nok\n' });
    expect((await cli(['rm', '-f', name])).code).toBe(0);
  });

  it('is off with --no-healthcheck', async () => {
    const name = unique('img-none');
    await runDetached(name, ['--no-healthcheck'], SERVE, image);
    const info = await inspect(name);
    expect(info.State.Health).toBeUndefined();
    expect(info.Config.Healthcheck).toBeUndefined();
    expect(await psStatus(name)).toMatch(/^Up [^(]*$/);
    expect((await cli(['rm', '-f', name])).code).toBe(0);
  });
});

describe('--health-on-failure', () => {
  const failing = [...FAST, '--health-retries', '1', '--health-cmd', 'false'];

  it('kill kills the container and records a health kill', async () => {
    const name = unique('kill');
    const id = await runDetached(name, [...failing, '--health-on-failure', 'kill', '--restart', 'always']);
    expect((await cli(['wait', name])).stdout).toBe('137\n');
    expect(await inspect(name)).toMatchObject({
      RestartCount: 0,
      State: { Status: 'exited', ExitReason: 'health-kill' },
    });
    const die = (await eventsOf(id)).find((e) => e.action === 'die');
    expect(die).toMatchObject({ exitCode: 137, reason: 'health-kill' });
  });

  it('stop stops it with its stop signal, and no restart policy brings it back', async () => {
    const name = unique('stop');
    await runDetached(name, [...failing, '--health-on-failure', 'stop', '--restart', 'always']);
    expect((await cli(['wait', name])).stdout).toBe('0\n');
    expect(await inspect(name)).toMatchObject({ RestartCount: 0, State: { Status: 'exited', ExitReason: 'exited' } });
  });

  it("stop waits the container's --stop-timeout before SIGKILL", async () => {
    const name = unique('stop0');
    // A trap that takes a moment: with a 0 s stop timeout SIGKILL ends it first.
    const slow = ['sh', '-c', 'trap "sleep 0.3; exit 0" TERM; while :; do sleep 0.1; done'];
    await runDetached(name, [...failing, '--health-on-failure', 'stop', '--stop-timeout', '0'], slow);
    expect((await cli(['wait', name])).stdout).toBe('137\n');
    expect((await cli(['rm', name])).code).toBe(0);
  });

  it('restart restarts it with a fresh health state, without a restart policy', async () => {
    const name = unique('restart');
    const id = await runDetached(name, [...failing, '--health-on-failure', 'restart']);
    await until('a restart', async () => (await inspect(name)).RestartCount >= 1);
    await until('it runs again', async () => (await inspect(name)).State.Status === 'running');
    const actions = (await eventsOf(id)).map((e) => (e.action === 'health_status' ? `health:${e.status}` : e.action));
    expect(actions.slice(0, 5)).toEqual(['create', 'start', 'health:unhealthy', 'die', 'start']);
    expect((await cli(['rm', '-f', name])).code).toBe(0);
  });

  it('none (the default) leaves an unhealthy container running', async () => {
    const name = unique('none');
    await runDetached(name, failing);
    await untilHealth(name, 'unhealthy');
    // A few more checks: still running.
    await until('2 more checks', async () => ((await healthOf(name))?.Log.length ?? 0) >= 3);
    expect((await inspect(name)).State.Status).toBe('running');
    expect((await cli(['rm', '-f', name])).code).toBe(0);
  });
});

describe('the library', () => {
  it('takes a typed health check and reports its status as health_status events', async () => {
    const stop = new AbortController();
    const id = await runtime.runDetached('busybox', {
      network: 'none',
      cgroupParent: parent,
      command: SERVE,
      healthcheck: { test: ['CMD', 'true'], intervalMs: 200, retries: 1 },
    });
    let seen: TsdockEvent | undefined;
    for await (const e of runtime.events({ since: 0, filters: { container: [id] }, signal: stop.signal })) {
      if (e.action === 'health_status') {
        seen = e;
        stop.abort();
      }
    }
    expect(seen).toMatchObject({ action: 'health_status', status: 'healthy', id });
    const info = await runtime.inspect(id);
    expect(info.State.Health?.Status).toBe('healthy');
    expect(info.Config.Healthcheck).toMatchObject({ Test: ['CMD', 'true'], Interval: 200e6, Retries: 1 });
    await runtime.remove(id, { force: true });
  });

  it('records a check that cannot start as Docker does: exit -1 and why', async () => {
    const run = (test: string[]): Promise<string> =>
      runtime.runDetached('busybox', {
        network: 'none',
        cgroupParent: parent,
        command: SERVE,
        healthcheck: { test, intervalMs: 200, retries: 1 },
      });
    const missing = await run(['CMD', 'no-such-check']);
    const notExecutable = await run(['CMD', '/etc/passwd']);
    const lastOf = async (id: string): Promise<HealthState['Log'][number] | undefined> => {
      await untilHealth(id, 'unhealthy');
      return (await healthOf(id))?.Log[0];
    };
    expect(await lastOf(missing)).toMatchObject({
      ExitCode: -1,
      Output: 'exec: "no-such-check": executable file not found in $PATH',
    });
    expect(await lastOf(notExecutable)).toMatchObject({
      ExitCode: -1,
      Output: 'exec: "/etc/passwd": permission denied',
    });
    for (const id of [missing, notExecutable]) await runtime.remove(id, { force: true });
  });
});

describe('bad health flags', () => {
  it.each([
    [['--health-interval', '5x'], 'invalid --health-interval "5x": unknown unit "x"'],
    [['--health-timeout', '-1s'], '--health-timeout cannot be negative'],
    [['--health-retries', 'three'], 'invalid --health-retries "three"'],
    [['--health-on-failure', 'explode', '--health-cmd', 'true'], 'invalid --health-on-failure "explode"'],
    [['--no-healthcheck', '--health-cmd', 'true'], '--no-healthcheck conflicts with --health-* options'],
    [['--health-on-failure', 'kill'], '--health-on-failure needs a health check'],
  ])('%j fail with one line and 125, leaving nothing', async (flags, message) => {
    const before = records().length;
    const r = await cli(['run', '-d', '--network', 'none', ...flags, 'busybox', 'true']);
    expect(r.code).toBe(125);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain(message);
    expect(records()).toHaveLength(before);
  });
});
