/**
 * Restart policies applied by the monitor (no Node process stays), the exit's reason, detached
 * `--rm` removed by the monitor's exit command, and the events all of it leaves, as root on the
 * real kernel.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import { Runtime, type TsdockEvent } from '../../src/index.js';
import { isAlive } from '../../src/runtime/proc-stat.js';
import { containerBed } from '../helpers/container-bed.js';
import { cgroupsUnder, repoRoot } from '../helpers/host.js';
import { until } from '../helpers/until.js';

const bed = containerBed('rs');
const { cli, unique, records, parent } = bed;
let runtime: Runtime;

beforeAll(async () => {
  runtime = await Runtime.open({ root: bed.root });
});

async function runDetached(name: string, flags: string[], args: string[]): Promise<string> {
  const r = await cli(['run', '-d', '--name', name, '--cgroup-parent', parent, ...flags, 'busybox', ...args]);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return r.stdout.trim();
}

interface Inspected {
  RestartCount: number;
  State: { Status: string; ExitCode: number; ExitReason: string; OOMKilled: boolean };
  HostConfig: { RestartPolicy: { Name: string; MaximumRetryCount: number } };
}

async function inspect(name: string): Promise<Inspected> {
  const r = await cli(['inspect', name]);
  expect(r.code).toBe(0);
  return (JSON.parse(r.stdout) as Inspected[])[0] as Inspected;
}

/** The events recorded so far about one container, oldest first. */
async function eventsOf(id: string): Promise<TsdockEvent[]> {
  const out: TsdockEvent[] = [];
  for await (const e of runtime.events({ since: 0, until: Date.now(), filters: { container: [id] } })) out.push(e);
  return out;
}

const actions = (events: TsdockEvent[]): string[] => events.map((e) => e.action);

function ms(time: string): number {
  return Date.parse(time.replace(/(\.\d{3})\d*Z$/, '$1Z'));
}

