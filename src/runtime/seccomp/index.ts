/**
 * The seccomp filter of one container: a profile (tsdock's default or one in Docker's JSON
 * format), resolved for the container's capabilities and compiled to classic BPF.
 */
import { release } from 'node:os';
import type { SockFilter } from '../plan.js';
import { compileSeccomp } from './compile.js';
import { DEFAULT_SECCOMP_PROFILE } from './default-profile.js';
import { resolveProfile, type ProfileContext, type SeccompProfile } from './profile.js';
import { checkStartable } from './startup.js';

export { DEFAULT_SECCOMP_PROFILE } from './default-profile.js';
export { parseSeccompProfile, type SeccompProfile } from './profile.js';

/** Compiled programs by profile and context: most containers share the default and a cap set. */
const cache = new WeakMap<SeccompProfile, Map<string, SockFilter[]>>();

/**
 * The BPF program for a container with these capabilities, on the running kernel unless
 * `context.kernel` names another release. `noNewPrivileges` decides which calls must stay
 * allowed after the filter is loaded (`startup.ts`).
 *
 * @throws TsdockError `INVALID_ARGUMENT` for a profile no container could start under.
 */
export function seccompFilter(
  profile: SeccompProfile = DEFAULT_SECCOMP_PROFILE,
  given: Omit<ProfileContext, 'kernel'> & { kernel?: string; noNewPrivileges?: boolean },
): SockFilter[] {
  const context: ProfileContext = { caps: given.caps, kernel: given.kernel ?? release() };
  const nnp = given.noNewPrivileges ?? false;
  const key = `${[...context.caps].sort().join(',')}|${context.kernel}|${String(nnp)}`;
  let byContext = cache.get(profile);
  if (byContext === undefined) {
    byContext = new Map();
    cache.set(profile, byContext);
  }
  let program = byContext.get(key);
  if (program === undefined) {
    const resolved = resolveProfile(profile, context);
    checkStartable(resolved, nnp);
    program = compileSeccomp(resolved);
    byContext.set(key, program);
  }
  return program;
}
