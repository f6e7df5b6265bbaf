/**
 * The pure heart of `run`: image config + options + resolved host facts -> one {@link SpawnPlan}.
 * No I/O happens here, so every decision can be unit-tested without root.
 */
import { basename, dirname, posix } from 'node:path';
import { TsdockError } from '../errors.js';
import { capabilityNames, capabilitySets, resolveCapabilities } from './capabilities.js';
import type { HealthConfig } from '../image/oci.js';
import type { CgroupMount } from './cgroups/detect.js';
import { cgroupFsContainerOps, cgroupFsOps } from './cgroup-mounts.js';
import { MS, parseMountOptions } from './mount-flags.js';
import { usesUserNamespace, type ContainerOptions, type DeviceMapping, type TmpfsMount } from './options.js';
import type { FsOp, IdMapping, NamespaceJoin, NamespaceType, OomSource, SockFilter, SpawnPlan } from './plan.js';
import { parseSeccompProfile, seccompFilter, type SeccompProfile } from './seccomp/index.js';
import { hostBoundingSet } from './host.js';
import type { ResolvedUser } from './user.js';

const RLIMIT_NOFILE = 7;
/** The monitor hands idmapped mounts over in one SCM_RIGHTS message (plan.h TSD_MAX_IDMAP_MOUNTS). */
export const MAX_IDMAPPED_MOUNTS = 253;
/** containerd's default NOFILE for containers: a low soft limit, a generous hard one. */
const NOFILE_SOFT = 1024n;
const NOFILE_HARD = 524288n;

export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Docker's masked paths: hidden because they leak host information or are dangerous. */
export const MASKED_PATHS = [
  '/proc/asound',
  '/proc/acpi',
  '/proc/interrupts',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/proc/sched_debug',
  '/proc/scsi',
  '/sys/firmware',
  '/sys/devices/virtual/powercap',
];

/** Docker's read-only paths. */
export const READONLY_PATHS = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

/** The device nodes every container gets (major, minor), as in the OCI spec's default list. */
const DEFAULT_DEVICES: [name: string, major: number, minor: number][] = [
  ['null', 1, 3],
  ['zero', 1, 5],
  ['full', 1, 7],
  ['random', 1, 8],
  ['urandom', 1, 9],
  ['tty', 5, 0],
];
const S_IFCHR = 0o020000;
const S_IFBLK = 0o060000;

/** The part of an image's config that running it needs (OCI image config `config`). */
export interface ImageRuntimeConfig {
  Env?: string[] | null;
  Cmd?: string[] | null;
  Entrypoint?: string[] | null;
  WorkingDir?: string;
  User?: string;
  /** The signal `stop` sends first (`SIGTERM` when absent). */
  StopSignal?: string;
  /** `80/tcp` -> {}: what `-P` publishes. */
  ExposedPorts?: Record<string, object>;
  /** HEALTHCHECK; only `run` and `create` use it (`resolveHealthcheck`), a build's RUN does not. */
  Healthcheck?: HealthConfig;
  /** SHELL: what a `CMD-SHELL` health check runs under (`healthcheckArgv`). */
  Shell?: string[];
}

/** Host paths of one container's files. */
export interface ContainerPaths {
  /** Empty directory the overlay is mounted on. */
  rootfs: string;
  upper: string;
  work: string;
  hostname: string;
  hosts: string;
  resolvConf: string;
  exitFile: string;
}

export interface PlanInput {
  id: string;
  config: ImageRuntimeConfig;
  /** Unpacked layers, bottom to top; all in one parent directory. */
  layerDirs: string[];
  options: ContainerOptions;
  user: ResolvedUser;
  paths: ContainerPaths;
  /** Whether each bind source is a directory or a file (stat'ed by the caller). */
  bindKinds: ('dir' | 'file')[];
  cgroup: { procsFiles: string[]; dirs: string[]; oom: OomSource | undefined };
  /** The host's cgroup mounts (from mountinfo), mirrored read-only at the container's /sys/fs/cgroup. */
  cgroupMounts: CgroupMount[];
  /** The host's hard RLIMIT_NOFILE: a container may not ask for more (EPERM). */
  nofileHardLimit: bigint;
  /** Present when the container gets its own user namespace. */
  idMappings?: { uid: IdMapping[]; gid: IdMapping[] };
  /** With `idMappings`: the layers keep the image's owners and are idmapped mounts in the container. */
  idmappedLayers?: boolean;
  /** A network namespace to join (pinned by network/, another container's, a pod's). */
  networkNamespace?: string;
  /** Other namespaces to join instead of creating them (a pod's ipc, uts and pid). */
  sharedNamespaces?: NamespaceJoin[];
  /**
   * The upper dir is mounted once and removed with the container: overlay's `volatile` skips
   * its syncs, above all the syncfs of the whole host file system at unmount. A later mount of
   * that upper dir would be refused (overlayfs.rst), so never for a container that may restart.
   */
  volatileUpper?: boolean;
  /** A read-only layer above the image's with the bind-mount targets in /etc (mount-targets.ts). */
  mountTargets?: string;
}

