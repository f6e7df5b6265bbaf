/**
 * An OCI runtime-spec bundle as a tsdock {@link SpawnPlan}: pure, so that every rule below is
 * unit-tested without root. The caller gathers the host facts (what a bind source is, the host's
 * cgroup mounts, the container's `cgroup.procs` files) and the native monitor executes the plan.
 *
 * The order follows the spec and runc: "/" made slave (or private) first; the rootfs bound onto
 * itself (pivot_root needs a mount point); the spec's mounts in order; then /dev's default nodes,
 * the spec's devices and the /dev symlinks; after pivot_root the working directory, sysctls,
 * masked paths, read-only paths, and a read-only root last.
 */
import { posix } from 'node:path';
import { TsdockError } from '../errors.js';
import { capabilityNames, capabilityNumber } from '../runtime/capabilities.js';
import type { CgroupMount } from '../runtime/cgroups/detect.js';
import { cgroupFsContainerOps, cgroupFsOps } from '../runtime/cgroup-mounts.js';
import { MS, PROPAGATION, parseMountOptions } from '../runtime/mount-flags.js';
import type { CapabilitySets, FsOp, NamespaceJoin, NamespaceType, Rlimit, SpawnPlan } from '../runtime/plan.js';
import { parseSeccompProfile, seccompFilter } from '../runtime/seccomp/index.js';
import type { OciDevice, OciMount, OciProcess, OciSpec } from './spec.js';

/** What the converter needs from the host; gathered by the caller. */
export interface HostFacts {
  /** The bundle directory (absolute): `root.path` and relative bind sources are below it. */
  bundle: string;
  /** Whether a bind source is a directory or a file (the mount target is made to match). */
  sourceKind(path: string): 'dir' | 'file';
  /** The host's cgroup mounts, mirrored for a `cgroup` mount in the spec. */
  cgroupMounts: readonly CgroupMount[];
  /** The capabilities of this process's bounding set: all a process can get. */
  hostCaps: readonly number[];
}

const NAMESPACES: Record<string, NamespaceType> = {
  pid: 'pid',
  network: 'network',
  mount: 'mount',
  ipc: 'ipc',
  uts: 'uts',
  user: 'user',
  cgroup: 'cgroup',
};

const RLIMITS = [
  'CPU',
  'FSIZE',
  'DATA',
  'STACK',
  'CORE',
  'RSS',
  'NPROC',
  'NOFILE',
  'MEMLOCK',
  'AS',
  'LOCKS',
  'SIGPENDING',
  'MSGQUEUE',
  'NICE',
  'RTPRIO',
  'RTTIME',
];

function invalid(message: string): TsdockError {
  return new TsdockError('INVALID_ARGUMENT', `config.json: ${message}`);
}

function namespacesOf(spec: OciSpec): { create: NamespaceType[]; join: NamespaceJoin[] } {
  const create: NamespaceType[] = [];
  const join: NamespaceJoin[] = [];
  const seen = new Set<string>();
  for (const ns of spec.linux.namespaces ?? []) {
    const type = NAMESPACES[ns.type];
    if (type === undefined) throw invalid(`linux.namespaces: namespace type "${ns.type}" is not supported`);
    if (seen.has(type)) throw invalid(`linux.namespaces: "${ns.type}" is listed twice`);
    seen.add(type);
    if (ns.path !== undefined && ns.path !== '') join.push({ type, path: ns.path });
    else create.push(type);
  }
  // The rootfs is mounted and pivoted to inside the container's own mount namespace.
  if (!create.includes('mount')) throw invalid('linux.namespaces: a new "mount" namespace is required');
  return { create, join };
}

/** The spec's sets, without what the host cannot give (capset(2) would fail with EPERM). */
function capabilitiesOf(process: OciProcess, hostCaps: readonly number[]): CapabilitySets {
  const set = (names: string[] | undefined): number[] =>
    (names ?? []).map((name) => capabilityNumber(name)).filter((n) => hostCaps.includes(n));
  const caps = process.capabilities;
  // No capabilities object: the process keeps every capability, as runc leaves it.
  if (caps === undefined) {
    const all = [...hostCaps];
    return { bounding: all, effective: all, permitted: all, inheritable: [], ambient: [] };
  }
  return {
    bounding: set(caps.bounding),
    effective: set(caps.effective),
    permitted: set(caps.permitted),
    inheritable: set(caps.inheritable),
    ambient: set(caps.ambient),
  };
}

