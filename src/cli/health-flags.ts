/** The `--health-*` flags of `run` and `create`, checked as Docker checks them. */
import { TsdockError } from '../errors.js';
import {
  HEALTH_FAILURE_ACTIONS,
  parseDuration,
  type HealthcheckOptions,
  type HealthFailureAction,
} from '../runtime/healthcheck.js';

export interface HealthFlags {
  healthCmd?: string;
  healthInterval?: string;
  healthTimeout?: string;
  healthRetries?: string;
  healthStartPeriod?: string;
  healthStartInterval?: string;
  healthOnFailure?: string;
  /** Commander's `--no-healthcheck`: false when given. */
  healthcheck?: boolean;
}

function invalid(message: string): TsdockError {
  return new TsdockError('INVALID_ARGUMENT', message);
}

function parseRetries(text: string): number {
  if (/^-\d+$/.test(text)) throw invalid('--health-retries cannot be negative');
  if (!/^\d+$/.test(text) || Number(text) > 1_000_000) {
    throw invalid(`invalid --health-retries "${text}": expected a whole number`);
  }
  return Number(text);
}

function parseAction(text: string): HealthFailureAction {
  const action = HEALTH_FAILURE_ACTIONS.find((a) => a === text);
  if (action === undefined) {
    throw invalid(`invalid --health-on-failure "${text}": expected none, kill, restart or stop`);
  }
  return action;
}

const duration = (flag: string, text: string | undefined): number | undefined =>
  text === undefined ? undefined : parseDuration(flag, text);

/** The flags as {@link HealthcheckOptions}; undefined when none was given (the image decides). */
export function parseHealthFlags(flags: HealthFlags): HealthcheckOptions | undefined {
  const options: HealthcheckOptions = {
    test: flags.healthCmd === undefined ? undefined : ['CMD-SHELL', flags.healthCmd],
    intervalMs: duration('--health-interval', flags.healthInterval),
    timeoutMs: duration('--health-timeout', flags.healthTimeout),
    startPeriodMs: duration('--health-start-period', flags.healthStartPeriod),
    startIntervalMs: duration('--health-start-interval', flags.healthStartInterval),
    retries: flags.healthRetries === undefined ? undefined : parseRetries(flags.healthRetries),
    onFailure: flags.healthOnFailure === undefined ? undefined : parseAction(flags.healthOnFailure),
  };
  const given = Object.values(options).some((v) => v !== undefined);
  if (flags.healthcheck === false) {
    if (given) throw invalid('--no-healthcheck conflicts with --health-* options');
    return { test: ['NONE'] };
  }
  return given ? options : undefined;
}
