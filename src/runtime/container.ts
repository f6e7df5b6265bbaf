/**
 * Creating and starting containers. `createContainer` makes the directory, the spawn plan and
 * the record (state `created`); `startCreated` makes the cgroup and spawns the monitor from the
 * saved plan — for the first start and for every `start` after an exit (the monitor removes the
 * cgroup when the container exits, as Docker keeps nothing of it either). A failed create leaves
 * nothing behind; a failed start leaves the container as it was, with the error recorded.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, writeFileSync } from 'node:fs';
import { mkdir, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { TsdockError } from '../errors.js';
import { initPath, native } from '../native.js';
import { deviceRulesFor } from './cgroups/devices.js';
import {
  createContainerCgroup,
  detectHostCgroups,
  openContainerCgroup,
  type CgroupLimits,
  type ContainerCgroup,
  type HostCgroups,
} from './cgroups/index.js';
import {
  containerDirPaths,
  createContainerData,
  createContainerDir,
  removeContainerDir,
  type ContainerDir,
} from './container-dir.js';
import { prepareVolatileRoot } from './volatile-dir.js';
import { checkName, defaultName } from './container-name.js';
import { parseSignal } from './container-ops.js';
import {
  attachNetwork,
  checkNetworkExists,
  checkNetworkOptions,
  networkFiles,
  networkModeOf,
  networkNamespaceFor,
  releaseNetwork,
  usesHostNetwork,
  withExposedPorts,
} from './container-network.js';
import {
  readExitRecord,
  readRecord,
  removeMonitorFiles,
  writeRecord,
  type ContainerRecord,
  type LogConfig,
} from './container-record.js';
import { idOfName, releaseName, reserveName } from './container-names.js';
import { releaseContainerName, withContainersLock } from './container-store.js';
import { hostNofileHardLimit, overlayVolatileSupported } from './host.js';
import { readLayeredFile } from './layer-files.js';
import { mountTargetsLayer } from './mount-targets.js';
import { usesUserNamespace, type ContainerOptions } from './options.js';
import type { NamespaceJoin } from './plan.js';
import {
  buildSpawnPlan,
  overlayMountOf,
  resolveArgs,
  type ImageRuntimeConfig,
  type OverlayMount,
} from './plan-builder.js';
import { buildExecPlan, execBaseOf, type ExecBase } from './exec-plan.js';
import { HEALTH_PLAN_FILE, healthcheckArgv, healthcheckJoins, type Healthcheck } from './healthcheck.js';
import { encodePlan } from './plan-codec.js';
import { actorOf, recordEvent } from './events.js';
import { monitorLifecycleArgs } from './monitor-args.js';
import { NO_RESTART, type RestartPolicy } from './restart-policy.js';
import { identify, untilGone } from './proc-stat.js';
import { attachSocketOf } from './attach-socket.js';
import { spawnMonitor, type ExitStatus, type MadeAhead, type MonitorHandle, type StdioMode } from './spawn.js';
import { resolveUser } from './user.js';
import { releaseUserNamespace, type UserNamespaceIds } from './userns.js';
import { checkVolumeOptions, chownVolumes, idmapRefusal } from './volume-owners.js';
import { removeAnonymousVolumes } from './volume-store.js';

/** An image as the runtime sees it: a config and its unpacked layers (see DESIGN: no image/ here). */
export interface RuntimeImage {
  config: ImageRuntimeConfig;
  /** Bottom to top, all in one parent directory. */
  layerDirs: string[];
  /** The name the user gave, and the image's id; recorded for `ps` and `inspect`. */
  name?: string;
  id?: string;
}