/** A pty for a process with `terminal`, sized by `consoleSize` (0x0: the first resize sizes it). */
function terminalOf(process: OciProcess): SpawnPlan['terminal'] {
  if (process.terminal !== true) return undefined;
  const size = process.consoleSize;
  if (size !== undefined && (size.height > 65535 || size.width > 65535)) {
    throw invalid('process.consoleSize: height and width must be at most 65535');
  }
  return { rows: size?.height ?? 0, cols: size?.width ?? 0 };
}

function rlimitsOf(process: OciProcess): Rlimit[] {
  return (process.rlimits ?? []).map((r) => {
    const resource = RLIMITS.indexOf(r.type.replace(/^RLIMIT_/, ''));
    if (resource < 0 || !r.type.startsWith('RLIMIT_')) throw invalid(`process.rlimits: unknown type "${r.type}"`);
    if (r.soft > r.hard) throw invalid(`process.rlimits: ${r.type} soft limit is above the hard limit`);
    return { resource, soft: BigInt(r.soft), hard: BigInt(r.hard) };
  });
}

function isUnder(path: string, dir: string): boolean {
  return path === dir || path.startsWith(`${dir}/`);
}

/** runtime-spec 1.1's idmap options: `idmap` for this mount alone, `ridmap` for the ones below too. */
const IDMAP_OPTIONS = new Set(['idmap', 'ridmap']);

/**
 * A bind mount's idmapping: its own `uidMappings`/`gidMappings` (in a user namespace made for
 * it), or with the `idmap` option alone the container's. Undefined: not idmapped.
 */
function idmapOf(m: OciMount, userns: boolean): Pick<FsOp & { kind: 'mount' }, 'idmap' | 'idmapMappings'> | undefined {
  const where = `mounts (${m.destination})`;
  const options = m.options ?? [];
  const uid = m.uidMappings ?? [];
  const gid = m.gidMappings ?? [];
  if (options.includes('ridmap')) {
    throw invalid(
      `${where}: ridmap (recursive idmapping) is not supported; use idmap, which leaves out the mounts below`,
    );
  }
  if (uid.length === 0 && gid.length === 0) {
    if (!options.includes('idmap')) return undefined;
    if (!userns) throw invalid(`${where}: idmap without uidMappings needs a new "user" namespace to map to`);
    return { idmap: true };
  }
  if (uid.length === 0 || gid.length === 0) throw invalid(`${where}: uidMappings and gidMappings go together`);
  return { idmap: true, idmapMappings: { uid, gid } };
}

function mountOps(m: OciMount, rootfs: string, facts: HostFacts, userns: boolean): FsOp[] {
  const target = posix.join(rootfs, m.destination);
  const { flags, propagation, data } = parseMountOptions((m.options ?? []).filter((o) => !IDMAP_OPTIONS.has(o)));
  const type = m.type ?? '';
  if (type === 'cgroup' || type === 'cgroup2') return cgroupFsOps(facts.cgroupMounts, rootfs);
  const noSymlinks = isUnder(m.destination, '/proc') || isUnder(m.destination, '/sys');
  if ((flags & MS.BIND) !== 0n || type === 'bind') {
    const given = m.source ?? '';
    if (given === '') throw invalid(`mounts: the bind mount at ${m.destination} has no source`);
    const source = posix.resolve(facts.bundle, given);
    const idmap = idmapOf(m, userns);
    return [
      {
        kind: 'mount',
        source,
        target,
        fstype: '',
        // A new bind mount ignores the other flags; the read-only remount below applies them.
        // An idmapped one is made from the source alone (open_tree without AT_RECURSIVE).
        flags: MS.BIND | (idmap === undefined ? flags & MS.REC : 0n) | propagation,
        data: '',
        readonly: (flags & MS.RDONLY) !== 0n,
        createTarget: facts.sourceKind(source),
        noSymlinks,
        ...idmap,
      },
    ];
  }
  if (
    m.uidMappings !== undefined ||
    m.gidMappings !== undefined ||
    (m.options ?? []).some((o) => IDMAP_OPTIONS.has(o))
  ) {
    throw invalid(`mounts (${m.destination}): only bind mounts can be idmapped`);
  }
  return [
    {
      kind: 'mount',
      source: m.source ?? type,
      target,
      fstype: type,
      flags: flags | propagation,
      data,
      createTarget: 'dir',
      noSymlinks,
    },
  ];
}

const S_IFMT: Record<string, number> = { c: 0o020000, u: 0o020000, b: 0o060000, p: 0o010000 };

