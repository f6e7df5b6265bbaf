/**
 * tsdock-monitor against the real kernel (runs as root): hand-written spawn plans over a busybox
 * rootfs, checked from the outside (status lines, exit file, cgroups, mounts) and from the inside
 * (busybox reporting what it sees). Build first: `make build` (or node-gyp in native/).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import {
  chmodSync,
  closeSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmdirSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Duplex, Readable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { monitorPath, native } from '../../src/native.js';
import { inputFrames, MonitorFrameReader, resizeFrame } from '../../src/runtime/attach-protocol.js';
import { encodePlan } from '../../src/runtime/plan-codec.js';
import { idmapLayerOp } from '../../src/runtime/plan-builder.js';
import type { FsOp, SpawnPlan } from '../../src/runtime/plan.js';
import { eventually } from '../helpers/eventually.js';

const MS = {
  RDONLY: 0x1n,
  NOSUID: 0x2n,
  NODEV: 0x4n,
  NOEXEC: 0x8n,
  BIND: 0x1000n,
  REC: 0x4000n,
  PRIVATE: 0x40000n,
};
const RLIMIT_NOFILE = 7;
const ENOENT = 2;
const EACCES = 13;
const ENODEV = 19;
const ECANCELED = 125;
/** Docker's default capability set. */
const DEFAULT_CAPS = [0, 1, 3, 4, 5, 6, 7, 8, 10, 13, 18, 27, 29, 31];
const USERNS_HOST_ID = 100000;
/** A /proc stat start time, as the monitor reports it. */
const DIGITS = expect.stringMatching(/^[1-9][0-9]*$/) as string;

type StatusLine =
  | { type: 'started'; pid: number; startTime: string; monitorStartTime: string }
  | { type: 'error'; step: string; errno: number; path: string; message: string }
  | { type: 'exited'; exitCode: number; signal: number; oomKilled: boolean; cgroupRemoved: boolean };

interface Result {
  code: number | null;
  lines: StatusLine[];
  stdout: string;
  stderr: string;
}

interface Container {
  dir: string;
  rootfs: string;
  upper: string;
  work: string;
  exitFile: string;
}

let base = '';
let lower = '';
let lowerUserns = '';
let containers = 0;
const cgroupsMade: string[] = [];

/** A busybox rootfs: the static binary, its applet links, and a file that is not executable. */
function makeLower(dir: string): void {
  for (const d of ['bin', 'sbin', 'usr/bin', 'usr/sbin', 'etc', 'proc', 'dev', 'tmp', 'root', 'mnt']) {
    mkdirSync(join(dir, d), { recursive: true });
  }
  copyFileSync('/bin/busybox', join(dir, 'bin/busybox'));
  chmodSync(join(dir, 'bin/busybox'), 0o755);
  const applets = execFileSync('/bin/busybox', ['--list-full'], { encoding: 'utf8' }).split('\n');
  for (const applet of applets.filter((a) => a !== '' && a !== 'bin/busybox')) {
    symlinkSync('/bin/busybox', join(dir, applet));
  }
  writeFileSync(join(dir, 'bin/not-executable'), '#!/bin/sh\necho never\n', { mode: 0o644 });
  mkdirSync(join(dir, 'opt/tools'), { recursive: true });
  writeFileSync(join(dir, 'opt/tools/greet'), '#!/bin/sh\necho "hello from $0"\n', { mode: 0o755 });
}

function newContainer(owner?: number): Container {
  const dir = join(base, `c${++containers}`);
  const c = { dir, rootfs: join(dir, 'rootfs'), upper: join(dir, 'upper'), work: join(dir, 'work') };
  for (const d of [c.rootfs, c.upper, c.work]) mkdirSync(d, { recursive: true });
  if (owner !== undefined) execFileSync('chown', ['-R', `${owner}:${owner}`, dir]);
  return { ...c, exitFile: join(dir, 'exit.json') };
}

/** Runs the monitor on `p` with `fd` as its fd 4, named by `flag`: its exit code and stdout. */
async function runGiven(
  c: Container,
  p: SpawnPlan,
  flag: string,
  fd: number,
): Promise<{ code: number | null; stdout: string }> {
  const planFile = join(c.dir, 'plan.bin');
  writeFileSync(planFile, encodePlan(p));
  const monitor = spawn(monitorPath(), [flag, '4', planFile], { stdio: ['ignore', 'pipe', 'inherit', 'ignore', fd] });
  let stdout = '';
  monitor.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  const [code] = (await once(monitor, 'close')) as [number | null];
  return { code, stdout };
}