export interface CreateRequest {
  /** Directory that holds one directory per container. */
  containersRoot: string;
  /** A fresh id ({@link newContainerId}) when the caller needs it first; else one is made. */
  id?: string;
  image: RuntimeImage;
  /**
   * The host ids of its user namespace, required with `options.userns` private or auto
   * (`userNamespaceFor`); the image's layers must be unpacked for this mapping unless
   * `idmappedLayers`.
   */
  idMappings?: UserNamespaceIds;
  /** The image's own layers are idmapped to the user namespace (`idmap-support.ts`), not copies. */
  idmappedLayers?: boolean;
  options: ContainerOptions;
  /** Unique among the root's containers; a random `adjective_scientist` when absent. */
  name?: string;
  /** `--rm`. */
  autoRemove?: boolean;
  /** `--log-opt max-size=… max-file=…` for the json-file log of detached runs. */
  log?: LogConfig;
  /** `--init`: tsdock-init runs as pid 1, forwarding signals to the command and reaping zombies. */
  init?: boolean;
  /** Namespaces joined instead of created besides the network's (a pod's ipc, uts, pid). */
  sharedNamespaces?: NamespaceJoin[];
  /** A pod's infra container. */
  infra?: boolean;
  /** `--restart`, applied by the monitor; default `no`. */
  restartPolicy?: RestartPolicy;
  /** The health check the monitor runs (`resolveHealthcheck`); none when absent. */
  healthcheck?: Healthcheck;
  /** `--stop-signal`; default the image's STOPSIGNAL. */
  stopSignal?: string;
  /** `--stop-timeout` in seconds; default 10 when the stop names none. */
  stopTimeout?: number;
  /** The host's cgroups, when the caller read them already (a create and start in one call). */
  hostCgroups?: HostCgroups;
  /** Its overlay upper dir is mounted once only (see `PlanInput.volatileUpper`). */
  volatileUpper?: boolean;
}

/**
 * How a start connects its caller: a {@link StdioMode} of the caller's own fds, or `'attach'`:
 * the caller is the monitor's first attach client (`monitor.attach`, see attach-protocol.ts),
 * while the container's output is logged as for a detached one.
 */
export type StartStdio = StdioMode | 'attach';

export interface StartRequest extends CreateRequest {
  stdio: StartStdio;
}

/** A container whose process is running under its monitor. */
export interface StartedContainer {
  id: string;
  name: string;
  /** The container's init pid, host view. */
  pid: number;
  monitor: MonitorHandle;
  /** The container's cgroup: stats, freeze, kill. */
  cgroup: ContainerCgroup;
  /** Waits for the exit and records it; the container stays (`docker run` without `--rm`). */
  wait(): Promise<ExitStatus>;
  /** Waits for the exit, then removes the container's directory and cgroup. */
  waitAndRemove(): Promise<ExitStatus>;
}

/**
 * The cgroup's device allow-list follows the devices the container is given (`--device`,
 * `--privileged`), for the CLI and library callers alike, unless the caller set one itself.
 */
function cgroupLimitsOf(options: ContainerOptions): CgroupLimits {
  const devices = options.limits?.devices ?? deviceRulesFor(options.devices ?? [], options.privileged ?? false);
  return { ...options.limits, devices };
}

export function newContainerId(): string {
  return randomBytes(32).toString('hex');
}

async function resolveImageUser(image: RuntimeImage, spec: string): Promise<ReturnType<typeof resolveUser>> {
  const [passwd, group] = await Promise.all(
    ['/etc/passwd', '/etc/group'].map(async (p) => (await readLayeredFile(image.layerDirs, p))?.toString() ?? ''),
  );
  return resolveUser(spec, passwd ?? '', group ?? '');
}

/** Bind sources must exist as directories or files; like Docker, a missing one becomes a directory. */
async function bindKinds(options: ContainerOptions): Promise<('dir' | 'file')[]> {
  return Promise.all(
    (options.binds ?? []).map(async (b) => {
      try {
        return (await stat(b.source)).isDirectory() ? 'dir' : 'file';
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        await mkdir(b.source, { recursive: true });
        return 'dir';
      }
    }),
  );
}

