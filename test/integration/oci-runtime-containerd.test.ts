/**
 * containerd drives tsdock-runtime as it drives runc: Debian's containerd on a private socket,
 * root and state dir (CRI and every network-reaching plugin off), the busybox image imported,
 * then `ctr run --runc-binary tsdock-runtime` through containerd-shim-runc-v2. At the end
 * containerd and the shims it started are killed by pid, and their mounts and dirs removed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { native } from '../../src/native.js';
import { removeCgroupParent, repoRoot, uniqueCgroupParent, type CliResult } from '../helpers/host.js';
import { RUNTIME } from '../helpers/oci.js';

const NS = 'tsdocktest';
const IMAGE = 'docker.io/library/busybox:latest';
const parent = uniqueCgroupParent('ctrd');
/** Empty until beforeAll made them: afterAll cleans up after a half-done set-up too. */
let dir = '';
let socket = '';
let containerd: ChildProcess | undefined;
const runContainerdExisted = existsSync('/run/containerd');
let counter = 0;

function run(cmd: string, args: string[]): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      resolve({ code, signal, stdout, stderr });
    });
  });
}

function ctr(args: string[]): Promise<CliResult> {
  return run('ctr', ['-a', socket, '-n', NS, ...args]);
}

/** `ctr run` with tsdock-runtime as the shim's runc, in this file's cgroup parent. */
function ctrRun(id: string, flags: string[], command: string[]): string[] {
  const runtime = ['--runc-binary', RUNTIME, '--runc-root', join(dir, 'runc'), '--cgroup', `${parent}/${id}`];
  return ['run', ...runtime, ...flags, IMAGE, id, ...command];
}

function unique(): string {
  counter++;
  return `ctrd-${String(process.pid)}-${String(counter)}`;
}

function config(): string {
  return `version = 2
root = "${dir}/root"
state = "${dir}/state"
disabled_plugins = [
  "io.containerd.grpc.v1.cri",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.tracing.processor.v1.otlp",
  "io.containerd.internal.v1.tracing",
]
[grpc]
  address = "${socket}"
[ttrpc]
  address = "${socket}.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "${dir}/opt"
`;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tsdock-ctrd-'));
  socket = join(dir, 'containerd.sock');
  await writeFile(join(dir, 'config.toml'), config());
  const log = openSync(join(dir, 'containerd.log'), 'a');
  containerd = spawn('containerd', ['--config', join(dir, 'config.toml')], { stdio: ['ignore', log, log] });
  for (let i = 0; i < 500 && !existsSync(socket); i++) await sleep(20);
  expect(existsSync(socket), readFileSync(join(dir, 'containerd.log'), 'utf8')).toBe(true);
  const archive = join(dir, 'busybox-oci.tar');
  const built = await run(process.execPath, [
    join(repoRoot, 'dist/images/busybox/build.js'),
    '--out',
    join(dir, 'layout'),
    '--archive',
    archive,
  ]);
  expect(built.code, built.stderr).toBe(0);
  const imported = await ctr(['images', 'import', '--index-name', 'busybox:latest', archive]);
  expect(imported.code, imported.stderr).toBe(0);
});

/** The shims our containerd started: they name its socket on their command line. */
function ourShims(): number[] {
  if (socket === '') return [];
  return readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .filter((p) => {
      try {
        const argv = readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0');
        return argv.includes(socket);
      } catch {
        return false;
      }
    })
    .map(Number);
}