describe('restart policies', () => {
  it('on-failure:3 restarts exactly 3 times with a doubling backoff, then stays exited', async () => {
    const name = unique('fail');
    const id = await runDetached(name, ['--restart', 'on-failure:3'], ['sh', '-c', 'echo run; exit 3']);
    expect((await cli(['wait', name])).stdout).toBe('3\n');
    const info = await inspect(name);
    expect(info.RestartCount).toBe(3);
    expect(info.State).toMatchObject({ Status: 'exited', ExitCode: 3, ExitReason: 'exited' });
    expect(info.HostConfig.RestartPolicy).toEqual({ Name: 'on-failure', MaximumRetryCount: 3 });
    expect((await cli(['logs', name])).stdout).toBe('run\n'.repeat(4));
    const events = await eventsOf(id);
    expect(actions(events)).toEqual(['create', ...Array<string[]>(4).fill(['start', 'die']).flat()]);
    // Docker's backoff: at least 100, 200, 400 ms between a die and the next start.
    const gaps = events.flatMap((e, i) => {
      const next = events[i + 1];
      return e.action === 'die' && next !== undefined ? [ms(next.time) - ms(e.time)] : [];
    });
    expect(gaps).toHaveLength(3);
    gaps.forEach((gap, i) => {
      expect(gap).toBeGreaterThanOrEqual(100 * 2 ** i - 1);
    });
    const die = events.find((e) => e.action === 'die');
    expect(die).toMatchObject({ exitCode: 3, reason: 'exited', name, image: 'busybox' });
  });

  it('on-failure does not restart a clean exit', async () => {
    const name = unique('ok');
    await runDetached(name, ['--restart', 'on-failure'], ['true']);
    expect((await cli(['wait', name])).stdout).toBe('0\n');
    expect((await inspect(name)).RestartCount).toBe(0);
  });

  it('always restarts after a clean exit; stop ends it for good', async () => {
    const name = unique('always');
    const id = await runDetached(name, ['--restart', 'always'], ['sh', '-c', 'sleep 0.2']);
    await until('two restarts', async () => (await inspect(name)).RestartCount >= 2);
    expect((await cli(['stop', '-t', '1', name])).code).toBe(0);
    const info = await inspect(name);
    expect(info.State.Status).toBe('exited');
    const count = info.RestartCount;
    // Longer than the backoff so far: a restart would have come by now.
    await sleep(1000);
    expect(await inspect(name)).toMatchObject({ RestartCount: count, State: { Status: 'exited' } });
    const monitor = records().find((r) => r.id === id)?.state.monitor;
    expect(isAlive(monitor)).toBe(false);
    expect(actions(await eventsOf(id)).slice(-1)).toEqual(['stop']);
  });

  it('kill (SIGKILL) ends an always container; another signal lets it restart', async () => {
    const name = unique('kill');
    await runDetached(name, ['--restart', 'always'], ['sh', '-c', 'trap "exit 5" USR1; while :; do sleep 0.05; done']);
    await until('it runs', async () => (await inspect(name)).State.Status === 'running');
    expect((await cli(['kill', '-s', 'USR1', name])).code).toBe(0);
    await until('a restart', async () => (await inspect(name)).RestartCount === 1);
    await until('it runs again', async () => (await inspect(name)).State.Status === 'running');
    expect((await cli(['kill', name])).code).toBe(0);
    expect((await cli(['wait', name])).stdout).toBe('137\n');
    expect(await inspect(name)).toMatchObject({ RestartCount: 1, State: { Status: 'exited', ExitReason: 'signal' } });
  });

  it('rm -f removes a container while it waits to restart', async () => {
    const name = unique('rmf');
    const id = await runDetached(name, ['--restart', 'always'], ['false']);
    await until('the restarting state', async () => (await inspect(name)).State.Status === 'restarting');
    const monitor = records().find((r) => r.id === id)?.state.monitor;
    expect((await cli(['rm', '-f', name])).code).toBe(0);
    expect(existsSync(join(bed.root, 'containers', id))).toBe(false);
    await until('the monitor to end', () => !isAlive(monitor));
    expect(actions(await eventsOf(id)).slice(-1)).toEqual(['destroy']);
  });

  it('refuses --restart with --rm, and a bad policy', async () => {
    const both = await cli(['run', '-d', '--rm', '--restart', 'always', 'busybox', 'true']);
    expect(both.code).toBe(125);
    expect(both.stderr).toContain('conflicting options: --restart and --rm');
    const bad = await cli(['run', '-d', '--restart', 'sometimes', 'busybox', 'true']);
    expect(bad.code).toBe(125);
    expect(bad.stderr).toMatch(/^tsdock: invalid --restart "sometimes"/);
    expect(records().filter((r) => r.args.includes('true') && r.autoRemove)).toEqual([]);
  });
});

describe('detached --rm', () => {
  it('is removed by its monitor once it exits, with no tsdock command run', async () => {
    const name = unique('rm');
    const id = await runDetached(name, ['--rm'], ['sh', '-c', 'sleep 0.2; exit 4']);
    await until('the container to be removed', () => !existsSync(join(bed.root, 'containers', id)));
    await until('the destroy event', async () => actions(await eventsOf(id)).includes('destroy'));
    expect(actions(await eventsOf(id))).toEqual(['create', 'start', 'die', 'destroy']);
    expect((await cgroupsUnder(parent)).filter((dir) => dir.endsWith(id))).toEqual([]);
  });
});

