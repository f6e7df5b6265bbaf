/** `-t N` of `stop` and `restart`: whole seconds, default 10. */
import { TsdockError } from '../../errors.js';

export function parseTimeout(value: string | undefined): number {
  if (value === undefined) return 10;
  if (!/^\d+$/.test(value)) throw new TsdockError('INVALID_ARGUMENT', `invalid -t "${value}": expected seconds`);
  return Number(value);
}
