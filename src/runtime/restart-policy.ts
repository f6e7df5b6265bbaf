/**
 * Docker's restart policies, applied by the container's monitor (native/src/monitor/restart.c):
 * `no`, `on-failure[:N]` (a non-zero exit, at most N restarts), `always`, `unless-stopped`.
 * A container the user stopped (`stop`, `kill` with SIGKILL or its stop signal, `rm -f`) is
 * never restarted. With no daemon there is no daemon restart, the one moment where `always` and
 * `unless-stopped` differ, so here they behave the same.
 */
import { TsdockError } from '../errors.js';

export interface RestartPolicy {
  name: 'no' | 'on-failure' | 'always' | 'unless-stopped';
  /** on-failure only; 0 means no limit. */
  maximumRetryCount: number;
}

export const NO_RESTART: RestartPolicy = { name: 'no', maximumRetryCount: 0 };

/**
 * `--restart` as Docker spells it.
 *
 * @throws TsdockError `INVALID_ARGUMENT` for anything else.
 */
export function parseRestartPolicy(spec: string): RestartPolicy {
  const [name = '', count, ...rest] = spec.split(':');
  const bad = (): TsdockError =>
    new TsdockError(
      'INVALID_ARGUMENT',
      `invalid --restart "${spec}": expected no, on-failure[:max-retries], always or unless-stopped`,
    );
  if (rest.length > 0) throw bad();
  if (name === 'on-failure') {
    if (count === undefined) return { name, maximumRetryCount: 0 };
    if (!/^\d{1,6}$/.test(count)) throw bad();
    return { name, maximumRetryCount: Number(count) };
  }
  if ((name === 'no' || name === 'always' || name === 'unless-stopped') && count === undefined) {
    return { name, maximumRetryCount: 0 };
  }
  throw bad();
}

/** The monitor's `--restart` value. */
export function restartArg(policy: RestartPolicy): string {
  return policy.name === 'on-failure' && policy.maximumRetryCount > 0
    ? `on-failure:${policy.maximumRetryCount}`
    : policy.name;
}