/** Where `--init` mounts tsdock-init in the container (Docker uses /sbin/docker-init). */
const INIT_PATH = '/sbin/tsdock-init';

/** The options the plan is built from under `--init`: the init bound in, the command behind it. */
function withInit(options: ContainerOptions, args: string[]): ContainerOptions {
  return {
    ...options,
    entrypoint: [INIT_PATH, '--', ...args],
    command: undefined,
    binds: [...(options.binds ?? []), { source: initPath(), target: INIT_PATH, readonly: true }],
  };
}

function asTsdockError(err: unknown, what: string): TsdockError {
  if (err instanceof TsdockError) return err;
  return new TsdockError('START_FAILED', `${what}: ${(err as Error).message}`, { cause: err });
}

/** `--stop-signal` names a signal and `--stop-timeout` is whole seconds, or the create is refused. */
function checkStopOptions(req: CreateRequest): void {
  if (req.stopSignal !== undefined) parseSignal(req.stopSignal);
  const t = req.stopTimeout;
  if (t !== undefined && !(Number.isInteger(t) && t >= 0)) {
    throw new TsdockError('INVALID_ARGUMENT', `invalid stop timeout ${String(t)}: expected whole seconds, 0 or more`);
  }
}

/**
 * Creates a container: its directory, its spawn plan and its record, in state `created`.
 *
 * @throws TsdockError `CONFLICT` when the name is taken, `INVALID_ARGUMENT` for a bad name or
 *   options; nothing is left behind then.
 */
export async function createContainer(req: CreateRequest): Promise<ContainerRecord> {
  return (await create(req, { deferExecBase: false })).record;
}

interface Created {
  record: ContainerRecord;
  /** What `exec` takes over from the plan (exec.json). */
  execBase: ExecBase;
}

interface CreateSteps {
  /**
   * exec.json is the caller's to write: one that starts the container at once writes it once
   * the container runs (nothing can exec in it before).
   */
  deferExecBase: boolean;
  /**
   * Runs once the overlay's upper and work dirs are made (first), for a container in no user
   * namespace (whose root could not attach a mount of the host's): a start mounts its rootfs
   * here, ahead, while the rest of the container is made.
   */
  dirMade?: (overlay: OverlayMount) => void;
  /**
   * Runs once all the container's process needs is written (its directory, /etc files and plan),
   * before the record and the event: a start spawns the monitor here, so that it starts up
   * meanwhile.
   */
  planned?: (record: ContainerRecord) => Promise<void>;
}

