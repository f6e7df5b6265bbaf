import { describe, expect, it } from 'vitest';
import { parseHealthFlags } from '../../src/cli/health-flags.js';
import { statusText } from '../../src/runtime/container-inspect.js';
import type { ObservedContainer } from '../../src/runtime/container-ops.js';
import {
  dockerHealthConfig,
  healthcheckArgv,
  healthcheckJoins,
  healthMonitorArgs,
  parseDuration,
  resolveHealthcheck,
  type Healthcheck,
  type HealthState,
} from '../../src/runtime/healthcheck.js';
import { TsdockError } from '../../src/errors.js';

function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (err) {
    return err instanceof TsdockError ? err.code : 'not a TsdockError';
  }
  return undefined;
}

describe('parseDuration (Go time.ParseDuration, in ms)', () => {
  it.each([
    ['30s', 30_000],
    ['1m30s', 90_000],
    ['1.5s', 1500],
    ['.5s', 500],
    ['200ms', 200],
    ['1h', 3_600_000],
    ['0', 0],
    ['0s', 0],
    ['+2s', 2000],
    ['1500us', 2],
    ['1µs', 1],
    ['1ns', 1],
    ['2h45m', 9_900_000],
  ])('%s is %d ms', (text, ms) => {
    expect(parseDuration('--health-interval', text)).toBe(ms);
  });

  it.each([
    ['5', /expected a duration like 30s/],
    ['', /expected a duration/],
    ['5x', /unknown unit "x"/],
    ['s', /expected a duration/],
    ['1s 2s', /expected a duration/],
    ['-1s', /--health-timeout cannot be negative/],
    ['1000h', /at most 596h/],
  ])('refuses %j', (text, message) => {
    expect(() => parseDuration('--health-timeout', text)).toThrow(message);
    expect(codeOf(() => parseDuration('--health-timeout', text))).toBe('INVALID_ARGUMENT');
  });
});

describe('resolveHealthcheck', () => {
  const image = {
    Test: ['CMD', 'check'],
    Interval: 10e9,
    Timeout: 2e9,
    StartPeriod: 0,
    StartInterval: 1e9,
    Retries: 5,
  };

  it("takes the image's check, and Docker's defaults for what neither gives", () => {
    expect(resolveHealthcheck({ Test: ['CMD-SHELL', 'true'] }, undefined)).toEqual({
      test: ['CMD-SHELL', 'true'],
      intervalMs: 30_000,
      timeoutMs: 30_000,
      startPeriodMs: 0,
      startIntervalMs: 5000,
      retries: 3,
      onFailure: 'none',
    });
    expect(resolveHealthcheck(image, undefined)).toMatchObject({ intervalMs: 10_000, timeoutMs: 2000, retries: 5 });
  });

  it("overrides the image's field by field; 0 and an empty test are not given", () => {
    expect(resolveHealthcheck(image, { timeoutMs: 500, retries: 0, test: [], onFailure: 'kill' })).toEqual({
      test: ['CMD', 'check'],
      intervalMs: 10_000,
      timeoutMs: 500,
      startPeriodMs: 0,
      startIntervalMs: 1000,
      retries: 5,
      onFailure: 'kill',
    });
    expect(resolveHealthcheck(image, { test: ['CMD-SHELL', 'x'] })?.test).toEqual(['CMD-SHELL', 'x']);
  });

  it('has no check without a test, or with NONE from either side', () => {
    expect(resolveHealthcheck(undefined, undefined)).toBeUndefined();
    expect(resolveHealthcheck(undefined, { intervalMs: 5 })).toBeUndefined();
    expect(resolveHealthcheck(image, { test: ['NONE'] })).toBeUndefined();
    expect(resolveHealthcheck({ Test: ['NONE'] }, { retries: 2 })).toBeUndefined();
  });

  it.each([
    [undefined, { test: ['CMD'] }, /invalid health check test/],
    [undefined, { test: ['SHELL', 'x'] }, /invalid health check test/],
    [undefined, { test: ['CMD-SHELL', 'a', 'b'] }, /invalid health check test/],
    [{ Test: ['NONE'] }, { onFailure: 'restart' as const }, /--health-on-failure needs a health check/],
    [image, { retries: -1 }, /invalid health check retries -1/],
    [image, { intervalMs: 1.5 }, /invalid health check intervalMs 1.5/],
    [image, { onFailure: 'boom' as 'kill' }, /invalid --health-on-failure "boom"/],
  ])('refuses %j with %j', (img, options, message) => {
    expect(() => resolveHealthcheck(img, options)).toThrow(message);
  });
});

const check: Healthcheck = {
  test: ['CMD-SHELL', 'wget -q localhost'],
  intervalMs: 200,
  timeoutMs: 1000,
  startPeriodMs: 0,
  startIntervalMs: 5000,
  retries: 3,
  onFailure: 'restart',
};

