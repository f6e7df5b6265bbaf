/**
 * Container lifecycle through the CLI, as root on the real kernel: detached containers that
 * outlive tsdock, reconciliation after kill -9 of the CLI or the monitor, exit codes and their
 * reasons, stop/start/restart/pause, and a run/rm loop after which the host is as it was.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { Runtime } from '../../src/index.js';
import type { ContainerRecord } from '../../src/runtime/container-record.js';
import { isAlive, type ProcessIdentity } from '../../src/runtime/proc-stat.js';
import { volatileContainersDir } from '../../src/runtime/volatile-dir.js';
import { containerBed } from '../helpers/container-bed.js';
import { cgroupsUnder, hostMounts, repoRoot } from '../helpers/host.js';
import { until } from '../helpers/until.js';

const bed = containerBed('life');
const { cli, unique, records, parent } = bed;

function recordOf(name: string): ContainerRecord {
  const r = records().find((c) => c.name === name);
  if (r === undefined) throw new Error(`no record for ${name}`);
  return r;
}

/** `run -d --name NAME … busybox ARGS`; returns the id it printed. */
async function runDetached(name: string, args: string[], flags: string[] = []): Promise<string> {
  const r = await cli(['run', '-d', '--name', name, '--cgroup-parent', parent, ...flags, 'busybox', ...args]);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(/^[0-9a-f]{64}\n$/);
  return r.stdout.trim();
}

interface PsLine {
  ID: string;
  State: string;
  Status: string;
  Names: string;
  Pid: number;
  ExitCode: number;
}

async function psAll(): Promise<PsLine[]> {
  const r = await cli(['ps', '-a', '--format', 'json']);
  expect(r.code).toBe(0);
  return r.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as PsLine);
}

async function state(name: string): Promise<Record<string, unknown>> {
  const r = await cli(['inspect', name]);
  expect(r.code).toBe(0);
  const [info] = JSON.parse(r.stdout) as { State: Record<string, unknown> }[];
  return info?.State ?? {};
}

function gone(who: ProcessIdentity | undefined): boolean {
  return !isAlive(who);
}