/** createContainer, in the steps a start needs (see CreateSteps). */
async function create(req: CreateRequest, { deferExecBase, dirMade, planned }: CreateSteps): Promise<Created> {
  const { image } = req;
  const options = withExposedPorts(req.options, image.config);
  // Everything that can be checked without touching the host is checked first.
  const args = resolveArgs(image.config, options);
  checkNetworkOptions(options);
  checkNetworkExists(req.containersRoot, options);
  checkVolumeOptions(options);
  if ((options.volumes ?? []).length > 0) {
    // Runtime turns them into binds first (volume-mounts.ts); here they would be dropped unseen.
    throw new TsdockError('INVALID_ARGUMENT', 'volumes must be made into binds before create (Runtime does it)');
  }
  const wanted = req.name === undefined ? undefined : checkName(req.name);
  checkStopOptions(req);
  const restartPolicy = req.restartPolicy ?? NO_RESTART;
  if (restartPolicy.name !== 'no' && req.autoRemove === true) {
    throw new TsdockError('INVALID_ARGUMENT', 'conflicting options: --restart and --rm (choose one)');
  }
  const user = await resolveImageUser(image, options.user ?? image.config.User ?? '');
  const planOptions = req.init === true ? withInit(options, args) : options;
  const kinds = await bindKinds(planOptions);
  const nofileHardLimit = hostNofileHardLimit();
  const host = req.hostCgroups ?? detectHostCgroups();

  const id = req.id ?? newContainerId();
  const paths = containerDirPaths(req.containersRoot, id);
  const ids = usesUserNamespace(options) ? req.idMappings : undefined;
  if (usesUserNamespace(options) && ids === undefined) {
    throw new TsdockError('INVALID_ARGUMENT', `--userns ${String(options.userns)} needs the container's id mappings`);
  }
  const idMappings = ids === undefined ? undefined : { uid: [ids.uid], gid: [ids.gid] };
  await chownVolumes(options.binds ?? [], user, ids);
  const rootOwner = { uid: ids?.uid.hostID ?? 0, gid: ids?.gid.hostID ?? 0 };
  const hostname = options.hostname ?? id.slice(0, 12);
  // The plan names the cgroup's paths; the directories are made by each start.
  const cgroup = await openContainerCgroup({ name: id, parent: options.cgroupParent, hierarchy: host.hierarchy });
  // Its files belong to the host's root: not for a container in a user namespace.
  const mountTargets =
    ids === undefined ? await mountTargetsLayer(dirname(req.containersRoot), image.layerDirs) : undefined;
  const overlayInput = { layerDirs: image.layerDirs, paths, mountTargets, volatileUpper: req.volatileUpper };
  try {
    const volatile = req.autoRemove === true;
    if (volatile) await prepareVolatileRoot();
    // Under the lock: `container prune` takes it to sweep directories of no container.
    return await withContainersLock(req.containersRoot, async () => {
      // First what belongs on disk: the rootfs can be mounted meanwhile (dirMade).
      createContainerData(paths, rootOwner);
      if (ids === undefined) dirMade?.(overlayMountOf(overlayInput, false));
      const name = wanted ?? defaultName((n) => idOfName(req.containersRoot, n) !== undefined);
      reserveName(req.containersRoot, name, id);
      try {
        const hostNetwork = usesHostNetwork(req.containersRoot, id, options);
        createContainerDir(paths, { hostname, ...networkFiles(options, hostNetwork) }, volatile);
        const plan = buildSpawnPlan({
          id,
          config: image.config,
          layerDirs: image.layerDirs,
          options: hostNetwork ? { ...planOptions, network: 'host' } : planOptions,
          user,
          paths,
          bindKinds: kinds,
          cgroup: { procsFiles: cgroup.procsFiles, dirs: cgroup.dirs, oom: cgroup.oom },
          nofileHardLimit,
          cgroupMounts: host.mounts,
          idMappings,
          idmappedLayers: ids !== undefined && req.idmappedLayers === true,
          networkNamespace: networkNamespaceFor(req.containersRoot, id, options),
          sharedNamespaces: req.sharedNamespaces,
          volatileUpper: req.volatileUpper,
          mountTargets,
        });
        writeFileSync(paths.plan, encodePlan(plan), { mode: 0o600 });
        const execBase = execBaseOf(plan);
        if (!deferExecBase) writeExecBase(paths.dir, execBase);
        if (req.healthcheck !== undefined) {
          const check = buildExecPlan(execBase, {
            args: healthcheckArgv(req.healthcheck, image.config.Shell),
            joins: healthcheckJoins(plan),
            cgroupProcs: plan.cgroupProcs,
          });
          writeFileSync(join(paths.dir, HEALTH_PLAN_FILE), encodePlan(check), { mode: 0o600 });
        }
        const record: ContainerRecord = {
          id,
          name,
          image: image.name ?? '',
          imageId: image.id ?? '',
          created: new Date().toISOString(),
          args,
          options,
          autoRemove: req.autoRemove ?? false,
          log: req.log ?? {},
          init: req.init ?? false,
          stopSignal: req.stopSignal ?? image.config.StopSignal,
          ...(req.stopTimeout === undefined ? {} : { stopTimeout: req.stopTimeout }),
          ...(req.infra === true ? { infra: true } : {}),
          ...(ids === undefined ? {} : { idMappings: ids }),
          restartPolicy,
          ...(req.healthcheck === undefined ? {} : { healthcheck: req.healthcheck }),
          state: { status: 'created' },
        };
        await planned?.(record);
        writeRecord(paths.dir, record);
        recordEvent(req.containersRoot, actorOf(record), { action: 'create' });
        return { record, execBase };
      } catch (err) {
        releaseName(req.containersRoot, name, id);
        throw err;
      }
    });
  } catch (err) {
    removeContainerDir(paths);
    throw asTsdockError(err, 'cannot create container');
  }
}

