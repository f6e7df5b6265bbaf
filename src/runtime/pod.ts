/**
 * Pods: containers that share network, IPC and UTS namespaces (and the pid namespace on
 * request), held by an infra container whose only process is `tsdock-pause`. The infra container
 * is an ordinary container (cgroup, monitor, network endpoint, published ports, reconciliation)
 * over an empty root with the static pause binary bound in; its namespaces are pinned
 * (`pod-namespaces.ts`) and every member's plan joins the pins instead of creating its own.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { TsdockError } from '../errors.js';
import { pausePath } from '../native.js';
import type { PortSpec } from '../network/ports.js';
import { createContainer, containersRootOf, startCreated } from './container.js';
import { checkNetworkOptions } from './container-network.js';
import { checkName, defaultName } from './container-name.js';
import type { ContainerStatus } from './container-record.js';
import {
  isActive,
  observe,
  persistObserved,
  removeContainer,
  stopContainer,
  type ObservedContainer,
} from './container-ops.js';
import { findContainer, listContainers } from './container-store.js';
import { usesUserNamespace, type ContainerOptions } from './options.js';
import type { NamespaceJoin, NamespaceType } from './plan.js';
import { arePinned, pinNamespaces, podPinsDir, unpinNamespaces } from './pod-namespaces.js';
import {
  DEFAULT_SHARE,
  findPodRecord,
  listPodRecords,
  POD_NAMESPACES,
  podsRootOf,
  removePodRecord,
  withPodsLock,
  writePodRecord,
  type PodNamespace,
  type PodRecord,
} from './pod-record.js';

/** What `pod create` asks for. */
export interface PodOptions {
  /** Unique among the root's pods; default a random `adjective_scientist`. */
  name?: string;
  /** The shared host name; default the pod's name. */
  hostname?: string;
  /** `none` (the default), `host`, `bridge` or a user network's name. */
  network?: string;
  /** Ports published for the pod (bridge and user networks). */
  publish?: PortSpec[];
  /** Namespaces the members share; default `net`, `ipc` and `uts`. */
  share?: PodNamespace[];
  /** cgroup parent of the infra container. */
  cgroupParent?: string;
}

/** A pod and the state it is really in. */
export interface PodSummary extends PodRecord {
  /** The infra container's state: `running` while the pause process holds the namespaces. */
  status: ContainerStatus;
  /** Host pid of the pause process while it runs, else 0. */
  pausePid: number;
  /** The pod's containers (the infra container excluded). */
  containers: { id: string; name: string; status: ContainerStatus }[];
}

const NS_TYPE: Record<PodNamespace, NamespaceType> = { net: 'network', ipc: 'ipc', uts: 'uts', pid: 'pid' };

/** Where the pause binary is bound in the infra container's otherwise empty root. */
const PAUSE_TARGET = '/tsdock-pause';

function invalid(message: string): TsdockError {
  return new TsdockError('INVALID_ARGUMENT', message);
}

/** `--share net,ipc`: known kinds, each once. */
export function parseShare(spec: string): PodNamespace[] {
  const kinds = spec.split(',').filter((k) => k !== '');
  for (const kind of kinds) {
    if (!(POD_NAMESPACES as readonly string[]).includes(kind)) {
      throw invalid(`invalid --share "${spec}": expected a list of ${POD_NAMESPACES.join(', ')}`);
    }
  }
  return [...new Set(kinds)] as PodNamespace[];
}

/**
 * The options and joins of a container created in `pod`: pure, so every refusal is a table test.
 *
 * @throws TsdockError `INVALID_ARGUMENT` for an option the pod decides (network, ports, host name,
 *   a host namespace the pod shares) or a private user namespace (the pod's belong to the host's).
 */