describe('detached containers', () => {
  it('outlive the CLI that started them, and ps shows them running', async () => {
    const name = unique('up');
    const id = await runDetached(name, ['sleep', '100']);
    const r = recordOf(name);
    expect(r.id).toBe(id);
    expect(isAlive(r.state.monitor)).toBe(true);
    expect(isAlive(r.state.init)).toBe(true);
    const line = (await psAll()).find((l) => l.Names === name);
    expect(line).toMatchObject({ ID: id.slice(0, 12), State: 'running', Pid: r.state.init?.pid });
    const quiet = await cli(['ps', '-q']);
    expect(quiet.stdout.split('\n')).toContain(id.slice(0, 12));
    expect((await cli(['rm', '-f', name])).code).toBe(0);
    await until('the monitor to end', () => gone(r.state.monitor));
    expect(existsSync(join(bed.root, 'containers', id))).toBe(false);
  });

  it('survives kill -9 of a foreground run', async () => {
    const name = unique('fg');
    const args = ['--root', bed.root, 'run', '--name', name, '--cgroup-parent', parent, 'busybox', 'sleep', '100'];
    const child = spawn(process.execPath, [join(repoRoot, 'bin', 'tsdock.js'), ...args], { stdio: 'ignore' });
    await until('the container to run', () => records().some((r) => r.name === name && r.state.init !== undefined));
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('close', resolve));
    const r = recordOf(name);
    expect(isAlive(r.state.init)).toBe(true);
    expect((await psAll()).find((l) => l.Names === name)?.State).toBe('running');
    expect((await cli(['stop', '-t', '0', name])).code).toBe(0);
    expect(await state(name)).toMatchObject({ Status: 'exited', ExitCode: 137 });
    expect((await cli(['rm', name])).code).toBe(0);
  });

  it('reconciles after kill -9 of the monitor: running while the init runs, then dead', async () => {
    const name = unique('mon');
    await runDetached(name, ['sleep', '100']);
    const r = recordOf(name);
    const monitor = r.state.monitor;
    const init = r.state.init;
    if (monitor === undefined || init === undefined) throw new Error('no monitor or init recorded');
    process.kill(monitor.pid, 'SIGKILL');
    await until('the monitor to die', () => gone(monitor));
    expect((await psAll()).find((l) => l.Names === name)?.State).toBe('running');
    process.kill(init.pid, 'SIGKILL');
    await until('the init to die', () => gone(init));
    expect(await state(name)).toMatchObject({ Status: 'dead', Dead: true, ExitReason: 'monitor-lost' });
    // Nobody removed the cgroup: rm does.
    expect((await cli(['rm', name])).code).toBe(0);
    expect(await cgroupsUnder(parent)).toEqual([]);
  });

  it('keeps names unique', async () => {
    const name = unique('dup');
    await runDetached(name, ['sleep', '100']);
    const again = await cli(['run', '-d', '--name', name, '--cgroup-parent', parent, 'busybox', 'true']);
    expect(again.code).toBe(125);
    expect(again.stderr).toContain(`"/${name}" is already in use`);
    expect(records().filter((r) => r.name === name)).toHaveLength(1);
    const refused = await cli(['rm', name]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/running \(stop it first, or use -f\)/);
    expect((await cli(['rm', '-f', name])).code).toBe(0);
  });

  it('gives a name to exactly one of two runs that race for it, and frees it on rm', async () => {
    const name = unique('race');
    const run = (): ReturnType<typeof cli> =>
      cli(['run', '-d', '--name', name, '--cgroup-parent', parent, 'busybox', 'sleep', '100']);
    const results = await Promise.all([run(), run()]);
    const won = results.filter((r) => r.code === 0);
    const lost = results.filter((r) => r.code !== 0);
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(1);
    expect(lost[0]?.code).toBe(125);
    expect(lost[0]?.stderr).toContain(`Conflict. The container name "/${name}" is already in use by container`);
    expect(records().filter((r) => r.name === name)).toHaveLength(1);
    expect((await cli(['rm', '-f', name])).code).toBe(0);
    await runDetached(name, ['true']);
    expect((await cli(['rm', '-f', name])).code).toBe(0);
  });
});

