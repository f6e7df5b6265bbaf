/**
 * `exec --process FILE [--detach] [--pid-file F] [--preserve-fds N] ID`, or `exec ID CMD...` with
 * the container's own process settings: a new process in every namespace of the init that differs
 * from ours, in the container's cgroup, under the container's seccomp profile. With --detach it is
 * left to the caller's subreaper once exec'd; without, this waits and exits with its status. A
 * terminal's pty master goes to --console-socket either way.
 */
import { readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { TsdockError } from '../../errors.js';
import { writeFileAtomic } from '../../runtime/record-file.js';
import { JOINABLE } from '../../runtime/exec-plan.js';
import type { NamespaceJoin } from '../../runtime/plan.js';
import { encodePlan } from '../../runtime/plan-codec.js';
import { loadContainer, requireStatus } from '../container.js';
import { flagString, type Flags, type Globals } from '../context.js';
import { hostCaps } from '../host-facts.js';
import { checkTerminal, launch } from '../launch.js';
import { parseProcess, parseSpec, type OciProcess } from '../spec.js';
import { processToExecPlan } from '../spec-plan.js';

/** The init's namespaces that are not ours, as /proc/<pid>/ns paths (the exec joins those). */
function namespacesOf(pid: number): NamespaceJoin[] {
  return JOINABLE.filter(
    ([, name]) => readlinkSync(`/proc/${String(pid)}/ns/${name}`) !== readlinkSync(`/proc/self/ns/${name}`),
  ).map(([type, name]) => ({ type, path: `/proc/${String(pid)}/ns/${name}` }));
}

function processOf(flags: Flags, args: string[], base: OciProcess): OciProcess {
  const file = flagString(flags, 'process');
  if (file !== undefined) return parseProcess(readFileSync(file, 'utf8'), file);
  if (args.length < 2) throw new TsdockError('INVALID_ARGUMENT', 'exec needs --process FILE or a command after the id');
  return { ...base, args: args.slice(1), terminal: flags.tty === true };
}

export async function exec(g: Globals, flags: Flags, args: string[]): Promise<void> {
  const c = await loadContainer(g.root, args[0] ?? '');
  requireStatus(c, ['created', 'running'], 'exec in');
  const spec = parseSpec(readFileSync(join(c.state.bundle, 'config.json'), 'utf8'));
  const proc = processOf(flags, args, spec.process);
  const consoleSocket = flagString(flags, 'console-socket');
  checkTerminal(proc.terminal === true, consoleSocket);
  const detach = flags.detach === true;
  const preserveFds = Number(flagString(flags, 'preserve-fds') ?? '0');
  const plan = processToExecPlan(spec, proc, namespacesOf(c.state.pid), c.cgroup.procsFiles, hostCaps());
  plan.preserveFds = preserveFds;
  const planFile = join(c.dir, `exec-${String(process.pid)}.plan`);
  writeFileSync(planFile, encodePlan(plan), { mode: 0o600 });
  let result: number;
  try {
    result = await launch(planFile, {
      leave: detach,
      preserveFds,
      consoleSocket: consoleSocket && resolve(consoleSocket),
    });
  } finally {
    rmSync(planFile, { force: true });
  }
  const pidFile = flagString(flags, 'pid-file');
  if (detach && pidFile !== undefined) writeFileAtomic(resolve(pidFile), String(result));
  if (!detach) process.exitCode = result;
}