describe('what the monitor is told', () => {
  it("runs CMD as given and CMD-SHELL through the image's SHELL, else /bin/sh -c", () => {
    expect(healthcheckArgv(check)).toEqual(['/bin/sh', '-c', 'wget -q localhost']);
    expect(healthcheckArgv(check, [])).toEqual(['/bin/sh', '-c', 'wget -q localhost']);
    expect(healthcheckArgv(check, ['/bin/bash', '-eo', 'pipefail', '-c'])).toEqual([
      '/bin/bash',
      '-eo',
      'pipefail',
      '-c',
      'wget -q localhost',
    ]);
    expect(healthcheckArgv({ ...check, test: ['CMD', 'true', 'x'] }, ['/bin/bash', '-c'])).toEqual(['true', 'x']);
  });

  it("joins every namespace the container's plan creates or joins, user first", () => {
    const joins = healthcheckJoins({
      namespaces: ['mount', 'pid', 'ipc', 'uts', 'cgroup', 'user'],
      joinNamespaces: [{ type: 'network', path: '/run/tsdock/netns/x' }],
    });
    expect(joins.map((j) => j.type)).toEqual(['user', 'mount', 'pid', 'network', 'ipc', 'uts', 'cgroup']);
    expect(joins[1]?.path).toBe('/proc/INIT/ns/mnt');
  });

  it('passes every duration in ms, the action, the stop signal and its timeout', () => {
    expect(healthMonitorArgs(check, '/c/health.plan', { signal: 15, timeoutSeconds: 4 })).toEqual([
      '--health-plan',
      '/c/health.plan',
      '--health-interval',
      '200',
      '--health-timeout',
      '1000',
      '--health-start-period',
      '0',
      '--health-start-interval',
      '5000',
      '--health-retries',
      '3',
      '--health-on-failure',
      'restart',
      '--stop-signal',
      '15',
      '--stop-timeout',
      '4',
    ]);
  });

  it("shows Docker's Config.Healthcheck in nanoseconds", () => {
    expect(dockerHealthConfig(check)).toEqual({
      Test: check.test,
      Interval: 200e6,
      Timeout: 1e9,
      StartPeriod: 0,
      StartInterval: 5e9,
      Retries: 3,
    });
  });
});

describe('parseHealthFlags', () => {
  it('gives nothing without flags (the image decides)', () => {
    expect(parseHealthFlags({ healthcheck: true })).toBeUndefined();
  });

  it('turns the flags into options', () => {
    expect(
      parseHealthFlags({
        healthCmd: 'curl -f localhost',
        healthInterval: '1s',
        healthTimeout: '500ms',
        healthRetries: '2',
        healthStartPeriod: '1m',
        healthStartInterval: '100ms',
        healthOnFailure: 'stop',
        healthcheck: true,
      }),
    ).toEqual({
      test: ['CMD-SHELL', 'curl -f localhost'],
      intervalMs: 1000,
      timeoutMs: 500,
      startPeriodMs: 60_000,
      startIntervalMs: 100,
      retries: 2,
      onFailure: 'stop',
    });
    expect(parseHealthFlags({ healthcheck: false })).toEqual({ test: ['NONE'] });
  });

  it.each([
    [{ healthcheck: false, healthRetries: '1' }, '--no-healthcheck conflicts with --health-* options'],
    [{ healthRetries: '-2' }, '--health-retries cannot be negative'],
    [{ healthRetries: '2.5' }, 'invalid --health-retries "2.5": expected a whole number'],
    [{ healthOnFailure: 'reboot' }, 'invalid --health-on-failure "reboot": expected none, kill, restart or stop'],
    [{ healthStartPeriod: '10' }, 'invalid --health-start-period "10": expected a duration like 30s, 1m30s or 500ms'],
  ])('refuses %j', (flags, message) => {
    expect(() => parseHealthFlags(flags)).toThrow(message);
  });
});

describe('the ps status of a container with a health check', () => {
  const container = (health: HealthState | undefined, healthcheck: Healthcheck | undefined): ObservedContainer => ({
    dir: '/x',
    record: {
      id: 'a'.repeat(64),
      name: 'web',
      image: 'busybox',
      imageId: 'sha256:x',
      created: '2026-01-01T00:00:00.000Z',
      args: ['sleep', '100'],
      options: {},
      autoRemove: false,
      log: {},
      ...(healthcheck === undefined ? {} : { healthcheck }),
      state: { status: 'running' },
    },
    observed: { status: 'running', pid: 1, exitCode: 0, oomKilled: false, restartCount: 0, startedAt: 'then', health },
  });
  const text = (c: ObservedContainer): string =>
    statusText(
      c,
      () => 'ago',
      () => '5 seconds',
    );

  it.each([
    [undefined, 'Up 5 seconds (health: starting)'],
    [{ Status: 'starting', FailingStreak: 0, Log: [] }, 'Up 5 seconds (health: starting)'],
    [{ Status: 'healthy', FailingStreak: 0, Log: [] }, 'Up 5 seconds (healthy)'],
    [{ Status: 'unhealthy', FailingStreak: 3, Log: [] }, 'Up 5 seconds (unhealthy)'],
  ] as [HealthState | undefined, string][])('%j: %s', (health, want) => {
    expect(text(container(health, check))).toBe(want);
  });

  it('has no suffix without a check', () => {
    expect(text(container(undefined, undefined))).toBe('Up 5 seconds');
  });
});
