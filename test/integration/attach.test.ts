/**
 * Attaching to containers without a terminal, through the CLI and the library: live stdout and
 * stderr kept apart, stdin passed on (its end closes the container's only with Docker's
 * StdinOnce), the exit code, signals passed on (never a stop), no detach keys (as Docker without
 * a TTY), `run -a`, `start -a -i`; the log keeps what was written while nobody was attached, and
 * a client that never reads holds nothing up.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Runtime } from '../../src/index.js';
import { inputFrames } from '../../src/runtime/attach-protocol.js';
import { containerBed } from '../helpers/container-bed.js';
import { repoRoot } from '../helpers/host.js';
import { endTerminals, Terminal } from '../helpers/terminal.js';
import { until } from '../helpers/until.js';

const bed = containerBed('attach');
const { cli, unique, parent } = bed;
const clients: ChildProcessWithoutNullStreams[] = [];

/** A CLI process whose output is read as it comes. */
class Client {
  readonly child: ChildProcessWithoutNullStreams;
  readonly out = new Output();
  readonly err = new Output();
  readonly exited: Promise<number | null>;

  constructor(args: string[]) {
    this.child = spawn(process.execPath, [join(repoRoot, 'bin', 'tsdock.js'), '--root', bed.root, ...args]);
    clients.push(this.child);
    this.child.stdout.on('data', (d: Buffer) => {
      this.out.add(d);
    });
    this.child.stderr.on('data', (d: Buffer) => {
      this.err.add(d);
    });
    this.exited = new Promise((resolve) => this.child.on('close', resolve));
  }
}

/** Text that arrives over time; waitFor resolves once it matches (the test's timeout bounds it). */
class Output {
  text = '';
  private readonly waiters: (() => void)[] = [];

  add(chunk: Buffer): void {
    this.text += chunk.toString();
    for (const wake of this.waiters.splice(0)) wake();
  }

  async waitFor(pattern: RegExp): Promise<void> {
    while (!pattern.test(this.text)) await new Promise<void>((resolve) => this.waiters.push(resolve));
  }
}

afterEach(({ task }) => {
  for (const child of clients.splice(0)) child.kill('SIGKILL');
  endTerminals(task.result?.state === 'fail');
});

interface Inspected {
  RestartCount: number;
  State: { Status: string };
  Config: { StdinOnce: boolean };
}

async function inspect(name: string): Promise<Inspected | undefined> {
  const r = await cli(['inspect', name]);
  return (JSON.parse(r.stdout) as Inspected[])[0];
}

async function stateOf(name: string): Promise<string> {
  return (await inspect(name))?.State.Status ?? '';
}

/** Reads lines and echoes each to stdout and stderr until its stdin ends; then exits 7. */
const ECHO = 'echo before; while read l; do echo "out $l"; echo "err $l" >&2; done; echo bye; exit 7';