function caps(list: number[], ambient: number[] = []): SpawnPlan['capabilities'] {
  return { bounding: list, effective: list, permitted: list, inheritable: ambient, ambient };
}

function overlayOps(c: Container, lowerDir: string): FsOp[] {
  return [
    {
      kind: 'mount',
      source: 'overlay',
      target: c.rootfs,
      fstype: 'overlay',
      flags: 0n,
      data: `lowerdir=${lowerDir},upperdir=${c.upper},workdir=${c.work}`,
    },
    {
      kind: 'mount',
      source: 'proc',
      target: join(c.rootfs, 'proc'),
      fstype: 'proc',
      flags: MS.NOSUID | MS.NODEV | MS.NOEXEC,
      data: '',
      createTarget: 'dir',
    },
    {
      kind: 'mount',
      source: 'tmpfs',
      target: join(c.rootfs, 'dev'),
      fstype: 'tmpfs',
      flags: MS.NOSUID,
      data: 'mode=755,size=1m',
      createTarget: 'dir',
    },
  ];
}

const deviceOps: FsOp[] = [
  { kind: 'mknod', target: '/dev/null', mode: 0o20666, major: 1, minor: 3 },
  { kind: 'mknod', target: '/dev/zero', mode: 0o20666, major: 1, minor: 5 },
  { kind: 'mknod', target: '/dev/urandom', mode: 0o20666, major: 1, minor: 9 },
  { kind: 'symlink', linkTarget: '/proc/self/fd', target: '/dev/fd' },
  { kind: 'mkdir', target: '/dev/shm', mode: 0o1777 },
  { kind: 'mask', target: '/proc/timer_list' },
  { kind: 'mask', target: '/proc/irq' },
  { kind: 'mask', target: '/proc/does-not-exist' },
  { kind: 'readonly', target: '/proc/sys' },
];

function plan(c: Container, args: string[], overrides: Partial<SpawnPlan> = {}): SpawnPlan {
  return {
    args,
    env: ['PATH=/usr/sbin:/usr/bin:/sbin:/bin', 'HOME=/root'],
    cwd: '/',
    hostname: 'ctr-hostname',
    rootfs: c.rootfs,
    namespaces: ['mount', 'pid', 'uts', 'ipc', 'network'],
    joinNamespaces: [],
    uidMappings: [],
    gidMappings: [],
    user: { uid: 0, gid: 0, additionalGids: [] },
    capabilities: caps(DEFAULT_CAPS),
    noNewPrivileges: true,
    rlimits: [],
    rootfsPropagation: MS.REC | MS.PRIVATE,
    rootfsOps: overlayOps(c, lower),
    containerOps: deviceOps,
    readonlyRootfs: false,
    loopbackUp: true,
    cgroupProcs: [],
    cgroupDirs: [],
    exitFile: c.exitFile,
    ...overrides,
  };
}

/**
 * Runs the monitor on a plan until it exits. fd 3 carries the status lines; fd 4 is an extra
 * inherited descriptor that the container must not see.
 */
async function run(
  p: SpawnPlan,
  whenStarted?: (monitor: ChildProcess) => void,
  {
    stdio = ['pipe', 'pipe', 'pipe', 'pipe', 'pipe'],
    wrapper,
  }: { stdio?: 'pipe'[]; wrapper?: [string, ...string[]] } = {},
): Promise<Result> {
  const planFile = join(dirname(p.rootfs ?? ''), 'plan.bin');
  writeFileSync(planFile, encodePlan(p));
  const monitor = wrapper
    ? spawn(wrapper[0], [...wrapper.slice(1), monitorPath(), planFile], { stdio })
    : spawn(monitorPath(), [planFile], { stdio });
  const guard = setTimeout(() => monitor.kill('SIGKILL'), 20_000);
  let stdout = '';
  let stderr = '';
  let status = '';
  monitor.stdin.end();
  monitor.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  monitor.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  (monitor.stdio[3] as Readable | null)?.setEncoding('utf8').on('data', (d: string) => {
    const first = !status.includes('"started"');
    status += d;
    if (first && status.includes('"started"')) whenStarted?.(monitor);
  });
  const code = await new Promise<number | null>((resolve) => monitor.on('close', resolve));
  clearTimeout(guard);
  const lines = status
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as StatusLine);
  return { code, lines, stdout, stderr };
}

/** The monitor started the container, which exited with code (and signal). */
function expectExit(r: Result, exitCode: number, signal = 0): void {
  expect(r.lines).toEqual([
    { type: 'started', pid: expect.any(Number) as number, startTime: DIGITS, monitorStartTime: DIGITS },
    { type: 'exited', exitCode, signal, oomKilled: false, cgroupRemoved: true },
  ]);
  expect(r.code).toBe(0);
}