afterAll(async () => {
  if (socket !== '' && existsSync(socket)) {
    const tasks = await ctr(['task', 'ls', '-q']);
    for (const id of tasks.stdout.split('\n').filter(Boolean)) {
      await ctr(['task', 'kill', '-s', 'KILL', id]);
      await ctr(['task', 'delete', '-f', id]);
    }
    const containers = await ctr(['container', 'ls', '-q']);
    for (const id of containers.stdout.split('\n').filter(Boolean)) await ctr(['container', 'delete', id]);
  }
  containerd?.kill('SIGTERM');
  for (let i = 0; i < 250 && containerd?.exitCode === null && containerd.signalCode === null; i++) await sleep(20);
  for (const pid of ourShims()) process.kill(pid, 'SIGKILL');
  // Whatever containerd left mounted below its dirs (snapshots, bundles' rootfs), deepest first.
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((m) => dir !== '' && m.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
  for (const m of mounts) native().umount2(m, 2 /* MNT_DETACH */);
  await removeCgroupParent(parent);
  if (dir !== '') await rm(dir, { recursive: true, force: true });
  // containerd's fixed runtime dir (shim sockets, fifos): made by this test when it was not there.
  if (!runContainerdExisted) await rm('/run/containerd', { recursive: true, force: true });
});

async function taskStatus(id: string): Promise<string | undefined> {
  const ls = await ctr(['task', 'ls']);
  return ls.stdout
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .find((cols) => cols[0] === id)?.[2];
}

describe('containerd with tsdock-runtime', () => {
  it('runs a container: its output and exit code, 0 and not', async () => {
    const ok = await ctr([...ctrRun(unique(), ['--rm'], ['sh', '-c', 'echo "hi from $(hostname)"'])]);
    expect(ok.stderr).toBe('');
    expect(ok).toMatchObject({ code: 0, stdout: 'hi from ctr-hostname\n' });
    const seven = await ctr([...ctrRun(unique(), ['--rm'], ['sh', '-c', 'exit 7'])]);
    expect(seven.code).toBe(7);
  });

  it('shows why a create failed', async () => {
    const r = await ctr([...ctrRun(unique(), ['--rm'], ['no-such-command'])]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/OCI runtime create failed: exec: no-such-command: executable file not found in \$PATH/);
  });

  it('gives -t a terminal through the console socket', async () => {
    const command = ['ctr', '-a', socket, '-n', NS, ...ctrRun(unique(), ['--rm', '-t'], ['sh', '-c', 'tty; exit 4'])];
    // ctr wants a terminal of its own: script(1) gives it one.
    const r = await run('script', ['-qec', command.join(' '), '/dev/null']);
    expect(r.stdout).toMatch(/\/dev\/pts\/0\r/);
    expect(r.code).toBe(4);
  });

  it('execs, lists processes, pauses, resumes, kills and deletes a detached task', async () => {
    const id = unique();
    const started = await ctr(ctrRun(id, ['-d'], ['sleep', '1000']));
    expect(started.code, started.stderr).toBe(0);
    expect(await taskStatus(id)).toBe('RUNNING');

    const exec = await ctr(['task', 'exec', '--exec-id', 'e1', id, 'sh', '-c', 'echo "exec in $(hostname)"; exit 5']);
    expect(exec).toMatchObject({ code: 5, stdout: 'exec in ctr-hostname\n' });

    const tty = [
      'ctr',
      '-a',
      socket,
      '-n',
      NS,
      'task',
      'exec',
      '-t',
      '--exec-id',
      'e2',
      id,
      'sh',
      '-c',
      "'tty; exit 2'",
    ];
    const withTty = await run('script', ['-qec', tty.join(' '), '/dev/null']);
    expect(withTty.stdout).toMatch(/\/dev\/pts\/\d+\r/);
    expect(withTty.code).toBe(2);

    const ls = await ctr(['task', 'ls']);
    const pid = ls.stdout
      .split('\n')
      .find((l) => l.startsWith(id))
      ?.split(/\s+/)[1];
    const ps = await ctr(['task', 'ps', id]);
    expect(
      ps.stdout
        .split('\n')
        .slice(1)
        .map((l) => l.split(/\s+/)[0]),
    ).toContain(pid);

    expect((await ctr(['task', 'pause', id])).code).toBe(0);
    expect(await taskStatus(id)).toBe('PAUSED');
    expect((await ctr(['task', 'resume', id])).code).toBe(0);
    expect(await taskStatus(id)).toBe('RUNNING');

    expect((await ctr(['task', 'kill', '-s', 'KILL', id])).code).toBe(0);
    for (let i = 0; i < 250 && (await taskStatus(id)) !== 'STOPPED'; i++) await sleep(20);
    expect(await taskStatus(id)).toBe('STOPPED');
    expect((await ctr(['task', 'delete', id])).code).toBe(0);
    expect((await ctr(['container', 'delete', id])).code).toBe(0);
    expect(existsSync(join(dir, 'runc', NS, id))).toBe(false);
  });
});