describe('attach without a terminal', () => {
  it("run -d -i + attach: live stdout and stderr apart, stdin in; a client's EOF leaves it open for the next", async () => {
    const name = unique('echo');
    const run = await cli(['run', '-d', '-i', '--name', name, '--cgroup-parent', parent, 'busybox', 'sh', '-c', ECHO]);
    expect(run.code).toBe(0);
    // Docker's StdinOnce is off for run -d -i: a client's end of input is its own.
    expect((await inspect(name))?.Config.StdinOnce).toBe(false);
    const a = new Client(['attach', name]);
    a.child.stdin.write('one\n');
    await a.out.waitFor(/out one\n/);
    await a.err.waitFor(/err one\n/);
    a.child.stdin.end('two\n');
    await a.out.waitFor(/out two\n/);
    const b = new Client(['attach', name]);
    b.child.stdin.write('three\n');
    await b.out.waitFor(/out three\n/);
    // The first client still sees the output, and the container's exit code.
    await a.out.waitFor(/out three\n/);
    expect(await stateOf(name)).toBe('running');
    b.child.stdin.end();
    expect((await cli(['kill', name])).code).toBe(0);
    expect(await a.exited).toBe(137);
    expect(await b.exited).toBe(137);
    expect(a.out.text).toBe('out one\nout two\nout three\n');
    expect(a.err.text).toBe('err one\nerr two\nerr three\n');
    // The log has it all, what came before the client too, each line with its stream.
    const logs = await cli(['logs', name]);
    expect(logs.stdout).toBe('before\nout one\nout two\nout three\n');
    expect(logs.stderr).toBe('err one\nerr two\nerr three\n');
  });

  it("run -i is StdinOnce: the end of any attached client's input closes the container's stdin", async () => {
    const name = unique('once');
    const fg = new Client(['run', '-i', '--name', name, '--cgroup-parent', parent, 'busybox', 'sh', '-c', ECHO]);
    await fg.out.waitFor(/before\n/);
    expect((await inspect(name))?.Config.StdinOnce).toBe(true);
    const second = new Client(['attach', name]);
    second.child.stdin.write('x\n');
    await second.out.waitFor(/out x\n/);
    second.child.stdin.end();
    expect(await second.exited).toBe(7);
    expect(await fg.exited).toBe(7);
    expect(fg.out.text).toBe('before\nout x\nbye\n');
  });

  it('passes SIGTERM on (--sig-proxy), or ends the attach with it (--sig-proxy=false)', async () => {
    const name = unique('signal');
    const script = 'trap "echo caught; exit 3" TERM; while :; do echo tick; sleep 0.1; done';
    expect(
      (await cli(['run', '-d', '--name', name, '--cgroup-parent', parent, 'busybox', 'sh', '-c', script])).code,
    ).toBe(0);

    const plain = new Client(['attach', '--sig-proxy=false', name]);
    await plain.out.waitFor(/tick\n/);
    plain.child.kill('SIGTERM');
    expect(await plain.exited).toBe(143);
    expect(await stateOf(name)).toBe('running');

    const proxy = new Client(['attach', name]);
    await proxy.out.waitFor(/tick\n/);
    proxy.child.kill('SIGTERM');
    expect(await proxy.exited).toBe(3);
    expect(proxy.out.text).toMatch(/caught\n$/);
    expect(await stateOf(name)).toBe('exited');
  });

  it('a signal passed on by --sig-proxy is no stop: the restart policy brings the container back', async () => {
    const name = unique('proxy-restart');
    const script = 'trap "exit 3" TERM; while :; do echo tick; sleep 0.1; done';
    const flags = ['--restart', 'always', '--name', name, '--cgroup-parent', parent];
    expect((await cli(['run', '-d', ...flags, 'busybox', 'sh', '-c', script])).code).toBe(0);
    const proxy = new Client(['attach', name]);
    await proxy.out.waitFor(/tick\n/);
    proxy.child.kill('SIGTERM');
    await until('a restart', async () => {
      const info = await inspect(name);
      return (info?.RestartCount ?? 0) >= 1 && info?.State.Status === 'running';
    });
    // A user's kill with the stop signal is a stop: no restart.
    expect((await cli(['kill', '-s', 'TERM', name])).code).toBe(0);
    expect((await cli(['wait', name])).stdout).toBe('3\n');
    expect(await inspect(name)).toMatchObject({ RestartCount: 1, State: { Status: 'exited' } });
  });

  it('has no detach keys, as Docker without a TTY: typed on a terminal, they are input', async () => {
    const name = unique('detach');
    expect(
      (await cli(['run', '-d', '-i', '--name', name, '--cgroup-parent', parent, 'busybox', 'sh', '-c', ECHO])).code,
    ).toBe(0);
    // Our terminal stays in line mode without -t: what is typed goes out with the Enter.
    const t = new Terminal(bed.root, ['attach', '--detach-keys', 'q,z', name]);
    t.type('one\r');
    await t.waitFor(/out one\r\n/);
    t.type('qz\r');
    // The keys reached the container's stdin: it echoes them back.
    await t.waitFor(/out qz\r\n/);
    expect(await stateOf(name)).toBe('running');
    expect((await cli(['kill', name])).code).toBe(0);
    expect(await t.exited).toBe(137);
  });

  it('a client that never reads holds up neither the container nor its log', async () => {
    const name = unique('slow');
    // Megabytes, far more than a socket and the monitor's buffer for the client hold.
    const script = 'read go; head -c 4000000 /dev/zero | tr "\\0" x; echo; echo finished';
    expect(
      (await cli(['run', '-d', '-i', '--name', name, '--cgroup-parent', parent, 'busybox', 'sh', '-c', script])).code,
    ).toBe(0);
    const { connection: socket } = await (await Runtime.open({ root: bed.root })).attach(name);
    try {
      socket.pause();
      // Through this very connection: the container starts writing once the monitor took it on.
      socket.write(inputFrames(Buffer.from('go\n')));
      const waited = await cli(['wait', name]);
      expect(waited.stdout.trim()).toBe('0');
      const logs = await cli(['logs', name]);
      expect(logs.stdout).toHaveLength(4000000 + '\nfinished\n'.length);
      expect(logs.stdout.endsWith('\nfinished\n')).toBe(true);
    } finally {
      socket.destroy();
    }
  });

  it('run -a stdout, and run -i, show what they attach; the log has every stream', async () => {
    const name = unique('run');
    const run = await cli([
      'run',
      '-a',
      'stdout',
      '--name',
      name,
      '--cgroup-parent',
      parent,
      'busybox',
      'sh',
      '-c',
      'echo o; echo e >&2; exit 2',
    ]);
    expect(run).toMatchObject({ code: 2, stdout: 'o\n', stderr: '' });
    const logs = await cli(['logs', name]);
    expect(logs).toMatchObject({ stdout: 'o\n', stderr: 'e\n' });

    const piped = await cli(['run', '--rm', '-i', '--cgroup-parent', parent, 'busybox', 'sh', '-c', ECHO], {
      input: 'a\nb\n',
    });
    expect(piped).toMatchObject({ code: 7, stdout: 'before\nout a\nout b\nbye\n', stderr: 'err a\nerr b\n' });

    const bad = await cli(['run', '-a', 'stdio', 'busybox', 'true']);
    expect(bad.code).toBe(125);
    expect(bad.stderr).toMatch(/invalid --attach "stdio"/);
  });

  it('start -a -i of a container created with -i: output, input, exit code; again after it exited', async () => {
    const name = unique('start');
    expect(
      (await cli(['create', '-i', '--name', name, '--cgroup-parent', parent, 'busybox', 'sh', '-c', ECHO])).code,
    ).toBe(0);
    const first = await cli(['start', '-a', '-i', name], { input: 'x\n' });
    expect(first).toMatchObject({ code: 7, stdout: 'before\nout x\nbye\n', stderr: 'err x\n' });
    // Without -i the container's stdin is still a pipe (created with -i), but nobody writes it.
    const again = new Client(['start', '-a', name]);
    await again.out.waitFor(/before\n/);
    expect((await cli(['kill', name])).code).toBe(0);
    expect(await again.exited).toBe(137);
  });

  it('the library: attachStdio streams stdout and stderr, takes stdin, and resolves the exit code', async () => {
    const runtime = await Runtime.open({ root: bed.root });
    const name = unique('library');
    await runtime.runDetached('busybox', {
      name,
      interactive: true,
      stdinOnce: true,
      command: ['sh', '-c', ECHO],
      cgroupParent: parent,
    });
    const attachment = await runtime.attachStdio(name, { stdin: true });
    const out = new Output();
    const err = new Output();
    attachment.stdout?.on('data', (d: Buffer) => {
      out.add(d);
    });
    attachment.stderr?.on('data', (d: Buffer) => {
      err.add(d);
    });
    attachment.stdin?.write('lib\n');
    await out.waitFor(/out lib\n/);
    await err.waitFor(/err lib\n/);
    attachment.stdin?.end();
    expect(await attachment.exit).toBe(7);
    await expect(runtime.attachStdio(name)).rejects.toMatchObject({ code: 'CONFLICT' });

    // A container on its starter's own fds has no one else's output to give.
    const own = await runtime.start('busybox', {
      command: ['sleep', '60'],
      network: 'none',
      cgroupParent: parent,
      stdio: { stdin: 'ignore', output: 'ignore' },
    });
    await expect(runtime.attachStdio(own.id)).rejects.toThrow(/takes no attach clients/);
    await runtime.kill(own.id);
    await own.wait();
  });
});
