/**
 * A container's cgroup, whatever the host mounts: v1 hierarchies, the v2 tree, or both (hybrid).
 * Each controller's limits go to the hierarchy that serves it (`servingHierarchy`); the container
 * joins every v1 hierarchy tsdock uses plus the v2 tree when it is mounted, which on a hybrid
 * host carries no controller but gives freeze, kill and events. Where the directories go is the
 * parent rule in `layout.ts`.
 *
 * The runtime creates the cgroup, hands `procsFiles`, `dirs` and `oom` to the native monitor in
 * the spawn plan (the monitor places the child before `execve` and removes the dirs after exit),
 * and uses the rest for `pause`, `kill`, `stats` and `rm`.
 */
import { TsdockError } from '../../errors.js';
import { native } from '../../native.js';
import type { OomSource } from '../plan.js';
import { removeCgroupDir, removeIfUnused } from './cgroupfs.js';
import {
  CONTROLLERS,
  detectHierarchy,
  servingHierarchy,
  type CgroupHierarchy,
  type Controller,
  type V1Hierarchy,
} from './detect.js';
import { requiredControllers, type AppliedLimits, type CgroupDriver, type CgroupStats } from './driver.js';
import { checkName, checkParent, createPlacement, DEFAULT_PARENT, place, type Placement } from './layout.js';
import type { CgroupLimits } from './limits.js';
import { cpusetHooks, V1Cgroup, type V1Dirs } from './v1.js';
import { V2Cgroup, v2CreateHooks } from './v2.js';

export type { CgroupHierarchy, HostCgroups } from './detect.js';
export { detectHierarchy, detectHostCgroups } from './detect.js';
export type { AppliedLimits, CgroupStats } from './driver.js';
export { DEFAULT_PARENT } from './layout.js';
export type { CgroupLimits, LimitFlags } from './limits.js';
export { parseCgroupLimits } from './limits.js';

/** One container's cgroup across every hierarchy it joined. */
export interface ContainerCgroup {
  /** `cgroup.procs` files the monitor writes the child's pid to before `execve`. */
  readonly procsFiles: string[];
  /**
   * The container's own directories, deepest first: the monitor removes them after the exit.
   * Shared parents are not among them (another container may be starting there).
   */
  readonly dirs: string[];
  /**
   * tsdock's default parent, when the container is in it: it stays once made, as the next
   * container would make it again (in every hierarchy), and goes with `container prune` once
   * nothing uses it ({@link removeUnusedDefaultParent}).
   */
  readonly parentDirs: string[];
  /** Where the monitor reads the OOM-kill counter at exit; absent without a memory controller. */
  readonly oom: OomSource | undefined;
  /** Stops every task (v2 `cgroup.freeze`, else the v1 freezer); resolves once all are frozen. */
  freeze(): Promise<void>;
  thaw(): Promise<void>;
  /** SIGKILLs every task (v2 `cgroup.kill`, else each listed pid) and resolves once none is left. */
  kill(): Promise<void>;
  stats(): Promise<CgroupStats>;
  /** The limits in effect, read back from the kernel. */
  limits(): Promise<AppliedLimits>;
  /** Kills what is left and removes the directories; idempotent. */
  destroy(): Promise<void>;
  /** Writes new limits (OCI `update`); the controllers of limits not given stay as they are. */
  applyLimits(limits: CgroupLimits): Promise<void>;
}

export interface CgroupOptions {
  /** The container id: the name of its directory in every hierarchy. */
  name: string;
  /** Absolute from each hierarchy's root, relative from this process's own cgroup; default `/tsdock`. */
  parent?: string;
  /** The host's hierarchies; detected when absent. Tests point it at a temp dir or a test mount. */
  hierarchy?: CgroupHierarchy;
}

export interface CreateCgroupOptions extends CgroupOptions {
  limits: CgroupLimits;
}

/** Where the container's directories go, per hierarchy. */
interface Layout {
  v1: { placement: Placement; controllers: Controller[] }[];
  v2: { placement: Placement; serves: Set<Controller> } | undefined;
}

