import { describe, expect, it } from 'vitest';
import { GLOBAL_FLAGS, parseFlags, VERB_FLAGS } from '../../src/oci/args.js';
import { verdictOf } from '../../src/oci/commands/start.js';
import { filterPsOutput } from '../../src/oci/commands/ps.js';
import { logLine } from '../../src/oci/log.js';
import { parseSignal } from '../../src/oci/signals.js';
import { checkId, statusOf } from '../../src/oci/state.js';
import { failure } from '../helpers/errors.js';

describe('parseFlags', () => {
  it('takes the global flags up to the verb, as containerd passes them', () => {
    const argv = ['--root', '/run/x', '--log=/b/log.json', '--log-format', 'json', 'create', '--bundle', '/b', 'c1'];
    expect(parseFlags(argv, GLOBAL_FLAGS, 'tsdock-runtime', true)).toEqual({
      flags: { root: '/run/x', log: '/b/log.json', 'log-format': 'json' },
      rest: ['create', '--bundle', '/b', 'c1'],
    });
  });

  it("takes a verb's flags anywhere, with aliases, and keeps arguments in order", () => {
    expect(parseFlags(['c1', '-a', 'KILL'], VERB_FLAGS.kill ?? {}, 'kill', false)).toEqual({
      flags: { all: true },
      rest: ['c1', 'KILL'],
    });
    expect(parseFlags(['--detach=true', '-p', 'p.json', 'c1'], VERB_FLAGS.exec ?? {}, 'exec', false).flags).toEqual({
      detach: true,
      process: 'p.json',
    });
  });

  it('refuses unknown flags and missing values', () => {
    expect(failure(() => parseFlags(['--nope', 'c1'], {}, 'start', false)).message).toBe(
      'unknown flag --nope for start',
    );
    expect(failure(() => parseFlags(['--bundle'], VERB_FLAGS.create ?? {}, 'create', false)).message).toMatch(
      /needs a value/,
    );
  });
});

describe('parseSignal', () => {
  it.each([
    ['9', 9],
    ['KILL', 9],
    ['SIGKILL', 9],
    ['sigterm', 15],
    [undefined, 15],
    ['RTMIN', 34],
    ['RTMAX-1', 63],
  ])('%s is %d', (text, n) => {
    expect(parseSignal(text)).toBe(n);
  });

  it('refuses what is no signal', () => {
    expect(failure(() => parseSignal('NOPE')).message).toMatch(/invalid signal "NOPE"/);
    expect(failure(() => parseSignal('0')).message).toMatch(/invalid signal "0"/);
  });
});

describe('state', () => {
  it('derives the status: stopped once the init is gone, created until start, paused while frozen', () => {
    expect(statusOf({ initAlive: false, startSocket: true, frozen: false })).toBe('stopped');
    expect(statusOf({ initAlive: true, startSocket: true, frozen: false })).toBe('created');
    expect(statusOf({ initAlive: true, startSocket: false, frozen: true })).toBe('paused');
    expect(statusOf({ initAlive: true, startSocket: false, frozen: false })).toBe('running');
  });

  it('takes ids that name one directory', () => {
    expect(checkId('abc_1.2-3+x')).toBe('abc_1.2-3+x');
    for (const id of ['', '..', 'a/b', 'a b']) expect(failure(() => checkId(id)).code).toBe('INVALID_ARGUMENT');
  });
});

describe('logLine', () => {
  const time = new Date('2026-01-02T03:04:05.000Z');
  it('writes the JSON containerd reads, or logrus text', () => {
    expect(JSON.parse(logLine('error', 'exec: "x": not found', 'json', time))).toEqual({
      level: 'error',
      msg: 'exec: "x": not found',
      time: '2026-01-02T03:04:05.000Z',
    });
    expect(logLine('error', 'a "b"', 'text', time)).toBe(
      'time="2026-01-02T03:04:05.000Z" level=error msg="a \\"b\\""\n',
    );
  });
});

describe('verdictOf', () => {
  it("reads EOF as exec'd and a struct tsd_child_error as the failure", () => {
    expect(verdictOf(Buffer.alloc(0))).toBeUndefined();
    const e = Buffer.alloc(32 + 4 + 4096);
    e.write('exec');
    e.writeInt32LE(2, 32);
    e.write('nosuch', 36);
    const err = verdictOf(e);
    expect(err?.code).toBe('COMMAND_NOT_FOUND');
    expect(err?.message).toBe('exec: nosuch: executable file not found in $PATH');
  });
});

describe('filterPsOutput', () => {
  it("keeps the header and the container's pids", () => {
    const text = 'UID PID PPID CMD\nroot 1 0 init\nroot 42 1 sleep\nroot 43 1 sh\n';
    expect(filterPsOutput(text, new Set([42]))).toBe('UID PID PPID CMD\nroot 42 1 sleep\n');
  });
});