describe('exit codes and reasons', () => {
  it.each([
    ['a normal exit', ['sh', '-c', 'exit 3'], [], 3, 'exited', false],
    ['a signal from tsdock kill', ['sleep', '100'], [], 137, 'signal', false],
    [
      'the OOM killer',
      ['dd', 'if=/dev/zero', 'of=/dev/null', 'bs=64M', 'count=1'],
      ['--memory', '16m', '--memory-swap', '16m'],
      137,
      'oom',
      true,
    ],
  ])('%s', async (_label, args, flags, code, reason, oom) => {
    const name = unique('exit');
    await runDetached(name, args, flags);
    if (reason === 'signal') expect((await cli(['kill', name])).code).toBe(0);
    const waited = await cli(['wait', name]);
    expect(waited.stdout).toBe(`${code}\n`);
    expect(await state(name)).toMatchObject({ Status: 'exited', ExitCode: code, ExitReason: reason, OOMKilled: oom });
    expect((await psAll()).find((l) => l.Names === name)?.Status).toMatch(new RegExp(`^Exited \\(${code}\\) `));
    expect((await cli(['rm', name])).code).toBe(0);
  });

  it('stop: the signal first, SIGKILL after the timeout (reason stop-timeout)', async () => {
    const trapping = unique('trap');
    await runDetached(trapping, ['sh', '-c', 'trap "exit 7" TERM; while :; do sleep 0.05; done']);
    const ignoring = unique('deaf');
    // pid 1 of a namespace ignores SIGTERM without a handler.
    await runDetached(ignoring, ['sleep', '100']);
    let t = Date.now();
    expect((await cli(['stop', '-t', '5', trapping])).code).toBe(0);
    expect(Date.now() - t).toBeLessThan(4000);
    expect(await state(trapping)).toMatchObject({ ExitCode: 7, ExitReason: 'exited' });
    t = Date.now();
    expect((await cli(['stop', '-t', '1', ignoring])).code).toBe(0);
    expect(Date.now() - t).toBeGreaterThanOrEqual(1000);
    expect(await state(ignoring)).toMatchObject({ ExitCode: 137, ExitReason: 'stop-timeout' });
    // Without -f, Docker's question first: no (or stdin's end) keeps them, yes removes them.
    const declined = await cli(['container', 'prune'], { input: 'n\n' });
    expect(declined.stdout).toBe(
      'WARNING! This will remove all stopped containers.\nAre you sure you want to continue? [y/N] ',
    );
    expect(records().map((r) => r.name)).toContain(trapping);
    expect((await cli(['container', 'prune'], { input: 'y\n' })).stdout).toMatch(/Total reclaimed containers: [1-9]/);
    expect(records().map((r) => r.name)).not.toContain(trapping);
    expect((await cli(['container', 'prune', '-f'])).stdout).toBe('Total reclaimed containers: 0\n');
  });

  it('prune deletes what interrupted removals and a reboot left; an empty record is no container', async () => {
    // A removal renames the directory into the trash and deletes it in the background, and the
    // data where it is: a process killed meanwhile leaves them there.
    const trash = join(bed.root, 'containers.trash');
    mkdirSync(join(trash, 'f'.repeat(64)), { recursive: true });
    writeFileSync(join(trash, 'f'.repeat(64), 'config.json'), 'x');
    const leftData = join(bed.root, 'containers.data', 'f'.repeat(64));
    mkdirSync(join(leftData, 'upper', 'etc'), { recursive: true });
    writeFileSync(join(leftData, 'upper', 'etc', 'hosts'), 'x');
    // A --rm container running at a reboot: its link outlives the tmpfs it pointed into.
    const dangling = join(bed.root, 'containers', 'd'.repeat(64));
    const lostData = join(bed.root, 'containers.data', 'd'.repeat(64));
    symlinkSync(join(volatileContainersDir(bed.root), 'd'.repeat(64)), dangling);
    mkdirSync(join(lostData, 'upper'), { recursive: true });
    // A create killed before its link: files of no container.
    const orphan = join(volatileContainersDir(bed.root), 'c'.repeat(64));
    mkdirSync(orphan, { recursive: true });
    // A --rm container's record is not fsynced: a machine crash can leave it empty.
    const emptied = join(bed.root, 'containers', 'e'.repeat(64));
    mkdirSync(emptied, { recursive: true });
    writeFileSync(join(emptied, 'config.json'), '');
    try {
      const ps = await cli(['ps', '-a', '-q']);
      expect(ps.code).toBe(0);
      expect(ps.stdout).not.toMatch(/eeeeeeeeeeee|dddddddddddd/);
      expect((await cli(['container', 'prune', '-f'])).code).toBe(0);
      expect(existsSync(trash)).toBe(false);
      for (const left of [leftData, dangling, lostData, orphan]) expect(existsSync(left)).toBe(false);
      expect(existsSync(emptied)).toBe(true);
    } finally {
      rmSync(emptied, { recursive: true, force: true });
      rmSync(dangling, { force: true });
      rmSync(lostData, { recursive: true, force: true });
      rmSync(orphan, { recursive: true, force: true });
    }
  });

  it('--stop-signal and --stop-timeout: what a stop sends, and how long it waits when it names no -t', async () => {
    // The trap takes a moment to end: SIGKILL comes first with a 0 s timeout, never with 5 s.
    const slowTrap = (signal: string): string[] => [
      'sh',
      '-c',
      `trap "sleep 0.3; exit 7" ${signal}; while :; do sleep 0.05; done`,
    ];
    const impatient = unique('stop0');
    await runDetached(impatient, slowTrap('TERM'), ['--stop-timeout', '0']);
    const usr1 = unique('usr1');
    await runDetached(usr1, slowTrap('USR1'), ['--stop-signal', 'SIGUSR1', '--stop-timeout', '0']);
    const inspected = JSON.parse((await cli(['inspect', usr1])).stdout) as { Config: Record<string, unknown> }[];
    expect(inspected[0]?.Config).toMatchObject({ StopSignal: 'SIGUSR1', StopTimeout: 0 });

    expect((await cli(['stop', impatient])).code).toBe(0);
    expect(await state(impatient)).toMatchObject({ ExitCode: 137, ExitReason: 'stop-timeout' });
    // -t wins over the container's own timeout; the trap runs to its end.
    expect((await cli(['restart', '-t', '5', impatient])).code).toBe(0);
    expect((await cli(['stop', '-t', '5', impatient])).code).toBe(0);
    expect(await state(impatient)).toMatchObject({ ExitCode: 7, ExitReason: 'exited' });
    // SIGUSR1 reached the trap: without it a busybox pid 1 would only have been killed.
    expect((await cli(['stop', '-t', '5', usr1])).code).toBe(0);
    expect(await state(usr1)).toMatchObject({ ExitCode: 7, ExitReason: 'exited' });

    for (const [flag, value] of [
      ['--stop-timeout', '1.5'],
      ['--stop-signal', 'SIGNOPE'],
    ] as const) {
      const refused = await cli(['run', '-d', flag, value, 'busybox', 'true']);
      expect(refused.code).toBe(125);
      expect(refused.stderr).toMatch(/^tsdock: invalid (--stop-timeout "1\.5"|signal "SIGNOPE")/);
    }
    expect((await cli(['rm', impatient, usr1])).code).toBe(0);
  });
});

