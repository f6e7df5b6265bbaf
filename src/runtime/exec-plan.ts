/**
 * The spawn plan of an `exec`: a new process in a running container. It joins every namespace
 * of the container's init (user first, see spawn.c), is placed in the container's cgroup, and
 * runs with the same environment, working directory, user, capabilities, no_new_privs, rlimits
 * and seccomp filter as the container's own process — unless `-e`, `-w` or `-u` say otherwise.
 * Pure: the base is saved from the container's plan at create time (`exec.json`).
 */
import { TsdockError } from '../errors.js';
import type { NamespaceJoin, NamespaceType, SockFilter, SpawnPlan } from './plan.js';

/** What an exec takes over from the container's plan; JSON-safe (rlimits as decimal strings). */
export interface ExecBase {
  env: string[];
  cwd: string;
  user: SpawnPlan['user'];
  capabilities: SpawnPlan['capabilities'];
  noNewPrivileges: boolean;
  rlimits: { resource: number; soft: string; hard: string }[];
  seccomp?: SockFilter[];
}

export function execBaseOf(plan: SpawnPlan): ExecBase {
  return {
    env: plan.env,
    cwd: plan.cwd,
    user: plan.user,
    capabilities: plan.capabilities,
    noNewPrivileges: plan.noNewPrivileges,
    rlimits: plan.rlimits.map((r) => ({ resource: r.resource, soft: String(r.soft), hard: String(r.hard) })),
    seccomp: plan.seccomp,
  };
}

export interface ExecRequest {
  args: string[];
  /** `KEY=value` entries over the container's environment (last wins). */
  env?: string[];
  /** `-w`: absolute path inside the container. */
  cwd?: string;
  /** `-u`, already resolved against the container's /etc/passwd and /etc/group. */
  user?: SpawnPlan['user'];
  /** The init's namespaces that differ from the host's, as /proc/<pid>/ns/<type> paths. */
  joins: NamespaceJoin[];
  /** The container's cgroup.procs files. */
  cgroupProcs: string[];
  /** `-t`: a pty of the container's devpts, of this size (0x0: until the client sends one). */
  terminal?: { rows: number; cols: number };
}

/** The order in which spawn.c must join namespaces matters only for user (first), which it handles. */
export const JOINABLE: [NamespaceType, string][] = [
  ['user', 'user'],
  ['mount', 'mnt'],
  ['pid', 'pid'],
  ['network', 'net'],
  ['ipc', 'ipc'],
  ['uts', 'uts'],
  ['cgroup', 'cgroup'],
];

function mergeEnv(base: string[], extra: string[]): string[] {
  const key = (e: string): string => e.slice(0, Math.max(0, e.indexOf('=')) || e.length);
  const out = new Map(base.map((e) => [key(e), e]));
  for (const e of extra) out.set(key(e), e);
  return [...out.values()];
}

export function buildExecPlan(base: ExecBase, req: ExecRequest): SpawnPlan {
  if (req.args.length === 0) throw new TsdockError('INVALID_ARGUMENT', 'exec needs a command');
  if (req.cwd !== undefined && !req.cwd.startsWith('/')) {
    throw new TsdockError('INVALID_ARGUMENT', `invalid working directory "${req.cwd}": it must be an absolute path`);
  }
  if (!req.joins.some((j) => j.type === 'mount')) {
    throw new TsdockError('START_FAILED', 'the container has no mount namespace of its own to exec in');
  }
  return {
    args: req.args,
    // As Docker, a terminal without a TERM is an xterm.
    env: mergeEnv(base.env, [...(req.terminal === undefined ? [] : ['TERM=xterm']), ...(req.env ?? [])]),
    cwd: req.cwd ?? base.cwd,
    namespaces: [],
    joinNamespaces: req.joins,
    uidMappings: [],
    gidMappings: [],
    user: req.user ?? base.user,
    capabilities: base.capabilities,
    noNewPrivileges: base.noNewPrivileges,
    rlimits: base.rlimits.map((r) => ({ resource: r.resource, soft: BigInt(r.soft), hard: BigInt(r.hard) })),
    rootfsPropagation: 0n,
    rootfsOps: [],
    containerOps: [],
    readonlyRootfs: false,
    loopbackUp: false,
    cgroupProcs: req.cgroupProcs,
    // The container's cgroup stays: it is the container's, not the exec's.
    cgroupDirs: [],
    seccomp: base.seccomp,
    terminal: req.terminal,
  };
}