/** Docker's rule: `--entrypoint` replaces the image's and drops its Cmd; a command replaces Cmd. */
export function resolveArgs(config: ImageRuntimeConfig, options: ContainerOptions): string[] {
  const entrypoint = options.entrypoint ?? config.Entrypoint ?? [];
  const cmd = options.command ?? (options.entrypoint === undefined ? (config.Cmd ?? []) : []);
  const args = [...entrypoint, ...cmd];
  if (args.length === 0) {
    throw new TsdockError('INVALID_ARGUMENT', 'no command specified: give one after the image name or set CMD');
  }
  return args;
}

/** Image Env, then the caller's entries (last wins), plus PATH, HOSTNAME and HOME when missing. */
export function resolveEnv(
  config: ImageRuntimeConfig,
  options: ContainerOptions,
  hostname: string,
  home: string,
): string[] {
  const env = new Map<string, string>();
  const set = (entry: string): void => {
    const eq = entry.indexOf('=');
    env.set(eq < 0 ? entry : entry.slice(0, eq), eq < 0 ? '' : entry.slice(eq + 1));
  };
  set(`PATH=${DEFAULT_PATH}`);
  set(`HOSTNAME=${hostname}`);
  // As Docker: programs on a terminal need to know what it is.
  if (options.tty === true) set('TERM=xterm');
  for (const entry of [...(config.Env ?? []), ...(options.env ?? [])]) set(entry);
  if (!env.has('HOME')) env.set('HOME', home);
  return [...env].map(([k, v]) => `${k}=${v}`);
}

function namespacesOf(options: ContainerOptions, joined: NamespaceJoin[]): NamespaceType[] {
  const ns: NamespaceType[] = ['mount', 'cgroup'];
  if (options.network !== 'host') ns.push('network');
  if (options.pid !== 'host') ns.push('pid');
  if (options.ipc !== 'host') ns.push('ipc');
  if (options.uts !== 'host') ns.push('uts');
  if (usesUserNamespace(options)) ns.push('user');
  return ns.filter((type) => !joined.some((j) => j.type === type));
}

/**
 * Each layer idmapped onto itself, in the container's mount namespace only: the overlay below
 * then names the usual paths and sees the image's owners shifted into the user namespace.
 */
function idmapLayerOps(layerDirs: readonly string[]): FsOp[] {
  if (layerDirs.length > MAX_IDMAPPED_MOUNTS) {
    throw new TsdockError(
      'INVALID_IMAGE',
      `an image of ${String(layerDirs.length)} layers cannot be idmapped (at most ${String(MAX_IDMAPPED_MOUNTS)})`,
    );
  }
  return layerDirs.map(idmapLayerOp);
}

/** A layer directory idmapped onto itself (the monitor makes the idmapped mount, plan.h). */
export function idmapLayerOp(dir: string): FsOp {
  return { kind: 'mount', source: dir, target: dir, fstype: '', flags: MS.BIND, data: '', idmap: true };
}

/** A container's overlay rootfs: its lower dirs (absolute, top first), upper and work dirs, options. */
export interface OverlayMount {
  lower: string[];
  upper: string;
  work: string;
  /** `key=value` or a flag's name, as mount(8) takes them. */
  options: string[];
}

/** The overlay of a container's rootfs; `userns`: the container has a user namespace of its own. */
export function overlayMountOf(
  input: Pick<PlanInput, 'layerDirs' | 'paths' | 'mountTargets' | 'volatileUpper'>,
  userns: boolean,
): OverlayMount {
  return {
    lower: [...(input.mountTargets === undefined ? [] : [input.mountTargets]), ...[...input.layerDirs].reverse()],
    upper: input.paths.upper,
    work: input.paths.work,
    options: [
      // The upper dir must hold every change whole (a build's RUN layer, a diff): no rename
      // recorded as a redirect to a lower dir, no copy-up of metadata alone (overlayfs.rst).
      // `nofollow`, not `off`: `off` means `follow` where redirect_always_follow is set, which
      // the kernel refuses beside userxattr; our layers never hold redirects to follow.
      'redirect_dir=nofollow',
      'metacopy=off',
      // Inside a user namespace the trusted.* xattrs are out of reach; overlay uses user.* then.
      ...(userns ? ['userxattr'] : []),
      ...(input.volatileUpper === true ? ['volatile'] : []),
    ],
  };
}

