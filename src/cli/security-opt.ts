/** `--security-opt`, as Docker spells it: `no-new-privileges[=true|false]`, `seccomp=unconfined|PROFILE.json`. */
import { readFileSync } from 'node:fs';
import { TsdockError } from '../errors.js';
import { parseSeccompProfile } from '../runtime/seccomp/index.js';

export interface SecurityOpts {
  noNewPrivileges: boolean;
  /** `unconfined` or a profile's JSON text (already checked); absent: the default profile. */
  seccomp?: string;
}

const HINT = 'expected no-new-privileges[=true|false] or seccomp=unconfined|PROFILE.json';

/** Parses every `--security-opt`; a profile file is read and checked here, before any work. */
export function parseSecurityOpts(opts: readonly string[]): SecurityOpts {
  const parsed: SecurityOpts = { noNewPrivileges: false };
  for (const opt of opts) {
    // Docker accepts both `key=value` and the older `key:value`.
    const sep = opt.search(/[=:]/);
    const key = sep < 0 ? opt : opt.slice(0, sep);
    const value = sep < 0 ? undefined : opt.slice(sep + 1);
    if (key === 'no-new-privileges' && (value === undefined || value === 'true' || value === 'false')) {
      parsed.noNewPrivileges = value !== 'false';
    } else if (key === 'seccomp' && value === 'unconfined') {
      parsed.seccomp = value;
    } else if (key === 'seccomp' && value !== undefined && value !== '') {
      parsed.seccomp = readProfile(value);
    } else {
      throw new TsdockError('INVALID_ARGUMENT', `unsupported --security-opt "${opt}": ${HINT}`);
    }
  }
  return parsed;
}

function readProfile(path: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new TsdockError('INVALID_ARGUMENT', `cannot read seccomp profile ${path}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  parseSeccompProfile(text);
  return text;
}