export function memberOptions(
  pod: PodRecord,
  pinsDir: string,
  options: ContainerOptions,
): { options: ContainerOptions; sharedNamespaces: NamespaceJoin[] } {
  const shares = (kind: PodNamespace): boolean => pod.share.includes(kind);
  const refuse = (what: string, fix: string): never => {
    throw invalid(`${what} cannot be used for a container in pod ${pod.name}: ${fix}`);
  };
  if (shares('net')) {
    if (options.network !== undefined) refuse(`--network ${options.network}`, 'give --network to pod create');
    const published = (options.publish?.length ?? 0) > 0 || options.publishAll === true;
    if (published) refuse('-p/-P', 'publish ports with pod create -p');
    if (options.ip !== undefined || options.macAddress !== undefined || (options.networkAliases?.length ?? 0) > 0) {
      refuse('--ip, --mac-address and --network-alias', 'the pod has one network endpoint');
    }
  }
  if (shares('uts') && options.hostname !== undefined) refuse('-h/--hostname', 'give --hostname to pod create');
  if (shares('uts') && options.uts === 'host') refuse('--uts host', 'the pod shares its uts namespace');
  if (shares('ipc') && options.ipc === 'host') refuse('--ipc host', 'the pod shares its ipc namespace');
  if (shares('pid') && options.pid === 'host') refuse('--pid host', 'the pod shares its pid namespace');
  if (usesUserNamespace(options)) {
    refuse(`--userns ${String(options.userns)}`, "the pod's namespaces belong to the host's");
  }
  const joins = pod.share.filter((k) => k !== 'net').map((k) => ({ type: NS_TYPE[k], path: join(pinsDir, k) }));
  return {
    options: {
      ...options,
      pod: pod.id,
      network: shares('net') ? join(pinsDir, 'net') : options.network,
      hostname: shares('uts') ? pod.hostname : options.hostname,
    },
    sharedNamespaces: joins,
  };
}

/** The pods of one tsdock root. */
export class Pods {
  private readonly podsRoot: string;
  private readonly containersRoot: string;

  constructor(private readonly root: string) {
    this.podsRoot = podsRootOf(root);
    this.containersRoot = containersRootOf(root);
  }

  find(ref: string): PodRecord {
    return findPodRecord(this.podsRoot, ref);
  }

  pinsDir(pod: PodRecord): string {
    return podPinsDir(this.root, pod.id);
  }

  /**
   * Creates a pod and starts its pause process.
   *
   * @throws TsdockError `CONFLICT` when the name is taken, `INVALID_ARGUMENT` for bad options;
   *   nothing is left behind then.
   */
  async create(options: PodOptions): Promise<PodRecord> {
    const share = [...(options.share ?? DEFAULT_SHARE)];
    const network = options.network ?? 'none';
    const infraOptions: ContainerOptions = {
      network,
      publish: options.publish ?? [],
      hostname: options.hostname,
      cgroupParent: options.cgroupParent,
      binds: [{ source: pausePath(), target: PAUSE_TARGET, readonly: true }],
    };
    checkNetworkOptions(infraOptions);
    if (!share.includes('uts') && options.hostname !== undefined) {
      throw invalid('--hostname needs the uts namespace shared (--share uts)');
    }
    if (!share.includes('net') && (options.publish?.length ?? 0) > 0) {
      throw invalid('-p needs the network namespace shared (--share net)');
    }
    const wanted = options.name === undefined ? undefined : checkName(options.name);
    const pod = await withPodsLock(this.podsRoot, async () => {
      const taken = new Set(listPodRecords(this.podsRoot).map((p) => p.name));
      if (wanted !== undefined && taken.has(wanted)) {
        throw new TsdockError('CONFLICT', `the pod name "${wanted}" is already in use`);
      }
      const id = randomBytes(32).toString('hex');
      const name = wanted ?? defaultName((n) => taken.has(n));
      const hostname = options.hostname ?? name;
      const infra = await createContainer({
        containersRoot: this.containersRoot,
        image: { config: { Cmd: [PAUSE_TARGET] }, layerDirs: [this.emptyLayer()], name: 'tsdock-pause' },
        options: { ...infraOptions, hostname, pod: id },
        name: `${id.slice(0, 12)}-infra`,
        infra: true,
      });
      const record: PodRecord = {
        id,
        name,
        created: new Date().toISOString(),
        share,
        hostname,
        network,
        publish: options.publish ?? [],
        cgroupParent: options.cgroupParent,
        infraId: infra.id,
      };
      try {
        writePodRecord(this.podsRoot, record);
      } catch (err) {
        await removeContainer(this.containersRoot, observe(findContainer(this.containersRoot, infra.id)), true);
        throw err;
      }
      return record;
    });
    try {
      await this.start(pod.id);
    } catch (err) {
      await this.remove(pod.id, true);
      throw err;
    }
    return pod;
  }