/** The monitor reported a set-up failure and started nothing. */
function expectError(r: Result, step: string, errno: number, path: string): void {
  expect(r.lines).toEqual([{ type: 'error', step, errno, path, message: expect.any(String) as string }]);
  expect(r.code).toBe(1);
}

/** A cgroup's place under the test process's own one in a hierarchy, e.g. "memory" or "" (cgroup2). */
function cgroupPath(controller: string): string {
  const line = readFileSync('/proc/self/cgroup', 'utf8')
    .split('\n')
    .find((l) => l.split(':')[1] === controller);
  if (line === undefined) throw new Error(`no ${controller || 'cgroup2'} hierarchy`);
  const root = controller === '' ? '/sys/fs/cgroup/unified' : `/sys/fs/cgroup/${controller}`;
  return join(root, line.split(':')[2] ?? '/', `tsdock-test-${process.pid}-${++containers}`);
}

/** Makes the cgroup at `dir` (cgroupPath); afterEach removes what the monitor left. */
function makeCgroupAt(dir: string): string {
  mkdirSync(dir);
  cgroupsMade.push(dir);
  return dir;
}

function makeCgroup(controller: string): string {
  return makeCgroupAt(cgroupPath(controller));
}

/** Mounts under the test's temp dir: the container's must all stay in its own namespace. */
function ourMounts(): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((l) => l.split(' ')[4]?.startsWith(base));
}

beforeAll(() => {
  base = mkdtempSync(join(tmpdir(), 'tsdock-monitor-'));
  // The user-namespaced container's root (host uid 100000) must be able to walk to its layers.
  chmodSync(base, 0o755);
  lower = join(base, 'lower');
  makeLower(lower);
  lowerUserns = join(base, 'lower-userns');
  makeLower(lowerUserns);
  execFileSync('chown', ['-R', `${USERNS_HOST_ID}:${USERNS_HOST_ID}`, lowerUserns]);
});

afterEach(() => {
  expect(ourMounts()).toEqual([]);
  for (const dir of cgroupsMade.splice(0)) if (existsSync(dir)) rmdirSync(dir);
});

afterAll(() => {
  if (base !== '') rmSync(base, { recursive: true, force: true });
});

