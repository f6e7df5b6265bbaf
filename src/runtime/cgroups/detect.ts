/**
 * Which cgroup hierarchy serves each controller tsdock uses, where it is mounted, and where this
 * process sits in it. A host may be pure v1, pure v2, or hybrid (v1 controllers plus a cgroup2
 * tree that carries only the core files: freeze, kill, events). The parsing is pure so that it
 * can be tested with captured texts; {@link detectHierarchy} reads the live files.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TsdockError } from '../../errors.js';

/** The controllers tsdock places containers in, by their cgroup v1 names. */
export const CONTROLLERS = ['memory', 'cpu', 'cpuacct', 'cpuset', 'pids', 'freezer', 'devices', 'blkio'] as const;
export type Controller = (typeof CONTROLLERS)[number];

/**
 * The cgroup2 name of each controller, or `null` where v2 has no controller because the feature
 * is in the core of every cgroup: `cgroup.freeze` (freezer), `cpu.stat` usage (cpuacct), and
 * device control, which v2 does with eBPF programs (cgroup-v2.rst "Device controller").
 */
const V2_NAME: Record<Controller, string | null> = {
  memory: 'memory',
  cpu: 'cpu',
  cpuacct: null,
  cpuset: 'cpuset',
  pids: 'pids',
  freezer: null,
  devices: null,
  blkio: 'io',
};

/** A mounted v1 hierarchy; comounted controllers (`cpu,cpuacct`) share one object. */
export interface V1Hierarchy {
  mountPoint: string;
  /** This process's cgroup, relative to the mount point (`/` at the mount's root). */
  ownPath: string;
}

/** The mounted cgroup2 tree. */
export interface V2Hierarchy {
  mountPoint: string;
  /** The controllers the root offers (`cgroup.controllers`): empty-ish on hybrid hosts. */
  controllers: string[];
  /** This process's cgroup, relative to the mount point. */
  ownPath: string;
}

export interface CgroupHierarchy {
  /** The v1 hierarchy of each controller that has one. */
  v1: Partial<Record<Controller, V1Hierarchy>>;
  v2: V2Hierarchy | undefined;
}

/** One cgroup or cgroup2 line of `/proc/self/mountinfo`. */
export interface CgroupMount {
  fstype: 'cgroup' | 'cgroup2';
  /** The cgroup at the root of this mount, in the mounter's cgroup namespace. */
  root: string;
  mountPoint: string;
  superOptions: string[];
}