  /** Starts the pause process (if it is not running) and pins its namespaces. */
  async start(ref: string): Promise<void> {
    const pod = this.find(ref);
    await withPodsLock(this.podsRoot, async () => {
      const infra = this.infraOf(pod);
      const dir = this.pinsDir(pod);
      if (isActive(infra.observed) && arePinned(dir, pod.share)) return;
      // A pause process that died left pins of namespaces no new member should join.
      unpinNamespaces(dir);
      const pid = isActive(infra.observed)
        ? infra.observed.pid
        : (await startCreated(this.containersRoot, infra.record)).pid;
      try {
        pinNamespaces(dir, pid, pod.share);
      } catch (err) {
        unpinNamespaces(dir);
        await removeContainer(this.containersRoot, this.infraOf(pod), true).catch(() => undefined);
        throw new TsdockError(
          'START_FAILED',
          `cannot pin the namespaces of pod ${pod.name}: ${(err as Error).message}`,
          {
            cause: err,
          },
        );
      }
    });
  }

  /** Stops the members (`timeout` seconds each before SIGKILL), then the pause process. */
  /** Stops a pod's members, then its infra; `timeout` undefined: each container's own. */
  async stop(ref: string, timeout?: number): Promise<void> {
    const pod = this.find(ref);
    await Promise.all(this.membersOf(pod).map((c) => this.stopOne(c, timeout)));
    await withPodsLock(this.podsRoot, async () => {
      await this.stopOne(this.infraOf(pod), timeout);
      unpinNamespaces(this.pinsDir(pod));
    });
  }

  /**
   * Removes a pod: its containers, its infra container and its pins. Running members only with
   * `force`, which kills them.
   *
   * @throws TsdockError `CONFLICT` when members run and `force` is not set.
   */
  async remove(ref: string, force = false): Promise<string> {
    const pod = this.find(ref);
    const members = this.membersOf(pod);
    const running = members.filter((c) => isActive(c.observed));
    if (running.length > 0 && !force) {
      throw new TsdockError(
        'CONFLICT',
        `pod ${pod.name} has running containers (${running.map((c) => c.record.name).join(', ')}): stop them, or use -f`,
      );
    }
    for (const member of members) await removeContainer(this.containersRoot, member, true);
    await withPodsLock(this.podsRoot, async () => {
      const infra = this.infraOfOrUndefined(pod);
      if (infra !== undefined) await removeContainer(this.containersRoot, infra, true);
      unpinNamespaces(this.pinsDir(pod));
      removePodRecord(this.podsRoot, pod.id);
    });
    return pod.name;
  }

  list(): PodSummary[] {
    return listPodRecords(this.podsRoot).map((p) => this.summary(p));
  }

  inspect(ref: string): PodSummary {
    return this.summary(this.find(ref));
  }

  private summary(pod: PodRecord): PodSummary {
    const infra = this.infraOfOrUndefined(pod);
    return {
      ...pod,
      status: infra?.observed.status ?? 'dead',
      pausePid: infra?.observed.pid ?? 0,
      containers: this.membersOf(pod).map((c) => ({ id: c.record.id, name: c.record.name, status: c.observed.status })),
    };
  }

  private async stopOne(container: ObservedContainer, timeout: number | undefined): Promise<void> {
    await persistObserved(this.containersRoot, await stopContainer(container, timeout));
  }

  private membersOf(pod: PodRecord): ObservedContainer[] {
    return listContainers(this.containersRoot)
      .filter((c) => c.record.options.pod === pod.id && c.record.infra !== true)
      .map(observe);
  }

  private infraOfOrUndefined(pod: PodRecord): ObservedContainer | undefined {
    const found = listContainers(this.containersRoot).find((c) => c.record.id === pod.infraId);
    return found === undefined ? undefined : observe(found);
  }

  private infraOf(pod: PodRecord): ObservedContainer {
    const infra = this.infraOfOrUndefined(pod);
    if (infra === undefined) throw new TsdockError('STORE', `the infra container of pod ${pod.name} is missing`);
    return infra;
  }

  /** The infra container's one read-only layer: an empty directory (the pause binary is bound in). */
  private emptyLayer(): string {
    const dir = join(this.podsRoot, 'pause-layer');
    mkdirSync(dir, { recursive: true, mode: 0o755 });
    return dir;
  }
}