/** What an exec takes over from the container's plan (see exec-plan.ts). */
export function execBaseFileOf(dir: string): string {
  return join(dir, 'exec.json');
}

function writeExecBase(dir: string, base: ExecBase): void {
  writeFileSync(execBaseFileOf(dir), JSON.stringify(base), { mode: 0o600 });
}

/** Where a container's stdio goes when nobody is attached: its json-file log (Docker's name). */
export function logFileOf(paths: ContainerDir, id: string): string {
  return join(paths.data, `${id}-json.log`);
}

/**
 * The monitor of a container: detached (`stdio` absent) or `'attach'`ed, its output goes to its
 * log file and to the clients of its attach socket (the caller the first of them with
 * `'attach'`); with `-i` its stdin is theirs. A container with a terminal always goes that way
 * (any `stdio` attaches the caller); one without can also be given the caller's `stdio`.
 */
function spawnContainerMonitor(
  paths: ContainerDir,
  record: ContainerRecord,
  stdio: StartStdio | undefined,
  lifecycle: string[],
  madeAhead: MadeAhead,
): MonitorHandle {
  const { plan, dir } = paths;
  const tty = record.options.tty === true;
  if (!tty && stdio !== undefined && stdio !== 'attach') {
    return spawnMonitor(plan, stdio, undefined, undefined, lifecycle, madeAhead);
  }
  const log = { path: logFileOf(paths, record.id), ...record.log };
  const attach = {
    socket: attachSocketOf(dir),
    client: stdio !== undefined,
    openStdin: !tty && record.options.interactive === true,
    stdinOnce: record.options.stdinOnce === true,
  };
  return spawnMonitor(plan, { stdin: 'ignore', output: 'ignore' }, log, attach, lifecycle, madeAhead);
}

export interface StartOptions {
  /** The caller created the record just now: no earlier run left monitor files or a cgroup. */
  justCreated?: boolean;
  /** The host's cgroups, when the caller read them already. */
  hostCgroups?: HostCgroups;
  /** The container's monitor, spawned already (spawnAwaitingMonitor) while it was created. */
  monitor?: MonitorHandle;
  /** exec.json to write once the container runs (create's `deferExecBase`). */
  execBase?: ExecBase;
}

/** What startContainer makes for the container while it is created (see MadeAhead). */
interface MakingAhead {
  netns?: Promise<number | undefined>;
  rootfs?: Promise<number | undefined>;
}

/** What is being made ahead, once made (both are being made already: awaited one by one). */
async function madeAhead(making: MakingAhead): Promise<MadeAhead> {
  return { netns: await making.netns, rootfs: await making.rootfs };
}

function closeMadeAhead(made: MadeAhead): void {
  for (const fd of [made.netns, made.rootfs]) if (fd !== undefined) closeSync(fd);
}

/**
 * Spawns the monitor of a start: it starts up (exec, plan, log and attach set-up, and the clone
 * where it can) while the caller makes the cgroup and the network, and runs nothing before
 * `cgroupReady` says they are there. `made`: a network namespace and the rootfs's mount made for
 * the container, which its first run joins and attaches (see startContainer); the spawn closes
 * them.
 */
