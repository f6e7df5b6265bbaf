/**
 * `exec`: a new process in a running container, started by a monitor of its own on an exec plan
 * (`exec-plan.ts`). Node cannot join a mount or user namespace (it is multithreaded), so the
 * single-threaded monitor does: it opens the container's cgroup.procs files, joins the init's
 * namespaces, clones the process into them and reports its exit like a container's.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TsdockError } from '../errors.js';
import { native } from '../native.js';
import { openContainerCgroup } from './cgroups/index.js';
import { execBaseFileOf } from './container.js';
import { emit, isActive, type ObservedContainer } from './container-ops.js';
import { buildExecPlan, JOINABLE, type ExecBase } from './exec-plan.js';
import type { NamespaceJoin } from './plan.js';
import { terminalSize } from './plan-builder.js';
import { encodePlan } from './plan-codec.js';
import { spawnMonitor, type ExitStatus, type MonitorHandle, type StdioMode } from './spawn.js';
import { resolveUser } from './user.js';

export interface ExecOptions {
  command: string[];
  env?: string[];
  workdir?: string;
  /** `-u user[:group]`, looked up in the container's own /etc/passwd and /etc/group. */
  user?: string;
  /** Default: stdin ignored, output inherited. Ignored with `tty`. */
  stdio?: StdioMode;
  /**
   * `-t`: the process gets a pty of the container's own; its monitor serves it to the caller on
   * `monitor.attach` (attach-protocol.ts) from the start.
   */
  tty?: boolean;
  /** The terminal's size at start. */
  consoleSize?: { rows: number; cols: number };
}

export interface StartedExec {
  /** Host pid of the exec'd process. */
  pid: number;
  monitor: MonitorHandle;
  /** Resolves with its exit status; the exec's plan file is removed by then. */
  exited: Promise<ExitStatus>;
}

/** The init's namespaces that are not the host's (joining one's own user namespace is EINVAL). */
function namespacesOf(pid: number): NamespaceJoin[] {
  return JOINABLE.filter(
    ([, file]) => statSync(`/proc/${pid}/ns/${file}`).ino !== statSync(`/proc/self/ns/${file}`).ino,
  ).map(([type, file]) => ({ type, path: `/proc/${pid}/ns/${file}` }));
}

/** passwd and group files larger than this are not the kind a container's user lookup reads. */
const ACCOUNT_FILE_LIMIT = 4 * 1024 * 1024;

/**
 * The container's own file, resolved inside its init's root: an image's `/etc/passwd -> /etc/x`
 * names the container's /etc/x, never the host's (a missing file reads as '').
 */
function containerFile(pid: number, path: string): string {
  return (
    native()
      .readFileInRoot(`/proc/${String(pid)}/root`, path, ACCOUNT_FILE_LIMIT)
      ?.toString('utf8') ?? ''
  );
}

function readBase(dir: string, name: string): ExecBase {
  try {
    return JSON.parse(readFileSync(execBaseFileOf(dir), 'utf8')) as ExecBase;
  } catch (err) {
    throw new TsdockError('STORE', `container ${name} has no exec settings (created by an older tsdock?)`, {
      cause: err,
    });
  }
}

export async function execInContainer(container: ObservedContainer, options: ExecOptions): Promise<StartedExec> {
  const { record, observed, dir } = container;
  if (!isActive(observed) || observed.pid === 0) {
    throw new TsdockError('CONFLICT', `container ${record.name} is not running`);
  }
  if (observed.status === 'paused') throw new TsdockError('CONFLICT', `container ${record.name} is paused`);
  const pid = observed.pid;
  const base = readBase(dir, record.name);
  const user =
    options.user === undefined
      ? undefined
      : resolveUser(options.user, containerFile(pid, '/etc/passwd'), containerFile(pid, '/etc/group'));
  const cgroup = await openContainerCgroup({ name: record.id, parent: record.options.cgroupParent });
  const plan = buildExecPlan(base, {
    args: options.command,
    env: options.env,
    cwd: options.workdir,
    user: user === undefined ? undefined : { uid: user.uid, gid: user.gid, additionalGids: user.additionalGids },
    joins: namespacesOf(pid),
    cgroupProcs: cgroup.procsFiles,
    terminal: options.tty === true ? terminalSize(options.consoleSize) : undefined,
  });
  const execId = randomBytes(32).toString('hex');
  const planFile = join(dir, `exec-${execId.slice(0, 16)}.plan`);
  writeFileSync(planFile, encodePlan(plan), { mode: 0o600 });
  const removePlan = (): void => {
    try {
      unlinkSync(planFile);
    } catch {
      // Already gone with the container.
    }
  };
  const monitor =
    options.tty === true
      ? spawnMonitor(planFile, { stdin: 'ignore', output: 'ignore' }, undefined, { client: true })
      : spawnMonitor(planFile, options.stdio ?? { stdin: 'ignore', output: 'inherit' });
  try {
    const started = await monitor.started;
    // The monitor has read the plan before it reports anything.
    removePlan();
    emit(container, { action: 'exec_create', execId, command: options.command });
    emit(container, { action: 'exec_start', execId, command: options.command });
    const exited = monitor.exited.then((status) => {
      emit(container, { action: 'exec_die', execId, exitCode: status.exitCode });
      return status;
    });
    // Like monitor.exited: a rejection nobody awaits is not an unhandled one.
    exited.catch(() => undefined);
    return { pid: started, monitor, exited };
  } catch (err) {
    await monitor.exited.catch(() => undefined);
    removePlan();
    throw err;
  }
}
