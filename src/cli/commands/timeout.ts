/**
 * `-t N` of `stop` and `restart` and `--stop-timeout N` of `run` and `create`: whole seconds.
 * Absent: undefined (a stop then waits the container's own `--stop-timeout`, else 10 s).
 */
import { TsdockError } from '../../errors.js';

export function parseTimeout(value: string | undefined, flag = '-t'): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw new TsdockError('INVALID_ARGUMENT', `invalid ${flag} "${value}": expected seconds`);
  return Number(value);
}