function layoutOf(hierarchy: CgroupHierarchy, parent: string, name: string): Layout {
  const byMount = new Map<V1Hierarchy, Controller[]>();
  for (const controller of CONTROLLERS) {
    const mount = hierarchy.v1[controller];
    if (mount !== undefined) byMount.set(mount, [...(byMount.get(mount) ?? []), controller]);
  }
  const v2 = hierarchy.v2;
  return {
    v1: [...byMount].map(([mount, controllers]) => ({
      placement: place(mount.mountPoint, mount.ownPath, parent, name),
      controllers,
    })),
    v2:
      v2 === undefined
        ? undefined
        : {
            placement: place(v2.mountPoint, v2.ownPath, parent, name),
            serves: new Set(CONTROLLERS.filter((c) => servingHierarchy(hierarchy, c) === 'v2')),
          },
  };
}

class Cgroup implements ContainerCgroup {
  readonly procsFiles: string[];
  readonly dirs: string[];
  readonly oom: OomSource | undefined;
  private readonly drivers: CgroupDriver[];

  constructor(
    private readonly v1: V1Cgroup | undefined,
    private readonly v2: V2Cgroup | undefined,
    readonly parentDirs: string[],
  ) {
    this.drivers = [v1, v2].filter((d) => d !== undefined);
    this.procsFiles = this.drivers.flatMap((d) => d.procsFiles);
    this.dirs = this.drivers.flatMap((d) => d.dirs);
    this.oom = v1?.oom ?? v2?.oom;
  }

  /** v2's core freezer when the tree is mounted (never stuck half-way, unlike v1's FREEZING). */
  private freezer(): CgroupDriver {
    const driver = this.v2 ?? this.v1;
    if (driver === undefined || !driver.canFreeze) {
      throw new TsdockError('HOST_UNSUPPORTED', 'cannot freeze: neither a cgroup2 tree nor a v1 freezer is mounted');
    }
    return driver;
  }

  freeze(): Promise<void> {
    return this.freezer().freeze();
  }

  thaw(): Promise<void> {
    return this.freezer().thaw();
  }

  async kill(): Promise<void> {
    // Every task is in the v2 cgroup too, and cgroup.kill reaches them all at once.
    await (this.v2 ?? this.v1)?.kill();
  }

  /** The drivers serve disjoint controllers, so their reports merge without overlap. */
  async stats(): Promise<CgroupStats> {
    const parts = await Promise.all(this.drivers.map((d) => d.stats()));
    return parts.reduce<CgroupStats>((all, part) => ({ ...all, ...part }), {});
  }

  async limits(): Promise<AppliedLimits> {
    const parts = await Promise.all(this.drivers.map((d) => d.readLimits()));
    return parts.reduce<AppliedLimits>((all, part) => ({ ...all, ...part }), {});
  }

  async destroy(): Promise<void> {
    await this.kill();
    for (const dir of this.drivers.flatMap((d) => d.dirs)) await removeCgroupDir(dir);
  }

  async applyLimits(limits: CgroupLimits): Promise<void> {
    for (const driver of this.drivers) await driver.applyLimits(limits);
  }
}

function build(layout: Layout, parent: string): Cgroup {
  const dirs: V1Dirs = {};
  for (const { placement, controllers } of layout.v1) for (const c of controllers) dirs[c] = placement.dir;
  const v1 = layout.v1.length > 0 ? new V1Cgroup(dirs) : undefined;
  const v2 =
    layout.v2 === undefined
      ? undefined
      : new V2Cgroup(layout.v2.placement.dir, layout.v2.serves, (dir, program) => {
          native().attachDeviceProgram(dir, program);
        });
  return new Cgroup(v1, v2, parent === DEFAULT_PARENT ? defaultParentDirs(layout) : []);
}

/**
 * The default parent's directories in every hierarchy, deepest first. Only the default parent is
 * tsdock's to remove: a parent the caller named (a pod's cgroup, a test's directory) is the caller's.
 */
function defaultParentDirs(layout: Layout): string[] {
  const placements = [...layout.v1.map((l) => l.placement), ...(layout.v2 ? [layout.v2.placement] : [])];
  return placements.flatMap((p) => [...p.parents].reverse());
}

