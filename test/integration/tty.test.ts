/**
 * Terminals through the CLI, driven by a real pty (node-pty): `run -it` sees a tty of its own
 * devpts with the outer terminal's size, follows a resize of it, gets Ctrl-C through the line
 * discipline; the detach keys leave the container running, `attach` finds it again and `start
 * -a -i` starts it anew; `exec -it`
 * gets a pty of its own; and `-t` without a terminal on our side still works.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { containerBed } from '../helpers/container-bed.js';
import { endTerminals, Terminal as TerminalOn } from '../helpers/terminal.js';

const bed = containerBed('tty');
const { cli, unique, records, parent } = bed;

/** The CLI on this file's root, on a terminal of its own. */
class Terminal extends TerminalOn {
  constructor(args: string[], size?: { rows: number; cols: number }) {
    super(bed.root, args, size);
  }
}

/** busybox `sh`'s prompt as root, then its cursor position query (ESC [6n), at the end so far. */
const PROMPT = new RegExp(`/ # (${String.fromCharCode(0x1b)}\\[6n)?$`);

afterEach(({ task }) => {
  endTerminals(task.result?.state === 'fail');
});

async function stateOf(name: string): Promise<string> {
  const r = await cli(['inspect', name]);
  expect(r.code).toBe(0);
  return (JSON.parse(r.stdout) as { State: { Status: string } }[])[0]?.State.Status ?? '';
}