describe('events', () => {
  it('are followed live by the library and rendered by the CLI, with filters', async () => {
    const name = unique('ev');
    const stop = new AbortController();
    const seen: TsdockEvent[] = [];
    const follow = (async () => {
      for await (const e of runtime.events({ filters: { container: [name] }, signal: stop.signal })) {
        seen.push(e);
        if (e.action === 'destroy') stop.abort();
      }
    })();
    // The follower is reading before the container is made.
    await sleep(200);
    await runDetached(name, [], ['sh', '-c', 'exit 1']);
    expect((await cli(['wait', name])).stdout).toBe('1\n');
    expect((await cli(['rm', name])).code).toBe(0);
    await follow;
    expect(actions(seen)).toEqual(['create', 'start', 'die', 'destroy']);

    const text = await cli([
      'events',
      '--since',
      '1h',
      '--until',
      '0s',
      '--filter',
      `container=${name}`,
      '--filter',
      'event=die',
    ]);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(
      new RegExp(
        `^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{9}Z container die [0-9a-f]{64} \\(exitCode=1, image=busybox, name=${name}, reason=exited, signal=0\\)\\n$`,
      ),
    );
    const json = await cli([
      'events',
      '--since',
      '1h',
      '--until',
      '0s',
      '--filter',
      `container=${name}`,
      '--format',
      'json',
    ]);
    const lines = json.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { Action: string; Actor: { Attributes: { name: string } } });
    expect(lines.map((l) => l.Action)).toEqual(['create', 'start', 'die', 'destroy']);
    expect(lines[0]?.Actor.Attributes.name).toBe(name);
    const refused = await cli(['events', '--filter', 'colour=red']);
    expect(refused.code).toBe(125);
    expect(refused.stderr).toMatch(/^tsdock: invalid filter "colour=red"/);
  });

  it('record kill, stop, pause and unpause in order, and oom with its die reason', async () => {
    const name = unique('seq');
    const id = await runDetached(name, [], ['sleep', '100']);
    expect((await cli(['pause', name])).code).toBe(0);
    expect((await cli(['unpause', name])).code).toBe(0);
    expect((await cli(['stop', '-t', '1', name])).code).toBe(0);
    const events = await eventsOf(id);
    expect(actions(events)).toEqual(['create', 'start', 'pause', 'unpause', 'kill', 'kill', 'die', 'stop']);
    expect(events.filter((e) => e.action === 'kill').map((e) => ('signal' in e ? e.signal : 0))).toEqual([15, 9]);
    expect(events.find((e) => e.action === 'die')).toMatchObject({ exitCode: 137, reason: 'stop-timeout' });

    const oom = unique('oom');
    const oomId = await runDetached(
      oom,
      ['--memory', '16m', '--memory-swap', '16m'],
      ['dd', 'if=/dev/zero', 'of=/dev/null', 'bs=64M', 'count=1'],
    );
    expect((await cli(['wait', oom])).stdout).toBe('137\n');
    expect(actions(await eventsOf(oomId))).toEqual(['create', 'start', 'oom', 'die']);
    expect((await eventsOf(oomId)).find((e) => e.action === 'die')).toMatchObject({ reason: 'oom', exitCode: 137 });
  });

  it('end cleanly on Ctrl-C or SIGTERM: a live `events` and `logs -f` exit 0', async () => {
    const name = unique('follow');
    /** Starts `tsdock args…`, waits until its stdout shows `ready`, sends `signal`; its exit. */
    const interrupt = async (args: string[], ready: string, signal: NodeJS.Signals) => {
      const child = spawn(process.execPath, [join(repoRoot, 'bin', 'tsdock.js'), '--root', bed.root, ...args]);
      let out = '';
      child.stdout.on('data', (b: Buffer) => {
        out += b.toString();
        if (out.includes(ready)) child.kill(signal);
      });
      return new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
        child.on('exit', (code, sig) => {
          resolve({ code, signal: sig });
        });
      });
    };
    // --since: a follower slow to start still sees the start, then follows live.
    const events = interrupt(
      ['events', '--since', '1h', '--filter', `container=${name}`],
      'container start',
      'SIGTERM',
    );
    await runDetached(name, [], ['sh', '-c', 'echo ready; exec sleep 100']);
    expect(await events).toEqual({ code: 0, signal: null });
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      expect(await interrupt(['logs', '-f', name], 'ready', signal)).toEqual({ code: 0, signal: null });
    }
    expect((await cli(['rm', '-f', name])).code).toBe(0);
  });
});