/** Where tsdock's default parent cgroup is, or would be, in every hierarchy (innermost first). */
export function defaultParentPaths(hierarchy: CgroupHierarchy = detectHierarchy()): string[] {
  return defaultParentDirs(layoutOf(hierarchy, DEFAULT_PARENT, 'unused'));
}

/**
 * Removes tsdock's default parent cgroup in every hierarchy where nothing lives in it any more
 * (`container prune`); one that a container uses, or that another is being made in, stays.
 */
export function removeUnusedDefaultParent(hierarchy: CgroupHierarchy = detectHierarchy()): void {
  for (const dir of defaultParentPaths(hierarchy)) removeIfUnused(dir);
}

async function resolve(opts: CgroupOptions): Promise<{ hierarchy: CgroupHierarchy; parent: string; layout: Layout }> {
  const given = opts.parent ?? DEFAULT_PARENT;
  checkName(opts.name);
  checkParent(given);
  // `/tsdock/` is the default parent too.
  const parent = given.replace(/(.)\/+$/, '$1');
  const hierarchy = opts.hierarchy ?? detectHierarchy();
  return { hierarchy, parent, layout: layoutOf(hierarchy, parent, opts.name) };
}

/** Undoes a failed create: only what it made, as an existing directory belongs to someone else. */
async function removeMade(made: Placement[], parent: string): Promise<void> {
  for (const placement of made) await removeCgroupDir(placement.dir);
  if (parent !== DEFAULT_PARENT) return;
  for (const placement of made) for (const dir of [...placement.parents].reverse()) removeIfUnused(dir);
}

/**
 * Creates a container's cgroup in every hierarchy and writes its limits. On failure, whatever
 * this call created is removed again.
 *
 * @example
 * ```ts
 * const cgroup = await createContainerCgroup({ name: id, limits: parseCgroupLimits({ memory: '64m' }) });
 * plan.cgroupProcs = cgroup.procsFiles; plan.cgroupDirs = cgroup.dirs; plan.oom = cgroup.oom;
 * ```
 * @throws TsdockError `HOST_UNSUPPORTED` when a limit's controller is not available,
 *   `START_FAILED` when a directory exists already or the kernel refuses a value (the message
 *   names the file and the value), `INVALID_ARGUMENT` for a bad name or parent.
 */
export async function createContainerCgroup(opts: CreateCgroupOptions): Promise<ContainerCgroup> {
  const { hierarchy, parent, layout } = await resolve(opts);
  const unserved = requiredControllers(opts.limits).filter((c) => servingHierarchy(hierarchy, c) === undefined);
  if (unserved.length > 0) {
    throw new TsdockError(
      'HOST_UNSUPPORTED',
      `the requested limits need the ${unserved.join(', ')} cgroup controller, which this host does not mount`,
    );
  }
  const cgroup = build(layout, parent);
  const made: Placement[] = [];
  try {
    for (const { placement, controllers } of layout.v1) {
      await createPlacement(placement, controllers.includes('cpuset') ? cpusetHooks : {});
      made.push(placement);
    }
    if (layout.v2 !== undefined) {
      await createPlacement(layout.v2.placement, v2CreateHooks(layout.v2.serves, opts.limits));
      made.push(layout.v2.placement);
    }
    await cgroup.applyLimits(opts.limits);
  } catch (err) {
    try {
      await removeMade(made, parent);
    } catch (cleanup) {
      // Both matter: why the start failed, and what it left behind.
      const message = `${(err as Error).message}; removing the cgroups made so far failed too: ${(cleanup as Error).message}`;
      throw new TsdockError(err instanceof TsdockError ? err.code : 'START_FAILED', message, { cause: err });
    }
    throw err;
  }
  return cgroup;
}

/**
 * The cgroup of an existing container, by the same name and parent it was created with. Nothing
 * is checked or created: operations on a cgroup that is gone report it (`kill` and `destroy`
 * treat it as done).
 */
export async function openContainerCgroup(opts: CgroupOptions): Promise<ContainerCgroup> {
  const { parent, layout } = await resolve(opts);
  return build(layout, parent);
}