describe('start, restart, pause, kill', () => {
  it('creates a container without starting it; start -a runs it with its flags', async () => {
    const name = unique('created');
    const made = await cli([
      'create',
      '--name',
      name,
      '--cgroup-parent',
      parent,
      '--network',
      'none',
      '-e',
      'WHO=created',
      'busybox',
      'sh',
      '-c',
      'echo $WHO; exit 6',
    ]);
    expect(made.stderr).toBe('');
    expect(made.stdout).toMatch(/^[0-9a-f]{64}\n$/);
    expect(await state(name)).toMatchObject({ Status: 'created', Running: false });
    expect(await cgroupsUnder(parent)).toEqual([]);
    const started = await cli(['start', '-a', name]);
    expect(started.stdout).toBe('created\n');
    expect(started.code).toBe(6);
    expect(await state(name)).toMatchObject({ Status: 'exited', ExitCode: 6 });
    expect((await cli(['rm', name])).code).toBe(0);
  });

  it('starts an exited container again from its plan, with its files kept', async () => {
    const name = unique('again');
    const id = await runDetached(name, ['sh', '-c', 'echo x >> /runs; wc -l < /runs']);
    expect((await cli(['wait', name])).stdout).toBe('0\n');
    const monitor = recordOf(name).state.monitor;
    expect(await cli(['start', name])).toMatchObject({ code: 0, stderr: '' });
    expect(recordOf(name).state.monitor).not.toEqual(monitor);
    expect((await cli(['wait', name])).stdout).toBe('0\n');
    expect((await cli(['logs', id])).stdout).toBe('1\n2\n');
    // The monitor removed the cgroup at each exit.
    expect(await cgroupsUnder(parent)).toEqual([]);
    expect((await cli(['rm', name])).code).toBe(0);
  });

  it('pauses with the freezer, kills with -s, restarts', async () => {
    const name = unique('pause');
    await runDetached(name, ['sh', '-c', 'trap "exit 5" USR1; while :; do sleep 0.05; done']);
    expect((await cli(['pause', name])).code).toBe(0);
    expect(await state(name)).toMatchObject({ Status: 'paused', Paused: true, Running: true });
    // The v2 core freezer when the unified tree is mounted, else the v1 freezer.
    const dirs = await cgroupsUnder(parent);
    const unified = dirs.find((d) => d.includes('/unified/'));
    const frozen =
      unified !== undefined
        ? readFileSync(join(unified, 'cgroup.events'), 'utf8').includes('frozen 1')
        : readFileSync(join(dirs.find((d) => d.includes('/freezer/')) ?? '', 'freezer.state'), 'utf8') === 'FROZEN\n';
    expect(frozen).toBe(true);
    expect((await cli(['pause', name])).code).toBe(1);
    expect((await cli(['unpause', name])).code).toBe(0);
    expect((await state(name)).Status).toBe('running');
    const before = recordOf(name).state.init;
    expect((await cli(['restart', '-t', '1', name])).code).toBe(0);
    const after = recordOf(name).state.init;
    expect(after).not.toEqual(before);
    expect(gone(before)).toBe(true);
    expect((await cli(['kill', '-s', 'USR1', name])).code).toBe(0);
    expect((await cli(['wait', name])).stdout).toBe('5\n');
    expect((await cli(['kill', name])).code).toBe(1);
    expect((await cli(['rm', name])).code).toBe(0);
  });

  it('keeps a foreground container without --rm, removes it with --rm', async () => {
    const kept = unique('kept');
    const r = await cli(['run', '--name', kept, '--cgroup-parent', parent, 'busybox', 'sh', '-c', 'exit 4']);
    expect(r.code).toBe(4);
    expect(await state(kept)).toMatchObject({ Status: 'exited', ExitCode: 4 });
    const removed = unique('gone');
    await cli(['run', '--rm', '--name', removed, '--cgroup-parent', parent, 'busybox', 'true']);
    expect(records().map((c) => c.name)).not.toContain(removed);
    expect((await cli(['rm', kept])).code).toBe(0);
  });
});

