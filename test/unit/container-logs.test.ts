import { describe, expect, it } from 'vitest';
import { parseSince } from '../../src/cli/commands/logs.js';
import { parseLogOpts } from '../../src/cli/commands/log-opts.js';
import { parseLogLines } from '../../src/runtime/container-logs.js';

describe('parseLogLines', () => {
  it('takes complete lines, keeps a partial one for later, skips a garbled one', () => {
    const text =
      '{"log":"a\\n","stream":"stdout","time":"t1"}\n' +
      'garbled\n' +
      '{"log":"b","stream":"stderr","time":"t2"}\n' +
      '{"log":"c';
    const { entries, used } = parseLogLines(Buffer.from(text));
    expect(entries).toEqual([
      { log: 'a\n', stream: 'stdout', time: 't1' },
      { log: 'b', stream: 'stderr', time: 't2' },
    ]);
    expect(text.slice(used)).toBe('{"log":"c');
  });
});

describe('parseSince', () => {
  const now = Date.parse('2026-01-01T12:00:00Z');
  it.each([
    ['10m', now - 600_000],
    ['1h30m', now - 5_400_000],
    ['1767225600', 1767225600_000],
    ['2026-01-01T11:00:00Z', now - 3_600_000],
  ])('%s', (value, expected) => {
    expect(parseSince(value, now)).toBe(expected);
  });
  it('refuses nonsense', () => {
    expect(() => parseSince('yesterday', now)).toThrow('invalid --since');
  });
});

describe('parseLogOpts', () => {
  it.each([
    [['max-size=10m', 'max-file=3'], { maxSize: 10 * 1024 * 1024, maxFile: 3 }],
    [['max-size=1k'], { maxSize: 1024 }],
    [[], {}],
  ])('%j', (opts, expected) => {
    expect(parseLogOpts(opts)).toEqual(expected);
  });
  it.each([[['max-file=3']], [['max-size=0']], [['mode=non-blocking']], [['max-file=0', 'max-size=1m']]])(
    'refuses %j',
    (opts) => {
      expect(() => parseLogOpts(opts)).toThrow('--log-opt');
    },
  );
});