/** The overlay mount of the rootfs; lower dirs are named relative to their parent (see `chdir`). */
function overlayOps(input: PlanInput, userns: boolean): FsOp[] {
  const { layerDirs, paths } = input;
  const parent = dirname(layerDirs[0] ?? paths.rootfs);
  if (layerDirs.some((d) => dirname(d) !== parent)) {
    throw new TsdockError('INVALID_IMAGE', 'layer directories of an image must share one parent directory');
  }
  const overlay = overlayMountOf(input, userns);
  // The kernel takes at most one page of mount data: relative names keep many layers within it.
  const lower = overlay.lower.map((d) => (dirname(d) === parent ? basename(d) : d));
  const data = [
    `lowerdir=${lower.join(':')}`,
    `upperdir=${overlay.upper}`,
    `workdir=${overlay.work}`,
    ...overlay.options,
  ];
  return [
    ...(userns && input.idmappedLayers === true ? idmapLayerOps(layerDirs) : []),
    { kind: 'chdir', target: parent },
    { kind: 'mount', source: 'overlay', target: paths.rootfs, fstype: 'overlay', flags: 0n, data: data.join(',') },
  ];
}

function devOps(root: string, userns: boolean): FsOp[] {
  const dev = posix.join(root, 'dev');
  const ops: FsOp[] = [
    {
      kind: 'mount',
      source: 'tmpfs',
      target: dev,
      fstype: 'tmpfs',
      flags: MS.NOSUID | MS.STRICTATIME,
      data: 'mode=755,size=65536k',
      createTarget: 'dir',
    },
  ];
  for (const [name, major, minor] of DEFAULT_DEVICES) {
    const target = posix.join(dev, name);
    // mknod is not allowed in a user namespace: bind the host's node instead (runc does the same).
    ops.push(
      userns
        ? { kind: 'mount', source: `/dev/${name}`, target, fstype: '', flags: MS.BIND, data: '', createTarget: 'file' }
        : { kind: 'mknod', target, mode: S_IFCHR | 0o666, major, minor },
    );
  }
  ops.push(
    {
      kind: 'mount',
      source: 'devpts',
      target: posix.join(dev, 'pts'),
      fstype: 'devpts',
      flags: MS.NOSUID | MS.NOEXEC,
      data: 'newinstance,ptmxmode=0666,mode=0620,gid=5',
      createTarget: 'dir',
    },
    { kind: 'symlink', linkTarget: 'pts/ptmx', target: posix.join(dev, 'ptmx') },
    {
      kind: 'mount',
      source: 'shm',
      target: posix.join(dev, 'shm'),
      fstype: 'tmpfs',
      flags: MS.NOSUID | MS.NOEXEC | MS.NODEV,
      data: 'mode=1777,size=65536k',
      createTarget: 'dir',
    },
    {
      kind: 'mount',
      source: 'mqueue',
      target: posix.join(dev, 'mqueue'),
      fstype: 'mqueue',
      flags: MS.NOSUID | MS.NOEXEC | MS.NODEV,
      data: '',
      createTarget: 'dir',
    },
    { kind: 'symlink', linkTarget: '/proc/self/fd', target: posix.join(dev, 'fd') },
    { kind: 'symlink', linkTarget: '/proc/self/fd/0', target: posix.join(dev, 'stdin') },
    { kind: 'symlink', linkTarget: '/proc/self/fd/1', target: posix.join(dev, 'stdout') },
    { kind: 'symlink', linkTarget: '/proc/self/fd/2', target: posix.join(dev, 'stderr') },
  );
  return ops;
}

/** `--device` nodes: created like the default ones (bound from the host in a user namespace). */
function deviceOps(root: string, devices: readonly DeviceMapping[], userns: boolean): FsOp[] {
  return devices.map((d): FsOp => {
    const target = posix.join(root, d.containerPath);
    return userns
      ? { kind: 'mount', source: d.hostPath, target, fstype: '', flags: MS.BIND, data: '', createTarget: 'file' }
      : { kind: 'mknod', target, mode: (d.type === 'b' ? S_IFBLK : S_IFCHR) | d.mode, major: d.major, minor: d.minor };
  });
}

