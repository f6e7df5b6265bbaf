/**
 * Health checks, as Docker has them (`--health-*`, the image's HEALTHCHECK) plus Podman's
 * `--health-on-failure`. Pure: parsing Docker's durations, merging the image's check with the
 * caller's field by field, and what the container's monitor is told. The monitor runs the check
 * (native/src/monitor/health.c) and keeps its state in `health.json`, in Docker's shape.
 */
import { TsdockError } from '../errors.js';
import type { HealthConfig } from '../image/oci.js';
import { JOINABLE } from './exec-plan.js';
import type { NamespaceJoin, SpawnPlan } from './plan.js';

/** What the monitor does once the check says unhealthy (Podman's `--health-on-failure`). */
export type HealthFailureAction = 'none' | 'kill' | 'restart' | 'stop';

export const HEALTH_FAILURE_ACTIONS: readonly HealthFailureAction[] = ['none', 'kill', 'restart', 'stop'];

/**
 * A health check as a caller asks for it; each field given overrides the image's HEALTHCHECK,
 * each one absent is the image's, then Docker's default.
 *
 * @example { test: ['CMD-SHELL', 'wget -q -O- localhost:8080'], intervalMs: 5000, onFailure: 'restart' }
 */
export interface HealthcheckOptions {
  /**
   * `['CMD', argv…]` (run as is), `['CMD-SHELL', command]` (run by the image's SHELL, else
   * `/bin/sh -c`) or `['NONE']`
   * (no check, whatever the image says).
   */
  test?: string[];
  /** Between two checks; default 30 s. */
  intervalMs?: number;
  /** A check running longer is killed and counts as a failure; default 30 s. */
  timeoutMs?: number;
  /** Failures in this time after a start do not count, until the first success; default 0. */
  startPeriodMs?: number;
  /** Between two checks during the start period; default 5 s. */
  startIntervalMs?: number;
  /** Failures in a row that make the container unhealthy; default 3. */
  retries?: number;
  /** Default `none`. */
  onFailure?: HealthFailureAction;
}

/** The check a container runs: image and caller merged, defaults applied. */
export interface Healthcheck {
  /** `CMD` or `CMD-SHELL` form. */
  test: string[];
  intervalMs: number;
  timeoutMs: number;
  startPeriodMs: number;
  startIntervalMs: number;
  retries: number;
  onFailure: HealthFailureAction;
}

/** One check's result, as Docker's `State.Health.Log` has it. */
export interface HealthResult {
  Start: string;
  End: string;
  /** -1: the check did not finish (timeout). */
  ExitCode: number;
  /** stdout and stderr, the first 4 KiB. */
  Output: string;
}

/** Docker's `State.Health`, as the monitor writes it after each check (`health.json`). */
export interface HealthState {
  Status: 'starting' | 'healthy' | 'unhealthy';
  FailingStreak: number;
  /** The last 5 results, oldest first. */
  Log: HealthResult[];
}

export const HEALTH_FILE = 'health.json';
export const HEALTH_PLAN_FILE = 'health.plan';

const DEFAULTS = { intervalMs: 30_000, timeoutMs: 30_000, startPeriodMs: 0, startIntervalMs: 5_000, retries: 3 };

/** What a poll(2) timeout in milliseconds can wait: about 24 days. */
const MAX_DURATION_MS = 2 ** 31 - 1;

const UNITS: Record<string, number> = { ns: 1, us: 1e3, µs: 1e3, μs: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };

function invalid(message: string): TsdockError {
  return new TsdockError('INVALID_ARGUMENT', message);
}

/**
 * Go's `time.ParseDuration`, which Docker's flags use (`1m30s`, `1.5s`, `300ms`, `0`), in
 * milliseconds, rounded up (a non-zero duration is at least 1 ms, Docker's minimum).
 *
 * @throws TsdockError `INVALID_ARGUMENT` naming `flag`: malformed, negative, or over ~24 days.
 */
export function parseDuration(flag: string, text: string): number {
  const bad = (why: string): TsdockError => invalid(`invalid ${flag} "${text}": ${why}`);
  if (text.startsWith('-')) throw bad(`${flag} cannot be negative`);
  const body = text.startsWith('+') ? text.slice(1) : text;
  if (body === '0') return 0;
  const part = /(\d+\.?\d*|\.\d+)([a-zµμ]+)/gy;
  let ns = 0;
  let at = 0;
  for (let m = part.exec(body); m !== null; m = part.exec(body)) {
    const unit = UNITS[m[2] ?? ''];
    if (unit === undefined) throw bad(`unknown unit "${m[2] ?? ''}" (use ns, us, ms, s, m or h)`);
    ns += Number(m[1]) * unit;
    at = part.lastIndex;
  }
  if (body === '' || at !== body.length) throw bad('expected a duration like 30s, 1m30s or 500ms');
  const ms = Math.ceil(ns / 1e6);
  if (ms > MAX_DURATION_MS) throw bad('at most 596h');
  return ms;
}

/** `CMD`/`CMD-SHELL`/`NONE` forms checked; a `CMD` needs a program. */
function checkTest(test: string[]): void {
  const [kind, ...rest] = test;
  const ok =
    (kind === 'CMD' && rest.length > 0 && rest[0] !== '') ||
    (kind === 'CMD-SHELL' && rest.length === 1) ||
    (kind === 'NONE' && rest.length === 0);
  if (!ok) {
    throw invalid(
      `invalid health check test ${JSON.stringify(test)}: expected ["CMD", …], ["CMD-SHELL", "…"] or ["NONE"]`,
    );
  }
}