function spawnAwaitingMonitor(
  containersRoot: string,
  record: ContainerRecord,
  stdio: StartStdio | undefined,
  made: MadeAhead = {},
): MonitorHandle {
  return spawnContainerMonitor(
    containerDirPaths(containersRoot, record.id),
    record,
    stdio,
    [...monitorLifecycleArgs(containersRoot, record, stdio === undefined), '--await-cgroup'],
    made,
  );
}

/**
 * Starts a created or exited container from its saved plan and resolves once its command runs.
 * With `stdio` absent the container is detached: its output goes to its log file, and the
 * monitor outlives this process.
 */
export async function startCreated(
  containersRoot: string,
  record: ContainerRecord,
  stdio?: StartStdio,
  options: StartOptions = {},
): Promise<StartedContainer> {
  const paths = containerDirPaths(containersRoot, record.id);
  const spec = { name: record.id, parent: record.options.cgroupParent, hierarchy: options.hostCgroups?.hierarchy };
  if (options.justCreated !== true) {
    // overlayfs refuses to mount a volatile upper dir a second time (see PlanInput.volatileUpper).
    if (existsSync(join(paths.work, 'work', 'incompat', 'volatile'))) {
      throw new TsdockError(
        'CONFLICT',
        `container ${record.name} ran with --rm and is removed once it exits: run a new one instead`,
      );
    }
    // The last run's monitor, still closing after its exit file, would unlink this run's socket.
    await untilGone(record.state.monitor);
    removeMonitorFiles(paths.dir);
    // A container whose monitor was killed may have left its cgroup: it must not be reused.
    await (await openContainerCgroup(spec)).destroy();
  }
  let cgroup: ContainerCgroup | undefined;
  let monitor = options.monitor;
  let cgroupReady = false;
  try {
    monitor ??= spawnAwaitingMonitor(containersRoot, record, stdio);
    cgroup = await createContainerCgroup({ ...spec, limits: cgroupLimitsOf(record.options) });
    await attachNetwork(containersRoot, record, paths);
    monitor.cgroupReady();
    cgroupReady = true;
    const pid = await monitor.started;
    // Before the start resolves (then an exec may come), after the set-up it would only slow.
    if (options.execBase !== undefined) writeExecBase(paths.dir, options.execBase);
    record.state = {
      status: 'running',
      monitor: monitor.identities.monitor ?? identify(monitor.pid),
      init: monitor.identities.init ?? identify(pid),
      startedAt: new Date().toISOString(),
    };
    writeRecord(paths.dir, record);
    if (stdio === undefined) monitor.detach();
    return started(paths, record, pid, monitor, cgroup);
  } catch (err) {
    // Before its cgroup was ready the monitor ran nothing: end it. After, it removes the cgroup on
    // a failed start; wait for it so nothing races the cleanup.
    if (!cgroupReady) monitor?.signal('SIGKILL');
    await monitor?.exited.catch(() => undefined);
    await cgroup?.destroy();
    await releaseNetwork(containersRoot, record);
    const error = idmapRefusal(err, record.options.binds ?? []) ?? asTsdockError(err, 'cannot start container');
    record.state = { ...record.state, error: error.message };
    writeRecord(paths.dir, record);
    throw error;
  }
}