describe('tsdock-monitor', () => {
  it('reports a clean exit and writes the exit file atomically', async () => {
    const c = newContainer();
    const r = await run(plan(c, ['true']));
    expectExit(r, 0);
    const started = r.lines[0];
    expect(started?.type === 'started' && started.pid > 1).toBe(true);
    expect(r.stdout + r.stderr).toBe('');
  });

  it('passes on the exit code and records it in the exit file', async () => {
    const c = newContainer();
    const before = Date.now();
    const r = await run(plan(c, ['sh', '-c', 'exit 3']));
    expectExit(r, 3);
    const exit = JSON.parse(readFileSync(c.exitFile, 'utf8')) as Record<string, unknown>;
    expect(exit).toEqual({
      exitCode: 3,
      signal: 0,
      oomKilled: false,
      reason: 'exited',
      restartCount: 0,
      finishedAt: expect.any(String) as string,
    });
    const finishedAt = Date.parse(exit.finishedAt as string);
    expect(exit.finishedAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(finishedAt).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000);
    expect(finishedAt).toBeLessThanOrEqual(Date.now());
    expect(readdirSync(c.dir).filter((f) => f.includes('tmp'))).toEqual([]);
  });

  // The init of a pid namespace ignores signals it has no handler for, even SIGKILL from
  // inside (pid_namespaces(7)), so these two run the command without a pid namespace.
  it('reports death by a signal as 128+N', async () => {
    const c = newContainer();
    const r = await run(plan(c, ['sh', '-c', 'kill -9 $$'], { namespaces: ['mount', 'uts', 'ipc'] }));
    expectExit(r, 137, 9);
    expect(JSON.parse(readFileSync(c.exitFile, 'utf8'))).toMatchObject({ exitCode: 137, signal: 9 });
  });

  it('forwards SIGTERM to the container, and reports both processes by pid and start time', async () => {
    const c = newContainer();
    /** Field 22 of /proc/<pid>/stat. */
    const startTime = (pid: number | string): string =>
      readFileSync(`/proc/${String(pid)}/stat`, 'utf8')
        .split(') ')[1]
        ?.split(' ')[19] ?? '';
    let seen: { init: number; startTime: string; monitorStartTime: string } | undefined;
    const r = await run(plan(c, ['sleep', '30'], { namespaces: ['mount', 'uts', 'ipc'] }), (monitor) => {
      const pid = monitor.pid ?? 0;
      const init = Number(readFileSync(`/proc/${String(pid)}/task/${String(pid)}/children`, 'utf8').trim());
      seen = { init, startTime: startTime(init), monitorStartTime: startTime(pid) };
      monitor.kill('SIGTERM');
    });
    expectExit(r, 143, 15);
    expect(r.lines[0]).toEqual({
      type: 'started',
      pid: seen?.init,
      startTime: seen?.startTime,
      monitorStartTime: seen?.monitorStartTime,
    });
  });

  it('sets the hostname and makes the command pid 1 of its namespace', async () => {
    const c = newContainer();
    const r = await run(plan(c, ['sh', '-c', 'hostname; echo $$; cat /proc/sys/kernel/hostname']));
    expectExit(r, 0);
    expect(r.stdout).toBe('ctr-hostname\n1\nctr-hostname\n');
  });

  it('leaves the container only stdin, stdout and stderr, and default signal handling', async () => {
    const c = newContainer();
    const r = await run(plan(c, ['ls', '/proc/self/fd']));
    expectExit(r, 0);
    // 3 is the directory ls itself opened to list.
    expect(r.stdout.split('\n').filter((l) => l !== '')).toEqual(['0', '1', '2', '3']);

    const signals = await run(plan(newContainer(), ['grep', '-E', '^Sig(Blk|Ign)', '/proc/self/status']));
    expectExit(signals, 0);
    expect(signals.stdout).toBe('SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n');
  });

  it('sets up devices, masked and read-only paths, the working directory and lo', async () => {
    const c = newContainer();
    const script = [
      'pwd',
      'stat -c "%a %t:%T" /dev/shm /dev/null',
      'readlink /dev/fd',
      'wc -c < /proc/timer_list',
      'ls -A /proc/irq | wc -l',
      'echo x 2>/dev/null > /proc/sys/kernel/hostname || echo sys-ro',
      'ip -o link show lo | grep -o "<.*>"',
    ].join('; ');
    const r = await run(plan(c, ['sh', '-c', script], { cwd: '/tmp' }));
    expectExit(r, 0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('/tmp\n1777 0:0\n666 1:3\n/proc/self/fd\n0\n0\nsys-ro\n<LOOPBACK,UP,LOWER_UP>\n');
  });

  it('applies the capability sets', async () => {
    const c = newContainer();
    const grep = ['grep', '-E', '^Cap(Eff|Bnd|Amb)', '/proc/self/status'];
    const asRoot = await run(plan(c, grep, { capabilities: caps([0, 1, 3, 5, 6, 7, 10]) }));
    expectExit(asRoot, 0);
    expect(asRoot.stdout).toBe('CapEff:\t00000000000004eb\nCapBnd:\t00000000000004eb\nCapAmb:\t0000000000000000\n');

    // A non-root user keeps across execve only what is ambient (capabilities(7)).
    const c2 = newContainer();
    const asUser = await run(
      plan(c2, grep, { user: { uid: 1000, gid: 1000, additionalGids: [] }, capabilities: caps([7, 10], [10]) }),
    );
    expectExit(asUser, 0);
    expect(asUser.stdout).toBe('CapEff:\t0000000000000400\nCapBnd:\t0000000000000480\nCapAmb:\t0000000000000400\n');
  });

  it('runs as the given uid, gid and supplementary groups', async () => {
    const c = newContainer();
    const r = await run(
      plan(c, ['sh', '-c', 'id -u; id -g; id -G; grep NoNewPrivs /proc/self/status'], {
        user: { uid: 1000, gid: 1001, additionalGids: [10, 20] },
      }),
    );
    expectExit(r, 0);
    expect(r.stdout).toBe('1000\n1001\n1001 10 20\nNoNewPrivs:\t1\n');
  });

  it('applies rlimits and oom_score_adj', async () => {
    const c = newContainer();
    const r = await run(
      plan(c, ['sh', '-c', 'ulimit -n; ulimit -Hn; cat /proc/self/oom_score_adj'], {
        rlimits: [{ resource: RLIMIT_NOFILE, soft: 1234n, hard: 2345n }],
        oomScoreAdj: 500,
      }),
    );
    expectExit(r, 0);
    expect(r.stdout).toBe('1234\n2345\n500\n');
  });

  it("searches the container's PATH, not the monitor's", async () => {
    const c = newContainer();
    const r = await run(plan(c, ['greet'], { env: ['PATH=/nowhere::/opt/tools:/bin'] }));
    expectExit(r, 0);
    expect(r.stdout).toBe('hello from /opt/tools/greet\n');
  });

  it('joins the namespaces it is given, and reports one it cannot open', async () => {
    const holder = spawn('unshare', ['--uts', 'sh', '-c', 'hostname joined-uts && echo ready && exec sleep 30'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      await new Promise((resolve) => holder.stdout.once('data', resolve));
      const uts = `/proc/${String(holder.pid)}/ns/uts`;
      const joined = await run(
        plan(newContainer(), ['hostname'], {
          namespaces: ['mount', 'pid'],
          joinNamespaces: [{ type: 'uts', path: uts }],
          hostname: undefined,
        }),
      );
      expectExit(joined, 0);
      expect(joined.stdout).toBe('joined-uts\n');
    } finally {
      holder.kill('SIGKILL');
    }
    const missing = join(base, 'no-such-ns');
    const r = await run(plan(newContainer(), ['true'], { joinNamespaces: [{ type: 'network', path: missing }] }));
    expectError(r, 'setns', ENOENT, missing);
  });

  it('reports a missing command as exec ENOENT', async () => {
    const c = newContainer();
    const r = await run(plan(c, ['no-such-command']));
    expectError(r, 'exec', ENOENT, 'no-such-command');
    expect(existsSync(c.exitFile)).toBe(false);
  });

  it('reports a file that is not executable as exec EACCES, by path and by PATH search', async () => {
    const byPath = await run(plan(newContainer(), ['/bin/not-executable']));
    expectError(byPath, 'exec', EACCES, '/bin/not-executable');
    const bySearch = await run(plan(newContainer(), ['not-executable']));
    expectError(bySearch, 'exec', EACCES, 'not-executable');
  });

  it('reports a failed mount with its target and removes the cgroup it made', async () => {
    const c = newContainer();
    const cgroup = makeCgroup('pids');
    const target = join(c.rootfs, 'mnt');
    const broken: FsOp = { kind: 'mount', source: 'x', target, fstype: 'no-such-fs', flags: 0n, data: '' };
    const r = await run(
      plan(c, ['true'], {
        rootfsOps: [...overlayOps(c, lower), broken],
        cgroupProcs: [join(cgroup, 'cgroup.procs')],
        cgroupDirs: [cgroup],
      }),
    );
    expectError(r, 'mount', ENODEV, target);
    expect(existsSync(cgroup)).toBe(false);
  });

  it('reports a path that needs JSON escaping as it is', async () => {
    const c = newContainer();
    const target = join(c.rootfs, 'odd "name"\\\n\té');
    const missing: FsOp = { kind: 'mount', source: 'tmpfs', target, fstype: 'tmpfs', flags: 0n, data: '' };
    const r = await run(plan(c, ['true'], { rootfsOps: [...overlayOps(c, lower), missing] }));
    expectError(r, 'mount', ENOENT, target);
  });

  it('places the process in its cgroups before it runs, and removes them after', async () => {
    const memory = makeCgroup('memory');
    const unified = makeCgroup('');
    const cgroupPlan = (c: Container, namespaces: SpawnPlan['namespaces']): SpawnPlan =>
      plan(c, ['grep', '-E', '^(0|[0-9]+:memory):', '/proc/self/cgroup'], {
        namespaces,
        cgroupProcs: [join(memory, 'cgroup.procs'), join(unified, 'cgroup.procs')],
      });
    const outside = await run(cgroupPlan(newContainer(), ['mount', 'pid']));
    expectExit(outside, 0);
    const lines = outside.stdout.split('\n').filter((l) => l !== '');
    expect(lines.map((l) => l.split(':').slice(1).join(':')).sort()).toEqual([
      `:${unified.slice('/sys/fs/cgroup/unified'.length)}`,
      `memory:${memory.slice('/sys/fs/cgroup/memory'.length)}`,
    ]);

    // In a cgroup namespace made after placement, those cgroups are its root.
    const inside = await run({
      ...cgroupPlan(newContainer(), ['mount', 'pid', 'cgroup']),
      cgroupDirs: [memory, unified],
    });
    expectExit(inside, 0);
    expect(
      inside.stdout
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => l.split(':').slice(1).join(':'))
        .sort(),
    ).toEqual([':/', 'memory:/']);
    expect(existsSync(memory) || existsSync(unified)).toBe(false);

    // One it cannot remove (here no cgroup but a directory with a file in it) is left to the caller.
    const stuck = join(base, `stuck-${String(++containers)}`);
    mkdirSync(stuck);
    writeFileSync(join(stuck, 'file'), '');
    const kept = await run(plan(newContainer(), ['true'], { cgroupDirs: [stuck] }));
    expect(kept.lines.at(-1)).toEqual({
      type: 'exited',
      exitCode: 0,
      signal: 0,
      oomKilled: false,
      cgroupRemoved: false,
    });
    expect(kept.code).toBe(1);
  });

  it('records an OOM kill from the v1 memory controller', async () => {
    const c = newContainer();
    const memory = makeCgroup('memory');
    writeFileSync(join(memory, 'memory.limit_in_bytes'), String(16 << 20));
    // With swap accounting, swap counts too: otherwise dd would swap instead of being killed.
    const memsw = join(memory, 'memory.memsw.limit_in_bytes');
    if (existsSync(memsw)) writeFileSync(memsw, String(16 << 20));
    const r = await run(
      plan(c, ['dd', 'if=/dev/zero', 'of=/dev/null', 'bs=64M', 'count=1'], {
        cgroupProcs: [join(memory, 'cgroup.procs')],
        cgroupDirs: [memory],
        oom: { driver: 'v1', path: join(memory, 'memory.oom_control') },
      }),
    );
    expect(r.lines.at(-1)).toEqual({ type: 'exited', exitCode: 137, signal: 9, oomKilled: true, cgroupRemoved: true });
    expect(JSON.parse(readFileSync(c.exitFile, 'utf8'))).toMatchObject({ exitCode: 137, oomKilled: true });
    expect(existsSync(memory)).toBe(false);
  });

  it('idmaps a root-owned layer into the user namespace; a failed idmap is reported as (step, errno, path)', async () => {
    const c = newContainer(USERNS_HOST_ID);
    const map = [{ containerID: 0, hostID: USERNS_HOST_ID, size: 65536 }];
    const userns = (rootfsOps: FsOp[]): SpawnPlan =>
      plan(c, ['sh', '-c', 'stat -c %u:%g /bin/busybox /etc; touch /etc/new && stat -c %u /etc/new'], {
        namespaces: ['user', 'mount', 'pid', 'uts', 'ipc', 'network', 'cgroup'],
        uidMappings: map,
        gidMappings: map,
        rootfsOps,
        containerOps: [],
      });
    // `lower` belongs to the host's root: only the idmap makes it the namespace's root's.
    const r = await run(userns([idmapLayerOp(lower), ...overlayOps(c, lower)]));
    expectExit(r, 0);
    expect(r.stdout).toBe('0:0\n0:0\n0\n');
    expect(statSync(join(c.upper, 'etc/new')).uid).toBe(USERNS_HOST_ID);

    const missing = join(base, 'no-such-layer');
    expectError(await run(userns([idmapLayerOp(missing), ...overlayOps(c, lower)])), 'idmap', ENOENT, missing);
  });

  it('runs as root of a user namespace over a rootfs owned by the mapped root', async () => {
    const c = newContainer(USERNS_HOST_ID);
    const map = [{ containerID: 0, hostID: USERNS_HOST_ID, size: 65536 }];
    // No mknod in a user namespace: the devices are bind mounts of the host's.
    const devices: FsOp[] = ['null', 'zero', 'urandom'].map((d) => ({
      kind: 'mount',
      source: `/dev/${d}`,
      target: join(c.rootfs, 'dev', d),
      fstype: '',
      flags: MS.BIND,
      data: '',
      createTarget: 'file',
    }));
    // A read-only bind from a nosuid,nodev,noexec mount of the monitor's namespace: the user
    // namespace locks those flags, so the remount fails unless it repeats them.
    const locked = join(c.dir, 'locked');
    mkdirSync(locked);
    const wrapper: [string, ...string[]] = [
      'unshare',
      ...['--mount', '--propagation', 'private', 'sh', '-c'],
      `mount -t tmpfs -o nosuid,nodev,noexec tmpfs "$0" && install -d -o ${USERNS_HOST_ID} "$0/data" && exec "$@"`,
      locked,
    ];
    const shared: FsOp = {
      kind: 'mount',
      source: join(locked, 'data'),
      target: join(c.rootfs, 'mnt/shared'),
      fstype: '',
      flags: MS.BIND | MS.REC,
      data: '',
      createTarget: 'dir',
      readonly: true,
    };
    const script = [
      'id -u; id -g; cat /proc/self/uid_map /proc/self/gid_map',
      'grep -o " /mnt/shared [^ ]*" /proc/self/mountinfo',
      'touch /mnt/shared/x 2>/dev/null || echo shared-ro',
      'touch /x 2>/dev/null || echo root-ro',
    ].join('; ');
    const r = await run(
      plan(c, ['sh', '-c', script], {
        namespaces: ['user', 'mount', 'pid', 'uts', 'ipc', 'network', 'cgroup'],
        uidMappings: map,
        gidMappings: map,
        capabilities: caps(DEFAULT_CAPS),
        rootfsOps: [...overlayOps(c, lowerUserns), ...devices, shared],
        containerOps: deviceOps.filter((op) => op.kind !== 'mknod'),
        readonlyRootfs: true,
      }),
      undefined,
      { wrapper },
    );
    expectExit(r, 0);
    const [uid, gid, uidMap, gidMap, ...rest] = r.stdout.split('\n');
    expect([uid, gid]).toEqual(['0', '0']);
    expect(uidMap?.trim().split(/\s+/)).toEqual(['0', '100000', '65536']);
    expect(gidMap?.trim().split(/\s+/)).toEqual(['0', '100000', '65536']);
    expect(rest).toEqual([' /mnt/shared ro,nosuid,nodev,noexec,relatime', 'shared-ro', 'root-ro', '']);
  });

  it('with --await-cgroup places and runs nothing before the caller says go, and nothing at all if it hangs up', async () => {
    /**
     * A monitor on a plan whose cgroup (in `controller`'s hierarchy) is not made yet, waiting for
     * the caller; its command leaves its /proc/self/cgroup in /ran in its upper dir.
     */
    const waitingMonitor = async (controller: string) => {
      const c = newContainer();
      const cgroup = cgroupPath(controller);
      const planFile = join(c.dir, 'plan.bin');
      const p = plan(c, ['sh', '-c', 'cat /proc/self/cgroup >/ran'], {
        cgroupProcs: [join(cgroup, 'cgroup.procs')],
        cgroupDirs: [cgroup],
      });
      writeFileSync(planFile, encodePlan(p));
      const monitor = spawn(monitorPath(), ['--await-cgroup', planFile], {
        stdio: ['ignore', 'ignore', 'inherit', 'pipe'],
      });
      const pid = String(monitor.pid);
      const status = monitor.stdio[3] as Duplex;
      let text = '';
      status.setEncoding('utf8').on('data', (d: string) => (text += d));
      const code = new Promise<number | null>((resolve) => monitor.on('close', resolve));
      // Set up and waiting: blocked in read(2) (syscall 0) on its status fd.
      await eventually(async () => {
        if (!readFileSync(`/proc/${pid}/syscall`, 'utf8').startsWith('0 0x3 ')) {
          throw new Error('the monitor does not wait on its status fd');
        }
      });
      const lines = (): StatusLine[] =>
        text
          .split('\n')
          .filter((l) => l !== '')
          .map((l) => JSON.parse(l) as StatusLine);
      const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
        .split(' ')
        .filter((c) => c !== '');
      return { cgroup, ran: join(c.upper, 'ran'), status, lines, code, children };
    };
    const ownPath = (cgroup: string, root: string): string => cgroup.slice(root.length);

    // v1: nothing else to wait for, so the child is cloned (and mounting) already; it is placed
    // once the caller made the cgroup.
    const v1 = await waitingMonitor('pids');
    expect(v1.children).toHaveLength(1);
    expect(v1.lines()).toEqual([]);
    expect(existsSync(v1.ran)).toBe(false);
    makeCgroupAt(v1.cgroup);
    v1.status.write('c');
    expect(await v1.code).toBe(0);
    expect(v1.lines().map((l) => l.type)).toEqual(['started', 'exited']);
    expect(readFileSync(v1.ran, 'utf8')).toContain(`:pids:${ownPath(v1.cgroup, '/sys/fs/cgroup/pids')}\n`);

    // cgroup2: the child is born in its cgroup, so the clone waits for it.
    const v2 = await waitingMonitor('');
    expect(v2.children).toEqual([]);
    makeCgroupAt(v2.cgroup);
    v2.status.write('c');
    expect(await v2.code).toBe(0);
    expect(readFileSync(v2.ran, 'utf8')).toContain(`0::${ownPath(v2.cgroup, '/sys/fs/cgroup/unified')}\n`);

    // Hanging up ends either monitor with its command never run, and its child (if any) gone.
    for (const controller of ['pids', '']) {
      const hungUp = await waitingMonitor(controller);
      hungUp.status.end();
      expect(await hungUp.code).toBe(1);
      expect(hungUp.lines()).toEqual([
        { type: 'error', step: 'cgroup', errno: ECANCELED, path: '', message: expect.any(String) as string },
      ]);
      expect(existsSync(hungUp.ran)).toBe(false);
      for (const child of hungUp.children) expect(existsSync(`/proc/${child}`)).toBe(false);
    }
  });

  it('with --netns-fd runs the container in that network namespace instead of a new one', async () => {
    const netns = await native().newNetworkNamespace();
    try {
      const c = newContainer();
      const { code, stdout } = await runGiven(c, plan(c, ['readlink', '/proc/self/ns/net']), '--netns-fd', netns);
      expect(code).toBe(0);
      expect(stdout).toBe(`${readlinkSync(`/proc/self/fd/${String(netns)}`)}\n`);
    } finally {
      closeSync(netns);
    }
  });

  it("with --rootfs-fd attaches that mount as the rootfs instead of mounting the plan's", async () => {
    const c = newContainer();
    // The plan mounts the usual layers; the mount made ahead has one more on top.
    const extra = join(c.dir, 'extra');
    mkdirSync(extra);
    writeFileSync(join(extra, 'made-ahead'), 'yes\n');
    const rootfs = await native().mountOverlay([extra, lower], c.upper, c.work, []);
    try {
      const { code, stdout } = await runGiven(c, plan(c, ['cat', '/made-ahead']), '--rootfs-fd', rootfs);
      expect(stdout).toBe('yes\n');
      expect(code).toBe(0);
    } finally {
      closeSync(rootfs);
    }
    // Without it, the plan's own overlay: no such file.
    const own = await run(plan(c, ['cat', '/made-ahead']));
    expect(own.stderr).toContain("can't open '/made-ahead'");
    expect(JSON.parse(readFileSync(c.exitFile, 'utf8'))).toMatchObject({ exitCode: 1 });
  });

  it('runs without a status fd, and rejects a plan it cannot decode', async () => {
    const c = newContainer();
    const silent = await run(plan(c, ['sh', '-c', 'exit 4']), undefined, { stdio: ['pipe', 'pipe', 'pipe'] });
    expect(silent.code).toBe(0);
    expect(JSON.parse(readFileSync(c.exitFile, 'utf8'))).toMatchObject({ exitCode: 4 });

    const planFile = join(c.dir, 'garbage.bin');
    writeFileSync(planFile, 'not a plan');
    const bad = spawn(monitorPath(), [planFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    bad.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const code = await new Promise<number | null>((resolve) => bad.on('close', resolve));
    expect(code).toBe(2);
    expect(stderr).toBe(`tsdock-monitor: ${planFile}: bad magic: not a spawn plan\n`);
  });

  it('gives the process a pty of its own devpts and serves its master to a client on --attach-fd', async () => {
    const c = newContainer();
    const devpts: FsOp[] = [
      {
        kind: 'mount',
        source: 'devpts',
        target: '/dev/pts',
        fstype: 'devpts',
        flags: MS.NOSUID | MS.NOEXEC,
        data: 'newinstance,ptmxmode=0666,mode=0620,gid=5',
        createTarget: 'dir',
      },
      { kind: 'symlink', linkTarget: 'pts/ptmx', target: '/dev/ptmx' },
    ];
    const script = 'tty; stty size; stat -c "owner %u:%g" "$(tty)"; read line; stty size; echo "got $line"; exit 3';
    const p = plan(c, ['sh', '-c', script], {
      containerOps: [...deviceOps, ...devpts],
      user: { uid: 1000, gid: 1000, additionalGids: [] },
      terminal: { rows: 30, cols: 100 },
    });
    const planFile = join(c.dir, 'plan.bin');
    writeFileSync(planFile, encodePlan(p));
    const monitor = spawn(monitorPath(), ['--attach-fd', '4', planFile], {
      stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'],
    });
    const guard = setTimeout(() => monitor.kill('SIGKILL'), 20_000);
    const client = monitor.stdio[4] as Duplex;
    const reader = new MonitorFrameReader();
    let output = '';
    let exitCode: number | undefined;
    let answered = false;
    client.on('data', (chunk: Buffer) => {
      for (const f of reader.push(chunk)) {
        if (f.type === 'exit') exitCode = f.exitCode;
        else output += f.data.toString();
        // Asked for input: resize first, so the second `stty size` must see it.
        if (f.type === 'output' && output.includes('owner ') && !answered) {
          answered = true;
          // Not end(): a client that closes its side has detached.
          client.write(Buffer.concat([resizeFrame(40, 120), inputFrames(Buffer.from('hello\n'))]));
        }
      }
    });
    const code = await new Promise<number | null>((resolve) => monitor.on('close', resolve));
    clearTimeout(guard);
    expect(code).toBe(0);
    // The terminal's own newline translation (onlcr) shows the output came through a pty.
    expect(output).toBe('/dev/pts/0\r\n30 100\r\nowner 1000:5\r\nhello\r\n40 120\r\ngot hello\r\n');
    expect(exitCode).toBe(3);
    expect(JSON.parse(readFileSync(c.exitFile, 'utf8'))).toMatchObject({ exitCode: 3 });
  });
});