/** mountinfo escapes space, tab, newline and backslash as octal (proc(5), `show_mountinfo`). */
function unescapeOctal(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

/**
 * The cgroup mounts of a `/proc/<pid>/mountinfo` text, in mount order. Fields per proc(5):
 * `id parent major:minor root mount-point options [optional...] - fstype source super-options`.
 */
export function parseMountinfo(text: string): CgroupMount[] {
  const mounts: CgroupMount[] = [];
  for (const line of text.split('\n')) {
    const fields = line.split(' ');
    const dash = fields.indexOf('-', 6);
    const fstype = fields[dash + 1];
    if (dash < 0 || (fstype !== 'cgroup' && fstype !== 'cgroup2')) continue;
    mounts.push({
      fstype,
      root: unescapeOctal(fields[3] ?? '/'),
      mountPoint: unescapeOctal(fields[4] ?? ''),
      superOptions: (fields[dash + 3] ?? '').split(','),
    });
  }
  return mounts;
}

/** `/proc/<pid>/cgroup`: the v1 path by subsystem name, and the v2 path (`0::/path`). */
export interface ProcCgroup {
  v1: Map<string, string>;
  v2: string | undefined;
}

export function parseProcCgroup(text: string): ProcCgroup {
  const result: ProcCgroup = { v1: new Map(), v2: undefined };
  for (const line of text.split('\n')) {
    // The path may itself contain ':', so split only the first two.
    const first = line.indexOf(':');
    const second = line.indexOf(':', first + 1);
    if (first < 0 || second < 0) continue;
    const id = line.slice(0, first);
    const subsystems = line.slice(first + 1, second);
    const path = line.slice(second + 1);
    if (id === '0' && subsystems === '') result.v2 = path;
    else for (const s of subsystems.split(',')) result.v1.set(s, path);
  }
  return result;
}

/**
 * A process's path as seen from a mount: /proc/self/cgroup gives it from the cgroup namespace's
 * root, and a mount whose root is a sub-cgroup (a bind mount, a mount made in another cgroup
 * namespace) shows only what lies below that root.
 */
function relativeToMount(path: string, mountRoot: string): string {
  if (mountRoot === '/' || !(path === mountRoot || path.startsWith(mountRoot + '/'))) return path;
  return path.slice(mountRoot.length) || '/';
}

/**
 * Builds the hierarchy map. `v2Controllers` is the cgroup2 root's `cgroup.controllers` content.
 * The first mount of a hierarchy wins; a controller whose mount or membership is missing is not
 * served by v1.
 */
export function buildHierarchy(mounts: CgroupMount[], procCgroup: ProcCgroup, v2Controllers: string): CgroupHierarchy {
  const hierarchy: CgroupHierarchy = { v1: {}, v2: undefined };
  for (const mount of mounts) {
    if (mount.fstype === 'cgroup2') {
      if (hierarchy.v2 !== undefined || procCgroup.v2 === undefined) continue;
      hierarchy.v2 = {
        mountPoint: mount.mountPoint,
        controllers: v2Controllers.split(/\s+/).filter(Boolean),
        ownPath: relativeToMount(procCgroup.v2, mount.root),
      };
      continue;
    }
    const subsystems = mount.superOptions.filter((o) => (CONTROLLERS as readonly string[]).includes(o)) as Controller[];
    const first = subsystems[0];
    const path = first === undefined ? undefined : procCgroup.v1.get(first);
    if (path === undefined || subsystems.some((s) => hierarchy.v1[s] !== undefined)) continue;
    const v1: V1Hierarchy = { mountPoint: mount.mountPoint, ownPath: relativeToMount(path, mount.root) };
    for (const s of subsystems) hierarchy.v1[s] = v1;
  }
  return hierarchy;
}

/**
 * Which hierarchy enforces a controller: its v1 mount when it has one, else the cgroup2 tree when
 * the root offers it (or it is a core v2 feature), else none.
 */
export function servingHierarchy(hierarchy: CgroupHierarchy, controller: Controller): 'v1' | 'v2' | undefined {
  if (hierarchy.v1[controller] !== undefined) return 'v1';
  const v2 = hierarchy.v2;
  if (v2 === undefined) return undefined;
  const name = V2_NAME[controller];
  return name === null || v2.controllers.includes(name) ? 'v2' : undefined;
}

/** The cgroup2 name of a controller, or `null` for a core v2 feature. */
export function v2ControllerName(controller: Controller): string | null {
  return V2_NAME[controller];
}

/** The host's cgroup mounts as mountinfo lists them, and the hierarchy they make for this process. */
export interface HostCgroups {
  mounts: CgroupMount[];
  hierarchy: CgroupHierarchy;
}

/**
 * Reads this process's cgroup mounts and memberships.
 *
 * @example
 * ```ts
 * const h = await detectHierarchy();
 * servingHierarchy(h, 'memory'); // 'v1' on a hybrid host, 'v2' on a pure v2 host
 * ```
 * @throws TsdockError `HOST_UNSUPPORTED` when no cgroup hierarchy is mounted at all.
 */
export function detectHierarchy(): CgroupHierarchy {
  return detectHostCgroups().hierarchy;
}

/** {@link detectHierarchy}, with the mounts it was built from (a plan mounts cgroupfs from them). */
export function detectHostCgroups(): HostCgroups {
  // procfs and cgroupfs answer from memory: synchronous reads skip the thread pool (see cgroupfs.ts).
  const mounts = parseMountinfo(readFileSync('/proc/self/mountinfo', 'utf8'));
  const cgroup = readFileSync('/proc/self/cgroup', 'utf8');
  const v2Mount = mounts.find((m) => m.fstype === 'cgroup2');
  const v2Controllers =
    v2Mount === undefined ? '' : readFileSync(join(v2Mount.mountPoint, 'cgroup.controllers'), 'utf8');
  const hierarchy = buildHierarchy(mounts, parseProcCgroup(cgroup), v2Controllers);
  if (hierarchy.v2 === undefined && Object.keys(hierarchy.v1).length === 0) {
    throw new TsdockError('HOST_UNSUPPORTED', 'no cgroup hierarchy is mounted (expected /sys/fs/cgroup)');
  }
  return { mounts, hierarchy };
}
