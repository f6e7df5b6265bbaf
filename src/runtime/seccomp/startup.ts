/**
 * The calls the container child still makes after loading the filter (native/src/core/creds.c
 * and exec.c). A profile that refuses one of them outright could never start a container, and
 * the child could not even say so (its write(2) and exit_group(2) may be refused as well): the
 * kernel would kill it with SIGSYS or SIGSEGV. So the profile is checked here, before any work.
 */
import { TsdockError } from '../../errors.js';
import { SECCOMP_RET } from './bpf.js';
import type { ResolvedProfile } from './profile.js';
import { SYSCALLS_X86_64 } from './syscalls-x86_64.js';

/** With no_new_privs the filter is loaded just before execve. */
const AFTER_LOAD_WITH_NNP = ['execve'];
/** Without it, before the id and capability changes (seccomp(2) needs CAP_SYS_ADMIN then). */
const AFTER_LOAD = ['prctl', 'setgroups', 'setresgid', 'setresuid', 'capset', 'chdir', 'execve'];

/** The action a call always gets, or undefined when it depends on its arguments. */
function fixedAction(profile: ResolvedProfile, nr: number): number | undefined {
  const first = profile.rules.get(nr)?.[0];
  if (first === undefined) return profile.defaultAction;
  return first.conditions.length === 0 ? first.action : undefined;
}

/**
 * @throws TsdockError `INVALID_ARGUMENT` naming the first call the profile refuses outright.
 */
export function checkStartable(profile: ResolvedProfile, noNewPrivileges: boolean): void {
  for (const name of noNewPrivileges ? AFTER_LOAD_WITH_NNP : AFTER_LOAD) {
    const action = fixedAction(profile, SYSCALLS_X86_64.get(name) ?? -1);
    if (action !== undefined && action !== SECCOMP_RET.ALLOW && action !== SECCOMP_RET.LOG) {
      throw new TsdockError(
        'INVALID_ARGUMENT',
        `seccomp profile refuses ${name}, which the container needs to start` +
          (noNewPrivileges ? '' : ' (with no-new-privileges only execve is needed)'),
      );
    }
  }
}