/** Parsed Docker JSON profiles by their text: a container restarts with the same one. */
const parsedProfiles = new Map<string, SeccompProfile>();

/** The container's seccomp program; none when unconfined or privileged (Docker's rule). */
function seccompOf(options: ContainerOptions, caps: number[]): SockFilter[] | undefined {
  const text = options.seccomp;
  if (options.privileged === true || text === 'unconfined') return undefined;
  let profile: SeccompProfile | undefined;
  if (text !== undefined) {
    profile = parsedProfiles.get(text) ?? parseSeccompProfile(text);
    parsedProfiles.set(text, profile);
  }
  return seccompFilter(profile, { caps: capabilityNames(caps), noNewPrivileges: options.noNewPrivileges ?? false });
}

function sysOp(root: string, options: ContainerOptions, userns: boolean, ownNetns: boolean): FsOp {
  const target = posix.join(root, 'sys');
  // --privileged: a writable sysfs, as Docker gives it.
  const ro = (options.privileged === true ? 0n : MS.RDONLY) | MS.NOSUID | MS.NOEXEC | MS.NODEV;
  // A user namespace may mount sysfs only with a network namespace it owns; a joined one (made
  // by network/ before the monitor, or another container's) belongs to the host's.
  if (userns && !ownNetns) {
    return {
      kind: 'mount',
      source: '/sys',
      target,
      fstype: '',
      flags: MS.BIND | MS.REC,
      data: '',
      readonly: true,
      createTarget: 'dir',
      noSymlinks: true,
    };
  }
  return {
    kind: 'mount',
    source: 'sysfs',
    target,
    fstype: 'sysfs',
    flags: ro,
    data: '',
    createTarget: 'dir',
    noSymlinks: true,
  };
}

/** The container's own /etc/hostname, hosts and resolv.conf, bound over the image's. */
function etcFileOps(root: string, paths: ContainerPaths): FsOp[] {
  const etc = (name: string, source: string): FsOp => ({
    kind: 'mount',
    source,
    target: posix.join(root, 'etc', name),
    fstype: '',
    flags: MS.BIND,
    data: '',
    createTarget: 'file',
  });
  return [etc('hostname', paths.hostname), etc('hosts', paths.hosts), etc('resolv.conf', paths.resolvConf)];
}

/** The user's binds and tmpfs mounts (`-v`, `--tmpfs`). */
function bindOps(root: string, input: PlanInput): FsOp[] {
  const { options } = input;
  const binds: FsOp[] = (options.binds ?? []).map((b, i) => ({
    kind: 'mount',
    source: b.source,
    target: posix.join(root, b.target),
    fstype: '',
    flags: MS.BIND | MS.REC,
    data: '',
    readonly: b.readonly,
    createTarget: input.bindKinds[i] ?? 'dir',
    // The idmapped mount is made from the source alone (open_tree without AT_RECURSIVE).
    ...(b.idmap === true ? { idmap: true, flags: MS.BIND } : {}),
  }));
  const tmpfs = (options.tmpfs ?? []).map((t: TmpfsMount): FsOp => {
    const { flags, data } = parseMountOptions(t.options);
    return {
      kind: 'mount',
      source: 'tmpfs',
      target: posix.join(root, t.target),
      fstype: 'tmpfs',
      flags,
      data,
      createTarget: 'dir',
    };
  });
  const layers = input.idMappings !== undefined && input.idmappedLayers === true ? input.layerDirs.length : 0;
  const idmapped = layers + binds.filter((b) => b.kind === 'mount' && b.idmap === true).length;
  if (idmapped > MAX_IDMAPPED_MOUNTS) {
    throw new TsdockError(
      'INVALID_ARGUMENT',
      `${String(idmapped)} idmapped mounts (layers and volumes) are too many: at most ${String(MAX_IDMAPPED_MOUNTS)}`,
    );
  }
  // Parents before children, so a mount below another is not hidden by it.
  return [...binds, ...tmpfs].sort((a, b) => depth(a) - depth(b));
}

function depth(op: FsOp): number {
  return op.target.split('/').length;
}

function containerOps(cwd: string, privileged: boolean): FsOp[] {
  return [
    { kind: 'mkdir', target: cwd, mode: 0o755 },
    ...(privileged ? [] : MASKED_PATHS.map((target): FsOp => ({ kind: 'mask', target }))),
    ...(privileged ? [] : READONLY_PATHS.map((target): FsOp => ({ kind: 'readonly', target }))),
  ];
}