function started(
  paths: ContainerDir,
  record: ContainerRecord,
  pid: number,
  monitor: MonitorHandle,
  cgroup: ContainerCgroup,
): StartedContainer {
  const wait = async (): Promise<ExitStatus> => {
    const exit = await monitor.exited;
    // Like Docker, an exited container keeps no address, ports or namespace.
    await releaseNetwork(dirname(paths.dir), record);
    // Re-read: `stop` may have noted a timeout meanwhile, or `rm -f` removed the container.
    const current = readRecord(paths.dir);
    if (current === undefined) return exit;
    const recorded = readExitRecord(paths.dir);
    current.state = {
      ...current.state,
      status: 'exited',
      exitCode: exit.exitCode,
      oomKilled: exit.oomKilled,
      reason: recorded?.reason ?? (exit.oomKilled ? 'oom' : exit.signal !== 0 ? 'signal' : 'exited'),
      restartCount: recorded?.restartCount ?? 0,
      finishedAt: recorded?.finishedAt ?? new Date().toISOString(),
    };
    writeRecord(paths.dir, current);
    return exit;
  };
  return {
    id: record.id,
    name: record.name,
    pid,
    monitor,
    cgroup,
    wait,
    async waitAndRemove() {
      try {
        return await monitor.exited;
      } finally {
        removeContainerDir(paths);
        await releaseContainerName(dirname(paths.dir), record.name, record.id);
        if (!monitor.cgroupRemoved) await cgroup.destroy();
        await releaseNetwork(dirname(paths.dir), record);
        await releaseUserNamespace(dirname(paths.dir), record.id);
        await removeAnonymousVolumes(dirname(paths.dir), record);
      }
    },
  };
}

/**
 * Whether the container's network namespace is its own and nobody else's to make: `--network
 * none`, joining none and in no user namespace (whose root could not join a namespace of the
 * host's). It can then be made ahead, like Docker's sandbox.
 */
function makesOwnNetworkNamespace(req: StartRequest): boolean {
  return (
    networkModeOf(req.options) === 'none' &&
    !usesUserNamespace(req.options) &&
    !(req.sharedNamespaces ?? []).some((j) => j.type === 'network')
  );
}

/** Creates a container and starts it attached to `stdio` (`run`); a failed start removes it. */
export async function startContainer(req: StartRequest): Promise<StartedContainer> {
  // Read once for both halves: the host's cgroup mounts do not change between them.
  const hostCgroups = req.hostCgroups ?? detectHostCgroups();
  // An attached `--rm` run is started once and removed by its caller; only a health check that
  // restarts it in place would mount its upper dir again.
  const volatileUpper =
    req.autoRemove === true && req.healthcheck?.onFailure !== 'restart' && overlayVolatileSupported();
  // Made on threads while the container is created; without them its child makes its own.
  const making: MakingAhead = {};
  if (makesOwnNetworkNamespace(req)) {
    making.netns = native()
      .newNetworkNamespace()
      .catch(() => undefined);
  }
  const dirMade = (overlay: OverlayMount): void => {
    // A kernel without `lowerdir+` (before 6.8) refuses it: the child mounts the plan's overlay.
    making.rootfs = native()
      .mountOverlay(overlay.lower, overlay.upper, overlay.work, overlay.options)
      .catch(() => undefined);
  };
  // Spawned as soon as the plan is written: it starts up while the rest of the container is.
  let monitor: MonitorHandle | undefined;
  const planned = async (record: ContainerRecord): Promise<void> => {
    // Waited for here, where Node has nothing else to do: the spawn follows the mount at once.
    monitor = spawnAwaitingMonitor(req.containersRoot, record, req.stdio, await madeAhead(making));
  };
  let created: Created;
  try {
    created = await create({ ...req, hostCgroups, volatileUpper }, { deferExecBase: true, dirMade, planned });
  } catch (err) {
    if (monitor === undefined) {
      closeMadeAhead(await madeAhead(making));
    } else {
      // It ran nothing yet: it waits for the cgroup.
      monitor.signal('SIGKILL');
      await monitor.exited.catch(() => undefined);
    }
    throw err;
  }
  const { record, execBase } = created;
  try {
    return await startCreated(req.containersRoot, record, req.stdio, {
      justCreated: true,
      hostCgroups,
      monitor,
      execBase,
    });
  } catch (err) {
    removeContainerDir(containerDirPaths(req.containersRoot, record.id));
    await releaseContainerName(req.containersRoot, record.name, record.id);
    await releaseUserNamespace(req.containersRoot, record.id);
    throw err;
  }
}

/** Where containers live under a tsdock root. */
export function containersRootOf(root: string): string {
  return join(root, 'containers');
}