describe('--init', () => {
  // The subshell leaves an orphan that exits at once: pid 1 must reap it.
  const orphaning = ['sh', '-c', '(sleep 0.1 &); exec sleep 100'];
  const zombies = async (name: string): Promise<string> =>
    (await cli(['exec', name, 'sh', '-c', 'sleep 0.5; ps -o stat,comm | grep "^Z" || true'])).stdout;

  it('reaps orphans as pid 1 and forwards SIGTERM to the command', async () => {
    const plain = unique('noinit');
    const withInit = unique('init');
    await runDetached(plain, orphaning);
    await runDetached(withInit, orphaning, ['--init']);
    // Without an init, sleep is pid 1 and never reaps: the orphan stays a zombie.
    expect(await zombies(plain)).toMatch(/^Z/);
    expect(await zombies(withInit)).toBe('');
    const pid1 = await cli(['exec', withInit, 'cat', '/proc/1/comm']);
    expect(pid1.stdout).toBe('tsdock-init\n');
    // pid 1 ignores SIGTERM without a handler; tsdock-init passes it to sleep, which dies of it.
    const t = Date.now();
    expect((await cli(['stop', '-t', '5', withInit])).code).toBe(0);
    expect(Date.now() - t).toBeLessThan(4000);
    expect(await state(withInit)).toMatchObject({ ExitCode: 143, ExitReason: 'exited' });
    expect((await cli(['inspect', withInit])).stdout).toContain('"Path": "sh"');
    expect((await cli(['rm', '-f', plain, withInit])).code).toBe(0);
  });
});

describe('stats and top', () => {
  it('read CPU, memory and pids from the cgroup; top lists the processes', async () => {
    const busy = unique('busy');
    const idle = unique('idle');
    await runDetached(busy, ['sh', '-c', 'while :; do :; done'], ['-m', '64m']);
    await runDetached(idle, ['sh', '-c', 'sleep 100 & sleep 100']);
    const r = await cli(['stats', '--no-stream', '--format', 'json', busy, idle]);
    expect(r.code).toBe(0);
    const [b, i] = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { Name: string; CPUPerc: number; MemUsage: number; MemLimit: number; PIDs: number });
    expect(b).toMatchObject({ Name: busy, MemLimit: 64 * 1024 * 1024, PIDs: 1 });
    // A busy loop on a loaded 2-core machine may get well under a core; idle reads below 5.
    expect(b?.CPUPerc).toBeGreaterThan(5);
    expect(b?.MemUsage).toBeGreaterThan(0);
    expect(i).toMatchObject({ Name: idle, PIDs: 2 });
    expect(i?.CPUPerc).toBeLessThan(5);
    const top = await cli(['top', idle]);
    expect(top.stdout.match(/sleep 100/g)).toHaveLength(2);
    expect((await cli(['rm', '-f', busy, idle])).code).toBe(0);
  });

  it('count block I/O (direct and buffered writes) and the network I/O of the container', async () => {
    const name = unique('io');
    const script = [
      'dd if=/dev/zero of=/direct bs=1M count=4 oflag=direct 2>/dev/null',
      'dd if=/dev/zero of=/buffered bs=1M count=2 2>/dev/null',
      'ping -c 3 -W 1 $(ip route | awk "/default/ { print \\$3 }") >/dev/null',
      'echo done',
      'exec sleep 100',
    ].join('; ');
    try {
      await runDetached(name, ['sh', '-c', script], ['--network', 'bridge']);
      await until('the writes and pings', async () => (await cli(['logs', name])).stdout === 'done\n', 20_000);
      const r = await cli(['stats', '--no-stream', '--format', 'json', name]);
      expect(r.code).toBe(0);
      const s = JSON.parse(r.stdout) as { NetRx: number; NetTx: number; BlockRead: number; BlockWrite: number };
      expect(s.BlockWrite).toBeGreaterThanOrEqual(6 * 1024 * 1024);
      // Three echo requests out, three replies in (84 bytes of IP each, plus the ARP exchange).
      expect(s.NetTx).toBeGreaterThanOrEqual(3 * 98);
      expect(s.NetRx).toBeGreaterThanOrEqual(3 * 98);
      const table = await cli(['stats', '--no-stream', name]);
      expect(table.stdout.split('\n')[0]).toMatch(/NET I\/O\s+BLOCK I\/O\s+PIDS$/);
    } finally {
      await cli(['rm', '-f', name]);
      await cli(['network', 'prune', '-f']);
    }
  });
});