/** The nodes runc creates in a /dev it mounts (runtime-spec "Default Devices"). */
const DEFAULT_DEVICES: OciDevice[] = [
  ['null', 1, 3],
  ['zero', 1, 5],
  ['full', 1, 7],
  ['random', 1, 8],
  ['urandom', 1, 9],
  ['tty', 5, 0],
].map(([name, major, minor]) => ({
  type: 'c',
  path: `/dev/${String(name)}`,
  major: Number(major),
  minor: Number(minor),
}));

function deviceOp(d: OciDevice, rootfs: string, userns: boolean): FsOp {
  const target = posix.join(rootfs, d.path);
  const type = S_IFMT[d.type];
  if (type === undefined) throw invalid(`linux.devices: ${d.path} has unknown type "${d.type}"`);
  if (!d.path.startsWith('/dev/')) throw invalid(`linux.devices: ${d.path} is not below /dev`);
  // mknod is refused in a user namespace: bind the host's node instead (as runc does).
  if (userns)
    return { kind: 'mount', source: d.path, target, fstype: '', flags: MS.BIND, data: '', createTarget: 'file' };
  if (d.type !== 'p' && (d.major === undefined || d.minor === undefined)) {
    throw invalid(`linux.devices: ${d.path} needs a major and a minor number`);
  }
  return { kind: 'mknod', target, mode: type | (d.fileMode ?? 0o666), major: d.major ?? 0, minor: d.minor ?? 0 };
}

/** Default nodes (unless the spec lists its own at that path), the spec's devices, the symlinks. */
function devOps(spec: OciSpec, rootfs: string, userns: boolean): FsOp[] {
  const given = spec.linux.devices ?? [];
  const mountsDev = (spec.mounts ?? []).some((m) => m.destination === '/dev');
  const devices = mountsDev
    ? [...DEFAULT_DEVICES.filter((d) => !given.some((g) => g.path === d.path)), ...given]
    : given;
  const ops = devices.map((d) => deviceOp(d, rootfs, userns));
  if (!mountsDev) return ops;
  const link = (linkTarget: string, name: string): FsOp => ({
    kind: 'symlink',
    linkTarget,
    target: posix.join(rootfs, 'dev', name),
  });
  ops.push(
    link('/proc/self/fd', 'fd'),
    link('/proc/self/fd/0', 'stdin'),
    link('/proc/self/fd/1', 'stdout'),
    link('/proc/self/fd/2', 'stderr'),
  );
  if ((spec.mounts ?? []).some((m) => m.destination === '/dev/pts')) ops.push(link('pts/ptmx', 'ptmx'));
  return ops;
}

function sysctlOps(sysctl: Record<string, string>): FsOp[] {
  return Object.entries(sysctl).map(([key, value]): FsOp => {
    if (!/^[A-Za-z0-9_-]+([./][A-Za-z0-9_-]+)*$/.test(key)) throw invalid(`linux.sysctl: invalid key "${key}"`);
    return { kind: 'write', target: `/proc/sys/${key.replaceAll('.', '/')}`, data: value };
  });
}

function propagationOf(spec: OciSpec): { root: bigint; rootfs: bigint } {
  const given = spec.linux.rootfsPropagation;
  if (given === undefined || given === '') return { root: MS.REC | MS.SLAVE, rootfs: 0n };
  const flags = PROPAGATION[given];
  if (flags === undefined) throw invalid(`linux.rootfsPropagation: unknown value "${given}"`);
  // "/" is never made shared: our mounts would propagate to the host. The rootfs mount gets it.
  const root = (flags & MS.PRIVATE) !== 0n ? MS.REC | MS.PRIVATE : MS.REC | MS.SLAVE;
  return { root, rootfs: flags & (MS.SHARED | MS.UNBINDABLE) ? flags : 0n };
}

function idMappings(spec: OciSpec, userns: boolean): Pick<SpawnPlan, 'uidMappings' | 'gidMappings'> {
  const uidMappings = spec.linux.uidMappings ?? [];
  const gidMappings = spec.linux.gidMappings ?? [];
  if (userns && (uidMappings.length === 0 || gidMappings.length === 0)) {
    throw invalid('linux: a new user namespace needs uidMappings and gidMappings');
  }
  if (!userns && (uidMappings.length > 0 || gidMappings.length > 0)) {
    throw invalid('linux: uidMappings and gidMappings need a new "user" namespace');
  }
  return { uidMappings, gidMappings };
}

/**
 * The plan of a bundle's container process. `cgroupProcs`, `startSocket` and `preserveFds` are
 * left for the caller, who knows the cgroup and the state directory.
 *
 * @throws TsdockError `INVALID_ARGUMENT` naming the field of config.json that cannot be honoured.
 */