function checkOptions(o: HealthcheckOptions): void {
  for (const key of ['intervalMs', 'timeoutMs', 'startIntervalMs'] as const) {
    const v = o[key];
    if (v !== undefined && (!Number.isInteger(v) || v < 0 || v > MAX_DURATION_MS)) {
      throw invalid(`invalid health check ${key} ${String(v)}: expected whole milliseconds, 0 for the default`);
    }
  }
  const { startPeriodMs: period, retries, onFailure } = o;
  if (period !== undefined && (!Number.isInteger(period) || period < 0 || period > MAX_DURATION_MS)) {
    throw invalid(`invalid health check startPeriodMs ${String(period)}: expected whole milliseconds`);
  }
  if (retries !== undefined && (!Number.isInteger(retries) || retries < 0 || retries > 1_000_000)) {
    throw invalid(`invalid health check retries ${String(retries)}: expected a whole number, 0 for the default`);
  }
  if (onFailure !== undefined && !HEALTH_FAILURE_ACTIONS.includes(onFailure)) {
    throw invalid(`invalid --health-on-failure "${onFailure}": expected none, kill, restart or stop`);
  }
}

/** The image's nanoseconds, in milliseconds (0: unset). */
const imageMs = (ns: number | undefined): number => Math.ceil((ns ?? 0) / 1e6);

/**
 * The check a container runs: the caller's fields over the image's (an empty `test` or a 0 is
 * "not given", as Docker merges), then Docker's defaults; undefined when there is none, or its
 * test is `NONE`.
 *
 * @throws TsdockError `INVALID_ARGUMENT` for a malformed test or value.
 */
export function resolveHealthcheck(
  image: HealthConfig | undefined,
  options: HealthcheckOptions | undefined,
): Healthcheck | undefined {
  const o = options ?? {};
  checkOptions(o);
  const test = o.test !== undefined && o.test.length > 0 ? o.test : (image?.Test ?? []);
  if (test.length === 0 || test[0] === 'NONE') {
    if (o.onFailure !== undefined && o.onFailure !== 'none') {
      throw invalid("--health-on-failure needs a health check (--health-cmd or the image's HEALTHCHECK)");
    }
    return undefined;
  }
  checkTest(test);
  const pick = (given: number | undefined, fromImage: number, fallback: number): number =>
    given !== undefined && given > 0 ? given : fromImage > 0 ? fromImage : fallback;
  return {
    test,
    intervalMs: pick(o.intervalMs, imageMs(image?.Interval), DEFAULTS.intervalMs),
    timeoutMs: pick(o.timeoutMs, imageMs(image?.Timeout), DEFAULTS.timeoutMs),
    startPeriodMs: pick(o.startPeriodMs, imageMs(image?.StartPeriod), DEFAULTS.startPeriodMs),
    startIntervalMs: pick(o.startIntervalMs, imageMs(image?.StartInterval), DEFAULTS.startIntervalMs),
    retries: pick(o.retries, image?.Retries ?? 0, DEFAULTS.retries),
    onFailure: o.onFailure ?? 'none',
  };
}

/** Docker's shell for `CMD-SHELL` when the image names none (its SHELL). */
const DEFAULT_SHELL: readonly string[] = ['/bin/sh', '-c'];

/**
 * The argv a check runs: `CMD` as given, `CMD-SHELL` through the image's SHELL (`shell`, the
 * image config's `Shell`), else `/bin/sh -c`, as Docker runs it.
 */
export function healthcheckArgv(check: Healthcheck, shell?: readonly string[]): string[] {
  const [kind, ...rest] = check.test;
  if (kind !== 'CMD-SHELL') return rest;
  return [...(shell !== undefined && shell.length > 0 ? shell : DEFAULT_SHELL), rest[0] ?? ''];
}

/**
 * The namespaces a check joins: every one the container's plan creates or joins. The paths name
 * no process: the monitor points each at the init of the current run (`/proc/<init>/ns/…`).
 */
export function healthcheckJoins(plan: Pick<SpawnPlan, 'namespaces' | 'joinNamespaces'>): NamespaceJoin[] {
  const types = new Set([...plan.namespaces, ...plan.joinNamespaces.map((j) => j.type)]);
  return JOINABLE.filter(([type]) => types.has(type)).map(([type, file]) => ({ type, path: `/proc/INIT/ns/${file}` }));
}

/** Docker's `Config.Healthcheck`: the merged check, durations in nanoseconds. */
export function dockerHealthConfig(check: Healthcheck): Required<HealthConfig> {
  return {
    Test: check.test,
    Interval: check.intervalMs * 1e6,
    Timeout: check.timeoutMs * 1e6,
    StartPeriod: check.startPeriodMs * 1e6,
    StartInterval: check.startIntervalMs * 1e6,
    Retries: check.retries,
  };
}

/**
 * The monitor's flags for the check (native/src/monitor/main.c); `stop`: how
 * `--health-on-failure stop|restart` stops the container (signal, then SIGKILL after the timeout).
 */
export function healthMonitorArgs(
  check: Healthcheck,
  planFile: string,
  stop: { signal: number; timeoutSeconds: number },
): string[] {
  return [
    '--health-plan',
    planFile,
    '--health-interval',
    String(check.intervalMs),
    '--health-timeout',
    String(check.timeoutMs),
    '--health-start-period',
    String(check.startPeriodMs),
    '--health-start-interval',
    String(check.startIntervalMs),
    '--health-retries',
    String(check.retries),
    '--health-on-failure',
    check.onFailure,
    '--stop-signal',
    String(stop.signal),
    '--stop-timeout',
    String(stop.timeoutSeconds),
  ];
}