describe('terminals', () => {
  it('run -it: a tty of its own devpts, its size and resizes, Ctrl-C to the foreground process', async () => {
    const name = unique('run');
    const t = new Terminal(['run', '-it', '--rm', '--name', name, '--cgroup-parent', parent, 'busybox', 'sh']);
    await t.waitFor(PROMPT);
    t.type('tty; stty size; echo "TERM=$TERM"\r');
    await t.waitFor(/\/dev\/pts\/0\r\n30 100\r\nTERM=xterm\r\n/);
    await t.waitFor(PROMPT);

    // Ctrl-C is a byte on the way in; the container's line discipline makes it SIGINT.
    t.type(`sh -c 'echo ready; exec sleep 1000'\r`);
    await t.waitFor(/\nready\r\n/);
    t.type('\x03');
    await t.waitFor(PROMPT);
    t.type('echo "status $?"\r');
    await t.waitFor(/\nstatus 130\r\n/);
    await t.waitFor(PROMPT);

    // A resize of our terminal (SIGWINCH to the CLI) reaches the container's (SIGWINCH there).
    t.type(`sh -c 'trap "stty size" WINCH; echo armed; while :; do sleep 0.1; done'\r`);
    await t.waitFor(/\narmed\r\n/);
    t.resize(40, 120);
    await t.waitFor(/40 120\r\n/);
    t.type('\x03');
    await t.waitFor(PROMPT);

    t.type('exit 7\r');
    expect(await t.exited).toBe(7);
    expect((await cli(['ps', '-a', '-q'])).stdout).toBe('');
  });

  it('detach keys leave the container running; attach finds it again and ends with its status', async () => {
    const name = unique('detach');
    const t = new Terminal(['run', '-it', '--name', name, '--cgroup-parent', parent, 'busybox', 'sh']);
    await t.waitFor(PROMPT);
    t.type('echo one\r');
    await t.waitFor(/one\r\n/);
    await t.waitFor(PROMPT);
    t.type('\x10\x11');
    expect(await t.exited).toBe(0);
    // Nothing of ours after the detach: the container's terminal is all the user saw.
    expect(t.rest()).toBe('');
    expect(await stateOf(name)).toBe('running');

    const again = new Terminal(['attach', name], { rows: 20, cols: 60 });
    again.type('stty size; echo two\r');
    await again.waitFor(/20 60\r\ntwo\r\n/);
    again.type('exit 3\r');
    expect(await again.exited).toBe(3);
    expect(await stateOf(name)).toBe('exited');
    // The log has the terminal's output as stdout.
    const logs = await cli(['logs', name]);
    expect(logs.stdout).toContain('one\r\n');
    expect(logs.stdout).toContain('two\r\n');

    // start -a -i: the same container again, on a new terminal.
    const restarted = new Terminal(['start', '-a', '-i', name]);
    await restarted.waitFor(PROMPT);
    restarted.type('exit 2\r');
    expect(await restarted.exited).toBe(2);
    expect((await cli(['rm', name])).code).toBe(0);
  });

  it('every run of a -t container gets a fresh pty, and attach follows it: restart policy, restart', async () => {
    const name = unique('rerun');
    const args = ['--restart', 'on-failure', '--name', name, '--cgroup-parent', parent, 'busybox', 'sh'];
    expect((await cli(['run', '-d', '-it', ...args])).code).toBe(0);
    const t = new Terminal(['attach', name]);
    t.type('echo "first $(tty)"; exit 1\r');
    await t.waitFor(/first \/dev\/pts\/0\r\n/);
    // The policy starts a new shell on a pty of the new run's devpts; this client stays on it.
    await t.waitFor(PROMPT);
    t.type('echo "second $(tty)"; exit 0\r');
    await t.waitFor(/second \/dev\/pts\/0\r\n/);
    expect(await t.exited).toBe(0);
    expect(await stateOf(name)).toBe('exited');

    expect((await cli(['start', name])).code).toBe(0);
    expect((await cli(['restart', '-t', '1', name])).code).toBe(0);
    const again = new Terminal(['attach', name]);
    // A success ends it for good (the policy restarts failures only).
    again.type('echo "third $(tty)"; exit 0\r');
    await again.waitFor(/third \/dev\/pts\/0\r\n/);
    expect(await again.exited).toBe(0);
    expect(await stateOf(name)).toBe('exited');
    expect((await cli(['rm', name])).code).toBe(0);
  });

  it('exec -it gets a pty of its own; -t works detached and without a terminal here', async () => {
    const name = unique('exec');
    // Our stdin and stdout are pipes: a terminal is only the container's business.
    const started = await cli(['run', '-d', '-t', '--name', name, '--cgroup-parent', parent, 'busybox', 'sh']);
    expect(started.stderr).toBe('');
    expect(started.code).toBe(0);

    const t = new Terminal(['exec', '-it', name, 'sh'], { rows: 25, cols: 90 });
    await t.waitFor(PROMPT);
    t.type('tty; stty size; echo "TERM=$TERM"\r');
    await t.waitFor(/\/dev\/pts\/1\r\n25 90\r\nTERM=xterm\r\n/);
    t.type('exit 5\r');
    expect(await t.exited).toBe(5);
    expect(await stateOf(name)).toBe('running');

    const plain = await cli(['exec', '-t', name, 'sh', '-c', 'tty; echo done']);
    expect(plain).toMatchObject({ code: 0, stdout: '/dev/pts/1\r\ndone\r\n', stderr: '' });
    expect((await cli(['rm', '-f', name])).code).toBe(0);

    const once = await cli(['run', '--rm', '-t', '--cgroup-parent', parent, 'busybox', 'sh', '-c', 'tty; exit 4']);
    expect(once).toMatchObject({ code: 4, stdout: '/dev/pts/0\r\n', stderr: '' });
  });

  it('refuses -it when our input is not a terminal, and bad --detach-keys', async () => {
    const before = records().length;
    const piped = await cli(['run', '--rm', '-it', '--cgroup-parent', parent, 'busybox', 'true']);
    expect(piped.code).toBe(125);
    expect(piped.stderr).toMatch(/the input device is not a TTY/);
    const keys = await cli(['run', '--rm', '-t', '--detach-keys', 'ctrl-1', 'busybox', 'true']);
    expect(keys.code).toBe(125);
    expect(keys.stderr).toMatch(/invalid --detach-keys "ctrl-1"/);
    expect(records()).toHaveLength(before);
  });
});