export function specToPlan(spec: OciSpec, facts: HostFacts): SpawnPlan {
  const rootfs = posix.resolve(facts.bundle, spec.root.path);
  const { create, join } = namespacesOf(spec);
  const userns = create.includes('user');
  if (spec.hostname !== undefined && spec.hostname !== '' && !create.includes('uts')) {
    throw invalid('hostname: setting it needs a new "uts" namespace');
  }
  const process = spec.process;
  const capabilities = capabilitiesOf(process, facts.hostCaps);
  const noNewPrivileges = process.noNewPrivileges ?? false;
  const propagation = propagationOf(spec);
  const mountsCgroupFs = (spec.mounts ?? []).some((m) => m.type === 'cgroup' || m.type === 'cgroup2');
  return {
    args: process.args,
    env: process.env ?? [],
    cwd: posix.normalize(process.cwd),
    hostname: create.includes('uts') && spec.hostname !== undefined ? spec.hostname : undefined,
    rootfs,
    namespaces: create,
    joinNamespaces: join,
    ...idMappings(spec, userns),
    user: { uid: process.user.uid, gid: process.user.gid, additionalGids: process.user.additionalGids ?? [] },
    capabilities,
    noNewPrivileges,
    rlimits: rlimitsOf(process),
    oomScoreAdj: process.oomScoreAdj,
    rootfsPropagation: propagation.root,
    rootfsOps: [
      {
        kind: 'mount',
        source: rootfs,
        target: rootfs,
        fstype: '',
        flags: MS.BIND | MS.REC | propagation.rootfs,
        data: '',
      },
      ...(spec.mounts ?? []).flatMap((m) => mountOps(m, rootfs, facts, userns)),
      ...devOps(spec, rootfs, userns),
    ],
    containerOps: [
      { kind: 'mkdir', target: posix.normalize(process.cwd), mode: 0o755 },
      ...sysctlOps(spec.linux.sysctl ?? {}),
      ...(spec.linux.maskedPaths ?? []).map((target): FsOp => ({ kind: 'mask', target })),
      ...(spec.linux.readonlyPaths ?? []).map((target): FsOp => ({ kind: 'readonly', target })),
      ...(mountsCgroupFs ? cgroupFsContainerOps(facts.cgroupMounts) : []),
    ],
    readonlyRootfs: spec.root.readonly ?? false,
    // As runc: a network namespace of its own gets its loopback up.
    loopbackUp: create.includes('network'),
    cgroupProcs: [],
    cgroupDirs: [],
    seccomp: seccompOf(spec, capabilities, noNewPrivileges),
    terminal: terminalOf(process),
  };
}

/** The spec's seccomp profile compiled by tsdock's BPF compiler; none when the spec has none. */
function seccompOf(spec: OciSpec, caps: CapabilitySets, noNewPrivileges: boolean): SpawnPlan['seccomp'] {
  if (spec.linux.seccomp === undefined) return undefined;
  const profile = parseSeccompProfile(JSON.stringify(spec.linux.seccomp));
  return seccompFilter(profile, { caps: capabilityNames(caps.bounding), noNewPrivileges });
}

/**
 * The plan of `exec --process`: the container's namespaces (`joins`, from its init) and cgroup,
 * the process's own fields, and the container's seccomp profile resolved for this process.
 */
export function processToExecPlan(
  spec: OciSpec,
  process: OciProcess,
  joins: NamespaceJoin[],
  cgroupProcs: string[],
  hostCaps: readonly number[],
): SpawnPlan {
  const capabilities = capabilitiesOf(process, hostCaps);
  const noNewPrivileges = process.noNewPrivileges ?? false;
  return {
    args: process.args,
    env: process.env ?? [],
    cwd: posix.normalize(process.cwd),
    namespaces: [],
    joinNamespaces: joins,
    uidMappings: [],
    gidMappings: [],
    user: { uid: process.user.uid, gid: process.user.gid, additionalGids: process.user.additionalGids ?? [] },
    capabilities,
    noNewPrivileges,
    rlimits: rlimitsOf(process),
    oomScoreAdj: process.oomScoreAdj,
    rootfsPropagation: 0n,
    rootfsOps: [],
    containerOps: [],
    readonlyRootfs: false,
    loopbackUp: false,
    cgroupProcs,
    cgroupDirs: [],
    seccomp: seccompOf(spec, capabilities, noNewPrivileges),
    terminal: terminalOf(process),
  };
}
