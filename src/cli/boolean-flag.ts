/** A boolean flag that also takes a value, as podman's and Docker's do: `--flag`, `--flag=false`. */
import { TsdockError } from '../errors.js';

export function parseBooleanFlag(flag: string, value: string | boolean | undefined): boolean {
  if (value === undefined || value === true || value === 'true') return true;
  if (value === false || value === 'false') return false;
  throw new TsdockError('INVALID_ARGUMENT', `invalid ${flag} "${value}": expected true or false`);
}