describe('logs', () => {
  it('are json-file lines per stream, with -t, --tail and --since', async () => {
    const name = unique('log');
    const id = await runDetached(name, [
      'sh',
      '-c',
      'echo out1; echo err1 >&2; echo out2; printf "no newline \\"q\\""',
    ]);
    expect((await cli(['wait', name])).stdout).toBe('0\n');
    const file = join(bed.root, 'containers.data', id, `${id}-json.log`);
    const lines = readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { log: string; stream: string; time: string });
    expect(lines.map((l) => [l.stream, l.log]).sort()).toEqual([
      ['stderr', 'err1\n'],
      ['stdout', 'no newline "q"'],
      ['stdout', 'out1\n'],
      ['stdout', 'out2\n'],
    ]);
    for (const l of lines) expect(l.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
    const all = await cli(['logs', name]);
    expect(all.stdout).toBe('out1\nout2\nno newline "q"');
    expect(all.stderr).toBe('err1\n');
    // stdout and stderr are separate pipes, so the file's last line may be either stream's.
    const last = lines[lines.length - 1];
    const tail = await cli(['logs', '--tail', '1', '-t', name]);
    expect(tail.stdout + tail.stderr).toBe(`${last?.time ?? ''} ${last?.log ?? ''}`);
    expect((await cli(['logs', '--since', '2999-01-01T00:00:00Z', name])).stdout).toBe('');
    expect((await cli(['rm', name])).code).toBe(0);
  });

  it('rotate by size and count, and logs -f follows across rotations to the end', async () => {
    const name = unique('rot');
    // About one rotation per 100 ms: a reader polling every 50 ms keeps up (a faster writer
    // may rotate a file out of existence before anyone reads it, as with Docker).
    const script = 'i=0; while [ $i -lt 200 ]; do echo "n $i"; i=$((i+1)); [ $((i % 5)) = 0 ] && sleep 0.04; done';
    const id = await runDetached(name, ['sh', '-c', script], ['--log-opt', 'max-size=1k', '--log-opt', 'max-file=3']);
    const follow = await cli(['logs', '-f', name]);
    expect(follow.code).toBe(0);
    const seen = follow.stdout
      .trim()
      .split('\n')
      .map((l) => Number(l.replace('n ', '')));
    // Early lines may be rotated out before the reader starts; from its first line on, none is missing.
    const first = seen[0] ?? 0;
    expect(seen).toEqual(Array.from({ length: 200 - first }, (_, i) => first + i));
    const dir = join(bed.root, 'containers.data', id);
    const files = readdirSync(dir).filter((f) => f.startsWith(`${id}-json.log`));
    expect(files.sort()).toEqual([`${id}-json.log`, `${id}-json.log.1`, `${id}-json.log.2`]);
    for (const f of files) expect(readFileSync(join(dir, f)).length).toBeLessThanOrEqual(1024);
    // The reader got far more than the three files hold: it followed through rotations.
    const kept = (await cli(['logs', name])).stdout.trim().split('\n');
    expect(kept.length).toBeLessThan(60);
    expect(seen.length).toBeGreaterThan(3 * kept.length);
    expect((await cli(['rm', name])).code).toBe(0);
  });

  it('never hold the container up: a stopped logs -f reader, 200k lines still flow', async () => {
    const name = unique('flood');
    await runDetached(name, ['sh', '-c', 'sleep 0.5; yes | head -n 200000; echo done']);
    const reader = spawn(
      process.execPath,
      [join(repoRoot, 'bin', 'tsdock.js'), '--root', bed.root, 'logs', '-f', name],
      {
        stdio: 'ignore',
      },
    );
    try {
      await sleep(300);
      reader.kill('SIGSTOP');
      const t = Date.now();
      expect((await cli(['wait', name])).stdout).toBe('0\n');
      expect(Date.now() - t).toBeLessThan(20_000);
      expect((await cli(['logs', '--tail', '1', name])).stdout).toBe('done\n');
    } finally {
      reader.kill('SIGKILL');
    }
    expect((await cli(['rm', name])).code).toBe(0);
  }, 60_000);

  it('refuses bad --log-opt values', async () => {
    const r = await cli(['run', '-d', '--log-opt', 'max-file=3', 'busybox', 'true']);
    expect(r.code).toBe(125);
    expect(r.stderr).toContain('max-file needs max-size');
  });
});

