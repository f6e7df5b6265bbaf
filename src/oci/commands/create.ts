/**
 * `create --bundle DIR [--pid-file F] [--console-socket S] [--preserve-fds N] ID`: the container's
 * cgroup and init are made, the init set up and waiting right before execve until `start`.
 * Anything that fails is undone: no state dir, no cgroup, no init are left.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { TsdockError } from '../../errors.js';
import { DEFAULT_DEVICE_RULES } from '../../runtime/cgroups/devices.js';
import { createContainerCgroup, type CgroupLimits, type ContainerCgroup } from '../../runtime/cgroups/index.js';
import { writeFileAtomic } from '../../runtime/record-file.js';
import { encodePlan } from '../../runtime/plan-codec.js';
import type { PlanHook, SpawnPlan } from '../../runtime/plan.js';
import { processStartTime } from '../../runtime/proc-stat.js';
import { cgroupPlace } from '../cgroups-path.js';
import { flagString, type Flags, type Globals } from '../context.js';
import { runHooks } from '../hooks.js';
import { hostFacts } from '../host-facts.js';
import { checkTerminal, launch } from '../launch.js';
import { resourcesToLimits } from '../resources.js';
import { parseSpec, type OciHooks, type OciSpec } from '../spec.js';
import { specToPlan } from '../spec-plan.js';
import { checkId, specState, START_SOCKET, writeState, type StoredState } from '../state.js';

function preserveFdsOf(flags: Flags): number {
  const text = flagString(flags, 'preserve-fds') ?? '0';
  const n = Number(text);
  if (!/^\d+$/.test(text) || n > 1024) {
    throw new TsdockError('INVALID_ARGUMENT', `invalid --preserve-fds "${text}": expected a number of fds, 0 to 1024`);
  }
  return n;
}

/** The spec's device rules, then the nodes every container may use (as runc appends them). */
function limitsOf(spec: OciSpec): CgroupLimits {
  const limits = resourcesToLimits(spec.linux.resources ?? {});
  if (limits.devices !== undefined) limits.devices = [...limits.devices, ...DEFAULT_DEVICE_RULES.slice(1)];
  return limits;
}

/** The hooks the init runs itself, in the container's namespaces (native/src/core/hooks.c). */
function inContainerHooks(hooks: OciHooks | undefined): PlanHook[] {
  return (['createContainer', 'startContainer'] as const).flatMap((kind) =>
    (hooks?.[kind] ?? []).map((h) => ({
      kind,
      path: h.path,
      args: h.args !== undefined && h.args.length > 0 ? h.args : [h.path],
      env: h.env ?? [],
      timeout: h.timeout,
    })),
  );
}

/**
 * What create adds to the bundle's plan: the cgroup, the start socket in the state dir, the
 * preserved fds, the hooks the init runs and the state they read. tsdock-runtime's native create
 * (native/src/runtime/spec.c spec_finish_plan) adds the same, byte for byte.
 */
export function completePlan(
  plan: SpawnPlan,
  spec: OciSpec,
  state: StoredState,
  dir: string,
  preserveFds: number,
): void {
  plan.cgroupProcs = state.cgroupPaths.procs;
  plan.startSocket = join(dir, START_SOCKET);
  plan.preserveFds = preserveFds;
  plan.hooks = inContainerHooks(spec.hooks);
  // The init adds its status and pid to what its own hooks read.
  const hookState = Object.entries(specState(state, 'creating')).filter(([k]) => k !== 'status' && k !== 'pid');
  plan.hookState = JSON.stringify(Object.fromEntries(hookState));
  plan.runtimeHooks = [...(spec.hooks?.prestart ?? []), ...(spec.hooks?.createRuntime ?? [])].length > 0;
}

export async function create(g: Globals, flags: Flags, args: string[]): Promise<void> {
  const id = checkId(args[0]);
  const bundle = resolve(flagString(flags, 'bundle') ?? '.');
  const pidFile = flagString(flags, 'pid-file');
  const preserveFds = preserveFdsOf(flags);
  const spec = parseSpec(readFileSync(join(bundle, 'config.json'), 'utf8'), join(bundle, 'config.json'));
  const consoleSocket = flagString(flags, 'console-socket');
  checkTerminal(spec.process.terminal === true, consoleSocket);
  const plan = specToPlan(spec, hostFacts(bundle));

  const dir = join(g.root, id);
  mkdirSync(g.root, { recursive: true, mode: 0o711 });
  try {
    mkdirSync(dir, { mode: 0o711 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new TsdockError('CONFLICT', `container with id "${id}" already exists`);
    }
    throw err;
  }
  let cgroup: ContainerCgroup | undefined;
  let pid = 0;
  const created = new Date().toISOString();
  try {
    const place = cgroupPlace(spec.linux.cgroupsPath, id);
    cgroup = await createContainerCgroup({ name: place.name, parent: place.parent, limits: limitsOf(spec) });
    const state: StoredState = {
      id,
      bundle,
      rootfs: plan.rootfs ?? '',
      pid: 0,
      startTime: '',
      created,
      annotations: spec.annotations ?? {},
      cgroup: place,
      cgroupPaths: { procs: cgroup.procsFiles, dirs: cgroup.dirs, parents: cgroup.parentDirs },
      hooks: { poststart: spec.hooks?.poststart, poststop: spec.hooks?.poststop },
    };
    completePlan(plan, spec, state, dir, preserveFds);
    const planFile = join(dir, 'plan');
    writeFileSync(planFile, encodePlan(plan), { mode: 0o600 });
    g.debugLog(`create ${id}: starting the init`);
    pid = await launch(planFile, {
      leave: true,
      preserveFds,
      consoleSocket: consoleSocket && resolve(consoleSocket),
      // In the runtime's namespaces once the init's exist, before its createContainer hooks.
      onRuntimeHooks: (initPid) => {
        const creating = specState({ ...state, pid: initPid }, 'creating');
        runHooks(spec.hooks, 'prestart', creating);
        runHooks(spec.hooks, 'createRuntime', creating);
      },
    });
    rmSync(planFile);
    state.pid = pid;
    state.startTime = processStartTime(pid) ?? '';
    writeState(dir, state);
    if (pidFile !== undefined) writeFileAtomic(resolve(pidFile), String(pid));
  } catch (err) {
    if (pid > 0) process.kill(pid, 'SIGKILL');
    await cgroup?.destroy();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}