/** A pty's size is two u16s (struct winsize). */
export function terminalSize(size: { rows: number; cols: number } | undefined): { rows: number; cols: number } {
  if (size === undefined) return { rows: 0, cols: 0 };
  const fits = (n: number): boolean => Number.isInteger(n) && n >= 0 && n <= 0xffff;
  if (!fits(size.rows) || !fits(size.cols)) {
    throw new TsdockError(
      'INVALID_ARGUMENT',
      `invalid console size ${size.rows}x${size.cols}: rows and cols are 0 to 65535`,
    );
  }
  return { rows: size.rows, cols: size.cols };
}

export function buildSpawnPlan(input: PlanInput): SpawnPlan {
  const { config, options, user, paths } = input;
  const userns = usesUserNamespace(options);
  if (userns && input.idMappings === undefined) {
    throw new TsdockError('INVALID_ARGUMENT', 'a user namespace of its own needs uid and gid mappings');
  }
  const hostname = options.hostname ?? input.id.slice(0, 12);
  const cwd = posix.normalize(options.workdir ?? (config.WorkingDir || '/'));
  if (!posix.isAbsolute(cwd)) {
    throw new TsdockError('INVALID_ARGUMENT', `invalid working directory "${cwd}": it must be an absolute path`);
  }
  const root = paths.rootfs;
  const privileged = options.privileged === true;
  // --privileged: every capability this host still has in its bounding set.
  const caps = privileged
    ? resolveCapabilities(['ALL'], []).filter((c) => hostBoundingSet().has(c))
    : resolveCapabilities(options.capAdd ?? [], options.capDrop ?? []);
  const nofileHard = input.nofileHardLimit < NOFILE_HARD ? input.nofileHardLimit : NOFILE_HARD;
  const joins: NamespaceJoin[] = [
    ...(input.networkNamespace === undefined ? [] : [{ type: 'network' as const, path: input.networkNamespace }]),
    ...(input.sharedNamespaces ?? []),
  ];
  // A joined uts namespace keeps the name its owner gave it (a pod's hostname).
  const setsHostname = options.uts !== 'host' && !joins.some((j) => j.type === 'uts');
  return {
    args: resolveArgs(config, options),
    env: resolveEnv(config, options, hostname, user.home),
    cwd,
    hostname: setsHostname ? hostname : undefined,
    rootfs: root,
    namespaces: namespacesOf(options, joins),
    joinNamespaces: joins,
    uidMappings: input.idMappings?.uid ?? [],
    gidMappings: input.idMappings?.gid ?? [],
    user: { uid: user.uid, gid: user.gid, additionalGids: user.additionalGids },
    capabilities: capabilitySets(caps),
    noNewPrivileges: options.noNewPrivileges ?? false,
    rlimits: [{ resource: RLIMIT_NOFILE, soft: NOFILE_SOFT < nofileHard ? NOFILE_SOFT : nofileHard, hard: nofileHard }],
    rootfsPropagation: MS.REC | MS.SLAVE,
    rootfsOps: [
      ...overlayOps(input, userns),
      {
        kind: 'mount',
        source: 'proc',
        target: posix.join(root, 'proc'),
        fstype: 'proc',
        flags: MS.NOSUID | MS.NOEXEC | MS.NODEV,
        data: '',
        createTarget: 'dir',
        noSymlinks: true,
      },
      ...devOps(root, userns),
      ...deviceOps(root, options.devices ?? [], userns),
      sysOp(root, options, userns, options.network !== 'host' && input.networkNamespace === undefined),
      // Before the cgroupfs mounts, which wait for the container's placement in its cgroup.
      ...etcFileOps(root, input.paths),
      ...cgroupFsOps(input.cgroupMounts, root),
      // After: a bind may go below /sys/fs/cgroup, or over it.
      ...bindOps(root, input),
    ],
    containerOps: [...containerOps(cwd, privileged), ...cgroupFsContainerOps(input.cgroupMounts)],
    readonlyRootfs: options.readonlyRootfs ?? false,
    // A joined namespace is set up by whoever made it (network/ brings up its `lo`).
    loopbackUp: options.network !== 'host' && input.networkNamespace === undefined,
    cgroupProcs: input.cgroup.procsFiles,
    cgroupDirs: input.cgroup.dirs,
    oom: input.cgroup.oom,
    exitFile: paths.exitFile,
    seccomp: seccompOf(options, caps),
    terminal: options.tty === true ? terminalSize(options.consoleSize) : undefined,
  };
}
