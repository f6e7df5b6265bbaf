import { describe, expect, it } from 'vitest';
import {
  eventTime,
  matchesFilters,
  parseEventFilters,
  renderEvent,
  renderEventJson,
  type TsdockEvent,
} from '../../src/runtime/events.js';
import { parseRestartPolicy, restartArg } from '../../src/runtime/restart-policy.js';

describe('parseRestartPolicy', () => {
  it.each([
    ['no', { name: 'no', maximumRetryCount: 0 }, 'no'],
    ['always', { name: 'always', maximumRetryCount: 0 }, 'always'],
    ['unless-stopped', { name: 'unless-stopped', maximumRetryCount: 0 }, 'unless-stopped'],
    ['on-failure', { name: 'on-failure', maximumRetryCount: 0 }, 'on-failure'],
    ['on-failure:3', { name: 'on-failure', maximumRetryCount: 3 }, 'on-failure:3'],
  ] as const)('%s', (spec, policy, arg) => {
    expect(parseRestartPolicy(spec)).toEqual(policy);
    expect(restartArg(parseRestartPolicy(spec))).toBe(arg);
  });

  it.each(['', 'sometimes', 'always:3', 'on-failure:', 'on-failure:-1', 'on-failure:x', 'on-failure:1:2'])(
    'refuses %j',
    (spec) => {
      expect(() => parseRestartPolicy(spec)).toThrow(/invalid --restart/);
    },
  );
});

const die: TsdockEvent = {
  type: 'container',
  time: '2026-11-25T21:00:00.123456789Z',
  id: 'a'.repeat(64),
  name: 'web',
  image: 'busybox',
  action: 'die',
  exitCode: 1,
  signal: 0,
  reason: 'exited',
};

describe('events', () => {
  it('render like docker events, attributes sorted', () => {
    expect(renderEvent(die)).toBe(
      `2026-11-25T21:00:00.123456789Z container die ${'a'.repeat(64)} (exitCode=1, image=busybox, name=web, reason=exited, signal=0)`,
    );
    expect(renderEvent({ ...die, action: 'health_status', status: 'healthy' })).toContain(
      ' container health_status: healthy ',
    );
  });

  it('render as Docker JSON with the nanoseconds intact', () => {
    const json = renderEventJson(die);
    expect(json).toContain('"timeNano":1795640400123456789}');
    expect(JSON.parse(json)).toMatchObject({ Type: 'container', Action: 'die', time: 1795640400, from: 'busybox' });
  });

  it('filter by container name or id prefix, event and type; keys AND, values OR', () => {
    const f = (specs: string[]): boolean => matchesFilters(die, parseEventFilters(specs));
    expect(f(['container=web'])).toBe(true);
    expect(f(['container=aaaa'])).toBe(true);
    expect(f(['container=db'])).toBe(false);
    expect(f(['event=start', 'event=die'])).toBe(true);
    expect(f(['event=die', 'container=db'])).toBe(false);
    expect(f(['type=container', 'image=busybox'])).toBe(true);
  });

  it('refuses an unknown filter', () => {
    expect(() => parseEventFilters(['label=x'])).toThrow(/invalid filter "label=x"/);
    expect(() => parseEventFilters(['container'])).toThrow(/invalid filter/);
  });

  it('stamp nanoseconds', () => {
    expect(eventTime(Date.parse('2026-11-25T21:00:00.123Z') + 0.25)).toBe('2026-11-25T21:00:00.123250000Z');
  });
});