describe('no leftovers', () => {
  /** Processes of this root (monitors, exit commands): each one's argv names a path under it. */
  function processesOfRoot(): string[] {
    return readdirSync('/proc')
      .filter((p) => /^\d+$/.test(p))
      .filter((p) => {
        try {
          return readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(bed.root);
        } catch {
          return false;
        }
      });
  }

  function containerDirs(): string[] {
    return ['containers', 'containers.data'].flatMap((d) => {
      const dir = join(bed.root, d);
      return existsSync(dir) ? readdirSync(dir).map((id) => `${d}/${id}`) : [];
    });
  }

  /** Removed containers' directories whose files are still being deleted in the background. */
  function trashed(): string[] {
    const list = (dir: string): string[] => (existsSync(dir) ? readdirSync(dir) : []);
    const ids = new Set(list(join(bed.root, 'containers')));
    const ofNone = [join(bed.root, 'containers.data'), volatileContainersDir(bed.root)].flatMap((dir) =>
      list(dir).filter((id) => !ids.has(id)),
    );
    return [...list(join(bed.root, 'containers.trash')), ...ofNone];
  }

  it('is back at baseline after 200 run --rm cycles (library) and run -d / rm -f, run -d --rm (CLI)', async () => {
    const runtime = await Runtime.open({ root: bed.root });
    const mounts = await hostMounts();
    const cgroups = await cgroupsUnder(parent);
    const fds = readdirSync('/proc/self/fd').length;
    const before = containerDirs();
    for (let i = 0; i < 200; i++) {
      const result = await runtime.run('busybox', {
        command: ['true'],
        cgroupParent: parent,
        stdio: { stdin: 'ignore', output: 'ignore' },
      });
      expect(result.exitCode).toBe(0);
    }
    for (let i = 0; i < 5; i++) {
      const name = unique('loop');
      await runDetached(name, ['sleep', '100']);
      expect((await cli(['rm', '-f', name])).code).toBe(0);
      await runDetached(unique('loop-rm'), ['true'], ['--rm']);
    }
    // The detached --rm ones are removed by their monitors' exit commands.
    await until('the --rm containers to go', () => containerDirs().length === before.length);
    await until('every process of the root to end', () => processesOfRoot().length === 0);
    await until("the removed containers' files to be deleted", () => trashed().length === 0);
    expect(containerDirs()).toEqual(before);
    expect(await hostMounts()).toEqual(mounts);
    expect(await cgroupsUnder(parent)).toEqual(cgroups);
    expect(readdirSync('/proc/self/fd')).toHaveLength(fds);
  }, 240_000);
});
