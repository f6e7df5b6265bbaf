/**
 * tsdock as a library: one {@link Runtime} per store root. No daemon: every container has a small
 * native monitor of its own, so containers keep running when this process exits, and a
 * `Runtime` opened later on the same root finds them again (state is reconciled with the
 * processes that really exist). Every error is a {@link TsdockError} with a stable `code`.
 *
 * Output of a detached container is its json-file log: read it as a stream with
 * {@link Runtime.logs} (`follow: true` tails it); run commands in it with {@link Runtime.exec};
 * a running container's stdio can be attached to with {@link Runtime.attachStdio}.
 *
 * @example
 * ```ts
 * import { Runtime } from 'tsdock';
 * const runtime = await Runtime.open({ root: '/var/lib/tsdock' });
 * await runtime.loadImage('busybox-oci.tar');
 * const { exitCode } = await runtime.run('busybox', { command: ['echo', 'hi'] });
 * const id = await runtime.runDetached('busybox', { name: 'web', command: ['httpd', '-f'] });
 * for await (const line of runtime.logs(id, { follow: true })) process.stdout.write(line.log);
 * ```
 */
import { dirname, join } from 'node:path';
import type { Duplex } from 'node:stream';
import { TsdockError } from './errors.js';
import { findContainer, withContainersLock, type StoredContainer } from './runtime/container-store.js';
import type { IdMapping } from './image/id-mapping.js';
import type { LayerLimits } from './image/layer-limits.js';
import type { ImageInspect, ImageStore, ImageSummary, PruneResult, ResolvedImage } from './image/store.js';
import type { ArchiveStream } from './image/load.js';
import type { ArchiveFormat } from './image/save.js';
import {
  containersRootOf,
  createContainer,
  newContainerId,
  startContainer,
  startCreated,
  type CreateRequest,
  type StartedContainer,
  type StartStdio,
} from './runtime/container.js';
import type { AttachStreams, ContainerAttachment } from './runtime/attachment.js';
import { releaseUserNamespace, userNamespaceFor, type UserNamespaceIds } from './runtime/userns.js';
import { resolveHealthcheck } from './runtime/healthcheck.js';
import type { ObservedContainer } from './runtime/container-ops.js';
import type { ContainerInspect } from './runtime/container-inspect.js';
import type { LogEntry } from './runtime/container-logs.js';
import type { ExecOptions, StartedExec } from './runtime/exec.js';
import type { ContainerStats } from './runtime/container-stats.js';
import type { ContainerRecord, LogConfig } from './runtime/container-record.js';
import type { ContainerOptions } from './runtime/options.js';
import type { VolumeFilters, VolumeInspect, VolumePruneResult, VolumeStore } from './runtime/volume-store.js';
import type { ImageTree } from './runtime/volume-copy-up.js';
import type { NamespaceJoin } from './runtime/plan.js';
import type { PodOptions, Pods, PodSummary } from './runtime/pod.js';
import type { PodRecord } from './runtime/pod-record.js';
import type { ReadEventsOptions, TsdockEvent } from './runtime/events.js';
import type { RestartPolicy } from './runtime/restart-policy.js';
import type { CreateNetworkOptions, Networks, NetworkSummary } from './network/networks.js';
import type { EndpointRecord, NetworkRecord } from './network/store.js';
import type { ExitStatus } from './runtime/spawn.js';
import type { Credentials } from './image/registry/auth.js';
import type { RegistryOptions } from './image/registry/client.js';
import type { PullOptions, PullResult } from './image/registry/pull.js';
import type { PushOptions, PushResult } from './image/registry/push.js';
import type { BuildOptions, BuildResult } from './build/build-options.js';
import type { CachePruneOptions, CachePruneResult } from './build/cache-prune.js';

export { TsdockError, StartError, exitStatusOf, type ErrorCode } from './errors.js';
export type { ContainerOptions, BindMount, TmpfsMount, VolumeMount } from './runtime/options.js';
export type { VolumeInspect, VolumeFilters, VolumePruneResult } from './runtime/volume-store.js';
export type { ExitStatus, StdioMode, MonitorHandle } from './runtime/spawn.js';
export type { StartedContainer, StartStdio } from './runtime/container.js';
export type { AttachStreams, ContainerAttachment } from './runtime/attachment.js';
export type { ContainerInspect } from './runtime/container-inspect.js';
export type { ObservedContainer } from './runtime/container-ops.js';
export type { ContainerRecord, ContainerStatus, ExitReason, LogConfig } from './runtime/container-record.js';
export type { LogEntry } from './runtime/container-logs.js';
export type { RestartPolicy } from './runtime/restart-policy.js';
export type {
  Healthcheck,
  HealthcheckOptions,
  HealthFailureAction,
  HealthResult,
  HealthState,
} from './runtime/healthcheck.js';
export type {
  TsdockEvent,
  ContainerEvent,
  EventAction,
  EventFilters,
  HealthStatus,
  ReadEventsOptions,
} from './runtime/events.js';
export type { ExecOptions, StartedExec } from './runtime/exec.js';
export type { ContainerStats } from './runtime/container-stats.js';
export type { PodOptions, PodSummary } from './runtime/pod.js';
export type { PodRecord, PodNamespace } from './runtime/pod-record.js';
export type { ObservedState } from './runtime/container-state.js';
export type { CgroupLimits } from './runtime/cgroups/index.js';
export type { ImageSummary, ImageInspect, ImageConfig, PruneResult } from './image/store.js';
export type { LayerLimits } from './image/layer-limits.js';
export type { ArchiveStream } from './image/load.js';
export type { ArchiveFormat } from './image/save.js';
export type { NetworkRecord, EndpointRecord } from './network/store.js';
export type { NetworkSummary, CreateNetworkOptions } from './network/networks.js';
export type { PortSpec, PortBinding } from './network/ports.js';
export type { Credentials } from './image/registry/auth.js';
export type { RegistryOptions } from './image/registry/client.js';
export type { PullOptions, PullResult } from './image/registry/pull.js';
export type { PushOptions, PushResult } from './image/registry/push.js';
export type { ProgressEvent, ProgressListener, LayerStatus } from './image/registry/progress.js';
export type { BuildOptions, BuildResult } from './build/build-options.js';
export type { CachePruneOptions, CachePruneResult } from './build/cache-prune.js';
export type { BuildEvent, BuildListener } from './build/progress.js';

/** Where a {@link Runtime} keeps its store unless told otherwise (`TSDOCK_ROOT` overrides it). */
export const DEFAULT_ROOT = '/var/lib/tsdock';

/** When `run` pulls its image: Docker's `--pull missing|always|never`. */
export type PullPolicy = 'missing' | 'always' | 'never';

/** How {@link Runtime.open} opens a store. */
export interface RuntimeOptions {
  /** The store's root directory; default `TSDOCK_ROOT` or `/var/lib/tsdock`. */
  root?: string;
  /**
   * Caps on what one layer may unpack to (decompression bombs), each defaulting to
   * `DEFAULT_LAYER_LIMITS`.
   *
   * @example await Runtime.open({ layerLimits: { maxSize: 200 * 1024 ** 3 } });
   */
  layerLimits?: Partial<LayerLimits>;
  /**
   * How a user namespace (`--userns private|auto`) sees the image's files: `true` (the default,
   * unless `TSDOCK_IDMAPPED_LAYERS=0`) idmaps the layers where the host supports it and falls
   * back to copies chowned into the namespace's range elsewhere; `false` always uses the copies.
   *
   * @example await Runtime.open({ idmappedLayers: false });
   */
  idmappedLayers?: boolean;
}

/** A container started attached to this process ({@link Runtime.start}, {@link Runtime.run}). */
export interface RunOptions extends ContainerOptions {
  /**
   * Default: stdin ignored, stdout/stderr inherited from this process. `'attach'`: this process
   * is the first attach client (`monitor.attach`), and the output is logged too.
   */
  stdio?: StartStdio;
}

/** How a {@link Runtime.run} ended, and which container it was. */
export interface RunResult extends ExitStatus {
  id: string;
}

/** What `create` records besides the container's options. */
export interface CreateOptions extends ContainerOptions {
  /** Unique among this root's containers; default a random `adjective_scientist`. */
  name?: string;
  /** `--rm`: removed once it exits. */
  autoRemove?: boolean;
  /** Rotation of the json-file log a detached run writes (default: one file, unbounded). */
  log?: LogConfig;
  /** `--init`: a tiny init as pid 1 forwards signals to the command and reaps zombies. */
  init?: boolean;
  /**
   * `--restart`: what the container's monitor does when it exits (not with `autoRemove`).
   *
   * @example { name: 'on-failure', maximumRetryCount: 3 }
   */
  restartPolicy?: RestartPolicy;
  /** `--stop-signal`: what `stop` sends first, instead of the image's STOPSIGNAL (or SIGTERM). */
  stopSignal?: string;
  /**
   * `--stop-timeout`: seconds `stop`, `restart` and `--health-on-failure stop|restart` wait
   * after the stop signal before SIGKILL, when the caller names none (default 10).
   */
  stopTimeout?: number;
}

/** An image's merged files, read from its layers, for a volume's copy-up. */
async function imageTree(layerDirs: string[]): Promise<ImageTree> {
  const { LayeredTree, resolveInTree } = await import('./build/file-tree.js');
  const layers = new LayeredTree(layerDirs);
  return {
    lstat: (components) => layers.lstat(components),
    readdir: (components) => layers.readdir(components),
    resolve: (path) => resolveInTree(layers, path, true),
  };
}

/** A container's options once its pod, if any, has added what it shares (`runtime/pod.ts`). */
interface PodMember {
  options: ContainerOptions;
  sharedNamespaces?: NamespaceJoin[];
}

/**
 * One tsdock store (images, containers, networks, pods) and the containers started from it.
 *
 * @example
 * ```ts
 * const runtime = await Runtime.open({ root: '/tmp/tsdock' });
 * const id = await runtime.runDetached('busybox', { command: ['sleep', '60'] });
 * await runtime.stop(id, { timeout: 2 });
 * await runtime.remove(id);
 * ```
 */
export class Runtime {
  /** The store's root directory. */
  readonly root: string;
  private readonly images: ImageStore;
  /** Resolved images by reference and mapping, valid while the store's generation holds. */
  private readonly resolved = new Map<string, { generation: string; image: ResolvedImage }>();

  private constructor(
    root: string,
    images: ImageStore,
    private readonly layerLimits: LayerLimits,
    private readonly idmappedLayers: boolean,
  ) {
    this.root = root;
    this.images = images;
  }

  /**
   * Opens (creating when needed) the store at `options.root`. Opening is cheap and several
   * runtimes, in one process or many, may share a root: every change is locked and atomic.
   *
   * @example const runtime = await Runtime.open({ root: '/var/lib/tsdock' });
   */
  static async open(options: RuntimeOptions = {}): Promise<Runtime> {
    const root = options.root ?? process.env.TSDOCK_ROOT ?? DEFAULT_ROOT;
    const [{ openImageStore }, { DEFAULT_LAYER_LIMITS }] = await Promise.all([
      import('./image/store.js'),
      import('./image/layer-limits.js'),
    ]);
    const layerLimits = { ...DEFAULT_LAYER_LIMITS, ...options.layerLimits };
    const idmappedLayers = options.idmappedLayers ?? process.env.TSDOCK_IDMAPPED_LAYERS !== '0';
    return new Runtime(root, await openImageStore(root, { layerLimits }), layerLimits, idmappedLayers);
  }

  /**
   * Loads an OCI archive or a `docker save` archive, from a file or a stream; returns the names
   * of the loaded images (the ID of one that has none).
   */
  async loadImage(source: string | ArchiveStream): Promise<string[]> {
    const { loadArchive } = await import('./image/load.js');
    return loadArchive(this.images, source);
  }

  /**
   * Saves images (by name or ID) as one archive: `docker save`'s form (the default) or an OCI
   * archive (`format: 'oci'`), to a file or a stream (left open).
   *
   * @example await runtime.saveImages(['busybox:latest'], 'busybox.tar', { format: 'oci' });
   */
  async saveImages(
    refs: readonly string[],
    destination: string | NodeJS.WritableStream,
    options: { format?: ArchiveFormat } = {},
  ): Promise<void> {
    await this.images.save(refs, destination, options);
  }

  /**
   * The stored images, one entry per name, newest first.
   *
   * @example for (const i of await runtime.listImages()) console.log(`${i.repository}:${i.tag}`, i.id);
   */
  listImages(): Promise<ImageSummary[]> {
    return this.images.list();
  }

  /**
   * One image by name or ID: names, digest, size, and its config (Env, Cmd, ExposedPorts, …).
   *
   * @example const { config } = await runtime.inspectImage('busybox');
   * @throws TsdockError `IMAGE_NOT_FOUND`.
   */
  inspectImage(ref: string): Promise<ImageInspect> {
    return this.images.inspect(ref);
  }

  /**
   * Removes an image by name or id; returns what was untagged and deleted. An image a container
   * (running or not) was created from is refused, or with `force` only untagged.
   *
   * @example await runtime.removeImage('busybox'); // ['Untagged: busybox:latest', 'Deleted: sha256:…']
   * @throws TsdockError `IMAGE_NOT_FOUND`; `CONFLICT` for an image a container uses.
   */
  async removeImage(ref: string, options: { force?: boolean } = {}): Promise<string[]> {
    const lines = await this.images.remove(ref, { ...options, inUse: await this.imagesInUse() });
    if (lines.some((l) => l.startsWith('Deleted: '))) await this.dropUnreachableBuildCache();
    return lines;
  }

  /**
   * Removes dangling images (with `all`, every image no container was created from), then the
   * blobs, layers and abandoned partial downloads no image refers to (`docker image prune`).
   *
   * @example const { lines, reclaimed } = await runtime.pruneImages({ all: true });
   */
  async pruneImages(options: { all?: boolean } = {}): Promise<PruneResult> {
    const result = await this.images.prune({ all: options.all, inUse: await this.imagesInUse() });
    return { ...result, reclaimed: result.reclaimed + (await this.dropUnreachableBuildCache()) };
  }

  /**
   * Removes build cache (`docker builder prune`): by default the entries whose layers no image
   * shares, with `all` every entry, with `usedBefore` (ms since the epoch) only those unused
   * since; then the layers nothing holds. Waits for in-flight builds rather than take what they use.
   *
   * @example const { removed, reclaimed } = await runtime.pruneBuildCache({ usedBefore: Date.now() - 86_400_000 });
   */
  async pruneBuildCache(options: CachePruneOptions = {}): Promise<CachePruneResult> {
    const { pruneBuildCache } = await import('./build/cache-prune.js');
    return pruneBuildCache(this.images, options);
  }

  /** Build cache entries an image removal left unreachable (no build could hit them again). */
  private async dropUnreachableBuildCache(): Promise<number> {
    const { dropUnreachableEntries } = await import('./build/cache-prune.js');
    return dropUnreachableEntries(this.images);
  }

  /** Image IDs the containers of this root were created from, each with one container's name. */
  private async imagesInUse(): Promise<Map<string, string>> {
    const { listContainers } = await import('./runtime/container-store.js');
    return new Map(listContainers(this.containersRoot()).map((c) => [c.record.imageId, c.record.name]));
  }

  /**
   * Pulls an image from its registry into the store (verified, resumable, layers unpacked in
   * parallel); `options.onProgress` receives typed progress events ({@link ProgressEvent}), and
   * `options.signal` aborts the pull (a later pull resumes what was downloaded).
   *
   * @example
   * ```ts
   * const abort = AbortSignal.timeout(60_000);
   * await runtime.pullImage('127.0.0.1:5000/team/app:1.2', {
   *   signal: abort,
   *   onProgress: (e) => { if (e.type === 'layer') console.log(e.digest, e.status, e.current, e.total); },
   * });
   * ```
   * @throws TsdockError `REGISTRY` (also for an aborted pull: `operation cancelled`), `UNAUTHORIZED`, `INVALID_IMAGE`.
   */
  async pullImage(ref: string, options: PullOptions = {}): Promise<PullResult> {
    const [{ pullImage }, { TransferStore }] = await Promise.all([
      import('./image/registry/pull.js'),
      import('./image/registry/transfer-store.js'),
    ]);
    return pullImage(new TransferStore(this.images.root, this.layerLimits), ref, options);
  }

  /**
   * Makes sure `image` is in the store before a run, by Docker's `--pull` policy: `missing`
   * pulls it only when absent, `always` pulls it anyway (fetching only what changed), `never`
   * leaves a missing image to fail the run. Returns whether it pulled.
   *
   * @example await runtime.ensureImage('127.0.0.1:5000/app:1', 'missing');
   */
  async ensureImage(image: string, policy: PullPolicy, options: PullOptions = {}): Promise<boolean> {
    if (policy === 'never') return false;
    if (policy === 'missing') {
      try {
        // Through the cache: the start that follows resolves the same image again.
        await this.resolveImage(image, undefined);
        return false;
      } catch (err) {
        if (!(err instanceof TsdockError) || err.code !== 'IMAGE_NOT_FOUND') throw err;
      }
    }
    await this.pullImage(image, options);
    return true;
  }

  /**
   * Pushes a stored image to the registry its name names (`tagImage` it there first).
   *
   * @example await runtime.pushImage('127.0.0.1:5000/me/busybox:v1');
   */
  async pushImage(ref: string, options: PushOptions = {}): Promise<PushResult> {
    const [{ pushImage }, { TransferStore }] = await Promise.all([
      import('./image/registry/push.js'),
      import('./image/registry/transfer-store.js'),
    ]);
    return pushImage(new TransferStore(this.images.root), ref, options);
  }

  /**
   * Builds an image from a Dockerfile and a context directory (`docker build`); resolves with
   * its ID once it is in the store under every tag. Steps are cached (see `noCache`); progress
   * arrives as typed events; `signal` aborts (a running step is killed, nothing is tagged).
   *
   * @example const { id } = await runtime.build('.', { tags: ['app:1.0'], onEvent: (e) => console.log(e) });
   * @throws TsdockError `BUILD_FAILED` when a step fails (a RUN's status is in the message);
   *   `INVALID_ARGUMENT` for a malformed Dockerfile (file and line in the message).
   */
  async build(contextDir: string, options: BuildOptions = {}): Promise<BuildResult> {
    const { runBuild } = await import('./build/build-options.js');
    return runBuild(
      {
        root: this.images.root,
        containersRoot: this.containersRoot(),
        ensureImage: async (ref, platform) => {
          await this.ensureImage(ref, options.pull === true ? 'always' : 'missing', { platform });
          return (await this.resolveImage(ref, undefined)).id;
        },
      },
      contextDir,
      options,
    );
  }

  /**
   * Names the image `source` (a name or ID) also `target` (`docker tag`).
   *
   * @example await runtime.tagImage('busybox', '127.0.0.1:5000/me/busybox:v1');
   */
  tagImage(source: string, target: string): Promise<void> {
    return this.images.tag(source, target);
  }

  /**
   * Checks credentials against a registry (`127.0.0.1:5000`; Docker Hub when empty) and stores
   * them in Docker's `config.json`. Returns the registry's domain.
   *
   * @example await runtime.login('127.0.0.1:5001', { username: 'alice', password: 's3cret' });
   * @throws TsdockError `UNAUTHORIZED` when the registry refuses them.
   */
  async login(server: string | undefined, credentials: Credentials, options: RegistryOptions = {}): Promise<string> {
    const { login, registryDomain } = await import('./image/registry/login.js');
    const domain = registryDomain(server);
    await login(domain, credentials, options);
    return domain;
  }

  /**
   * Forgets the stored credentials of a registry; returns its domain and whether there were any.
   *
   * @example const { removed } = await runtime.logout('127.0.0.1:5001');
   */
  async logout(
    server: string | undefined,
    options: { configDir?: string } = {},
  ): Promise<{ domain: string; removed: boolean }> {
    const { logout, registryDomain } = await import('./image/registry/login.js');
    const domain = registryDomain(server);
    return { domain, removed: await logout(domain, options.configDir) };
  }

  /**
   * Creates a container from `image` and starts it attached to `options.stdio`; resolves once its
   * command runs. The caller waits with `wait()` (the container stays) or `waitAndRemove()`; a
   * failed start removes the container and rejects with a {@link TsdockError}.
   *
   * @example
   * ```ts
   * const c = await runtime.start('busybox', { command: ['sh', '-c', 'echo hi'], stdio: { stdin: 'ignore', output: 'pipe' } });
   * c.monitor.stdout?.pipe(process.stdout);
   * const { exitCode } = await c.waitAndRemove();
   * ```
   */
  async start(image: string, options: RunOptions & CreateOptions = {}): Promise<StartedContainer> {
    const member = await this.podMember(options);
    if (member.options.pod !== undefined) await (await this.pods()).start(member.options.pod);
    return this.withRequest(image, member, options, (request) =>
      startContainer({ ...request, stdio: options.stdio ?? { stdin: 'ignore', output: 'inherit' } }),
    );
  }

  /**
   * Creates a container without starting it (`docker create`); returns its id.
   *
   * @example const id = await runtime.create('busybox', { name: 'web', command: ['httpd', '-f'] });
   * @throws TsdockError `CONFLICT` when the name is taken.
   */
  async create(image: string, options: CreateOptions = {}): Promise<string> {
    return (await this.createRecord(image, options)).id;
  }

  private async createRecord(image: string, options: CreateOptions): Promise<ContainerRecord> {
    return this.withRequest(image, await this.podMember(options), options, createContainer);
  }

  /**
   * Starts a created or exited container detached (`docker start`): its output goes to its log
   * file and its monitor outlives this process. Starting a running container does nothing.
   *
   * @example await runtime.startContainer('web');
   */
  async startContainer(ref: string): Promise<void> {
    const [{ startCreated }, ops] = await Promise.all([import('./runtime/container.js'), this.ops()]);
    const container = ops.observe(this.find(ref));
    if (ops.isActive(container.observed)) return;
    await this.startPodOf(container.record);
    const started = await startCreated(this.containersRoot(), container.record);
    started.monitor.detach();
  }

  /**
   * `docker start -a`: starts a created or exited container attached to `stdio`: the caller's own
   * fds, or with `'attach'` (always, for a container with a terminal) `monitor.attach`, the first
   * attach connection (`runtime/attach-protocol.ts`, {@link ContainerAttachment} wraps it), which
   * sees all of its output while the log keeps it too.
   *
   * @throws TsdockError `CONFLICT` when it is running already.
   */
  async startAttached(ref: string, stdio: StartStdio): Promise<StartedContainer> {
    const [{ startCreated }, ops] = await Promise.all([import('./runtime/container.js'), this.ops()]);
    const container = ops.observe(this.find(ref));
    if (ops.isActive(container.observed)) {
      throw new TsdockError('CONFLICT', `container ${container.record.name} is running: use attach`);
    }
    await this.startPodOf(container.record);
    return startCreated(this.containersRoot(), container.record, stdio);
  }

  /**
   * `docker attach`, raw: connects to the monitor of a running container. The connection speaks
   * `runtime/attach-protocol.ts`; closing it detaches. `stdin` says whether the container was
   * created to take input (`-i`), `tty` whether it has a terminal. {@link Runtime.attachStdio}
   * gives the same as streams.
   *
   * @throws TsdockError `CONFLICT` when it is not running.
   */
  async attach(ref: string): Promise<{ connection: Duplex; stdin: boolean; tty: boolean }> {
    const [ops, { attachSocketOf, connectAttachSocket }] = await Promise.all([
      this.ops(),
      import('./runtime/attach-socket.js'),
    ]);
    const { record, observed, dir } = ops.observe(this.find(ref));
    if (!ops.isActive(observed)) throw new TsdockError('CONFLICT', `container ${record.name} is not running`);
    const connection = await connectAttachSocket(attachSocketOf(dir), record.name);
    return { connection, stdin: record.options.interactive === true, tty: record.options.tty === true };
  }

  /**
   * `docker attach`: the stdio of a running container as streams, from now on (its log has what
   * came before). Output this process reads too slowly is lost to it, never to the log, and the
   * container never waits for it. `stdin` is only for a container created with `interactive`;
   * ending it closes the container's stdin if it was also created `stdinOnce` (Docker's StdinOnce).
   *
   * @example
   * ```ts
   * const a = await runtime.attachStdio('job', { stdin: true });
   * a.stdout?.pipe(process.stdout);
   * a.stderr?.pipe(process.stderr);
   * a.stdin?.end('input\n');
   * const exitCode = await a.exit; // undefined after a.detach()
   * ```
   * @throws TsdockError `CONFLICT` when it is not running, or `stdin` is asked of a container
   *   created without `interactive`.
   */
  async attachStdio(ref: string, streams: AttachStreams = {}): Promise<ContainerAttachment> {
    const [{ connection, stdin, tty }, { ContainerAttachment }] = await Promise.all([
      this.attach(ref),
      import('./runtime/attachment.js'),
    ]);
    if (streams.stdin === true && !stdin) {
      connection.destroy();
      throw new TsdockError('CONFLICT', `container ${ref} was not created with -i: it takes no input`);
    }
    return new ContainerAttachment(connection, tty, streams);
  }

  /**
   * `docker run -d`: creates and starts a container detached; returns its id. The container
   * outlives this process; its output goes to its log ({@link Runtime.logs}).
   *
   * @example const id = await runtime.runDetached('busybox', { name: 'web', command: ['httpd', '-f', '-p', '80'] });
   */
  async runDetached(image: string, options: CreateOptions = {}): Promise<string> {
    const record = await this.createRecord(image, options);
    try {
      await this.startPodOf(record);
      await startCreated(this.containersRoot(), record, undefined, { justCreated: true });
    } catch (err) {
      await this.remove(record.id, { force: true });
      throw err;
    }
    return record.id;
  }

  /**
   * Stops a container: its stop signal (`stopSignal`, the image's STOPSIGNAL, else SIGTERM), then
   * SIGKILL after `timeout` seconds (default its `stopTimeout`, else 10). Resolves once it has exited.
   *
   * @example await runtime.stop('web', { timeout: 5 });
   */
  async stop(ref: string, options: { timeout?: number } = {}): Promise<ObservedContainer> {
    const ops = await this.ops();
    const stopped = await ops.stopContainer(ops.observe(this.find(ref)), options.timeout);
    await ops.persistObserved(this.containersRoot(), stopped);
    return stopped;
  }

  /**
   * Stops (if running) and starts a container again.
   *
   * @example await runtime.restart('web');
   */
  async restart(ref: string, options: { timeout?: number } = {}): Promise<void> {
    await this.stop(ref, options);
    await this.startContainer(ref);
    (await this.ops()).emit(this.find(ref), { action: 'restart' });
  }

  /**
   * The root's container events: those since `since` (ms since the epoch; none replayed without
   * it), then new ones as they happen, until `until` passes or `signal` aborts.
   *
   * @example
   * for await (const e of runtime.events({ filters: { event: ['die'] }, signal }))
   *   if (e.action === 'die') console.log(e.name, e.exitCode, e.reason);
   */
  async *events(options: ReadEventsOptions = {}): AsyncGenerator<TsdockEvent> {
    const { readEvents } = await import('./runtime/events.js');
    yield* readEvents(this.containersRoot(), options);
  }

  /**
   * Sends a signal (`'KILL'`, `'SIGUSR1'`, `'9'`) to a running container's init. SIGKILL or the
   * stop signal is a user's stop (the restart policy lets it be), unless `proxied`: a signal an
   * attached client passes on (`--sig-proxy`) is only the process's.
   *
   * @example await runtime.kill('web', 'HUP');
   * @throws TsdockError `CONFLICT` when it is not running, `INVALID_ARGUMENT` for an unknown signal.
   */
  async kill(ref: string, signal = 'KILL', options: { proxied?: boolean } = {}): Promise<void> {
    const ops = await this.ops();
    ops.killContainer(ops.observe(this.find(ref)), ops.parseSignal(signal), options.proxied === true);
  }

  /**
   * Freezes (`pause`) or thaws (`unpause`) every process of a container.
   *
   * @example await runtime.pause('web'); await runtime.pause('web', false);
   */
  async pause(ref: string, paused = true): Promise<void> {
    const ops = await this.ops();
    await ops.setPaused(ops.observe(this.find(ref)), paused);
  }

  /**
   * Removes a container (directory, cgroup, record). A running one only with `force`, which
   * kills it first.
   *
   * With `volumes` (`rm -v`) its anonymous volumes go too (always for an `autoRemove` one);
   * named volumes stay.
   *
   * @example await runtime.remove('web', { force: true, volumes: true });
   * @throws TsdockError `CONFLICT` when it runs and `force` is not set, or holds a pod.
   */
  async remove(ref: string, options: { force?: boolean; volumes?: boolean } = {}): Promise<void> {
    const ops = await this.ops();
    const container = ops.observe(this.find(ref));
    if (container.record.infra === true) {
      throw new TsdockError(
        'CONFLICT',
        `container ${container.record.name} holds the namespaces of a pod: remove the pod (pod rm) instead`,
      );
    }
    await ops.removeContainer(this.containersRoot(), container, options.force ?? false, options.volumes ?? false);
    if (container.record.options.userns === 'auto') await this.dropUnusedMappings();
  }

  /**
   * Waits until a container is no longer running (however it ends: exit, kill, stop); returns
   * its exit code. Works for containers this process did not start.
   *
   * @example const code = await runtime.wait('job');
   */
  async wait(ref: string): Promise<number> {
    const ops = await this.ops();
    const done = await ops.waitInactive(this.find(ref));
    await ops.persistObserved(this.containersRoot(), done);
    return done.observed.exitCode;
  }

  /**
   * One container and its reconciled state, as `docker inspect` shows it.
   *
   * @example const { State } = await runtime.inspect('web'); // State.Status, State.Pid, State.ExitCode…
   * @throws TsdockError `CONTAINER_NOT_FOUND`.
   */
  async inspect(ref: string): Promise<ContainerInspect> {
    const [ops, { inspectContainer }, { networkSettingsOf }] = await Promise.all([
      this.ops(),
      import('./runtime/container-inspect.js'),
      import('./network/settings.js'),
    ]);
    const container = ops.observe(this.find(ref));
    const endpoints = (await this.networks()).endpointsOf(container.record.id);
    const inspect = inspectContainer(container);
    return endpoints.length === 0 ? inspect : { ...inspect, NetworkSettings: networkSettingsOf(endpoints) };
  }

  /**
   * The containers of this root with their reconciled state, newest first; only active ones
   * unless `all`. Exited `--rm` containers are removed on the way; pods' infra containers are
   * not listed.
   *
   * @example const running = (await runtime.list()).map((c) => c.record.name);
   */
  async list(options: { all?: boolean } = {}): Promise<ObservedContainer[]> {
    const [ops, { listContainers }] = await Promise.all([this.ops(), import('./runtime/container-store.js')]);
    await ops.reapAutoRemoved(this.containersRoot());
    return listContainers(this.containersRoot())
      .filter((c) => c.record.infra !== true)
      .map((c) => ops.observe(c))
      .filter((c) => options.all === true || ops.isActive(c.observed))
      .sort((a, b) => b.record.created.localeCompare(a.record.created));
  }

  /**
   * The json-file log of a container's detached runs, oldest first; with `follow`, new entries
   * as they are written, across rotations, until the container stops (or `signal` aborts).
   *
   * @example for await (const e of runtime.logs('web', { tail: 20 })) process.stdout.write(e.log);
   */
  async *logs(
    ref: string,
    options: { follow?: boolean; tail?: number; since?: number; signal?: AbortSignal } = {},
  ): AsyncGenerator<LogEntry> {
    const [ops, { readLogs }, { logFileOf }, { containerDirPaths }] = await Promise.all([
      this.ops(),
      import('./runtime/container-logs.js'),
      import('./runtime/container.js'),
      import('./runtime/container-dir.js'),
    ]);
    const stored = this.find(ref);
    const running = (): boolean => ops.isActive(ops.observe(stored).observed);
    const log = logFileOf(containerDirPaths(this.containersRoot(), stored.record.id), stored.record.id);
    yield* readLogs(log, stored.record.log.maxFile ?? 1, { ...options, running });
  }

  /**
   * Runs a command in a running container (`docker exec`): the container's namespaces, cgroup,
   * environment, working directory, user and security settings, unless `options` override them.
   * Resolves once the command runs; `exited` gives its exit status.
   *
   * @example const { exited } = await runtime.exec('web', { command: ['cat', '/etc/hostname'] });
   * @throws TsdockError `CONFLICT` when the container is not running.
   */
  async exec(ref: string, options: ExecOptions): Promise<StartedExec> {
    const [ops, { execInContainer }] = await Promise.all([this.ops(), import('./runtime/exec.js')]);
    return execInContainer(ops.observe(this.find(ref)), options);
  }

  /**
   * CPU, memory, pids and block I/O of running containers (all of them when `refs` is empty),
   * read from their cgroups twice, `intervalMs` apart, for the CPU percentage; network I/O from
   * their network namespaces.
   *
   * @example const [s] = await runtime.stats(['web']);
   */
  async stats(refs: string[] = [], intervalMs = 200): Promise<ContainerStats[]> {
    const [ops, { sampleStats }] = await Promise.all([this.ops(), import('./runtime/container-stats.js')]);
    const chosen = refs.length === 0 ? await this.list() : refs.map((r) => ops.observe(this.find(r)));
    for (const c of chosen) {
      if (!ops.isActive(c.observed)) throw new TsdockError('CONFLICT', `container ${c.record.name} is not running`);
    }
    return sampleStats(
      chosen.map((c) => ({ record: c.record, pid: c.observed.pid })),
      intervalMs,
    );
  }

  /**
   * Host pids of the processes of a running container (`top` shows them with `ps`).
   *
   * @example const pids = await runtime.top('web');
   */
  async top(ref: string): Promise<number[]> {
    const [ops, { containerPids }] = await Promise.all([this.ops(), import('./runtime/container-stats.js')]);
    const c = ops.observe(this.find(ref));
    if (!ops.isActive(c.observed)) throw new TsdockError('CONFLICT', `container ${c.record.name} is not running`);
    return containerPids(c.record);
  }

  /**
   * Removes every container that is not running (`docker container prune`), tsdock's default
   * parent cgroup once no container uses it, and what interrupted removals left behind; returns
   * the containers' ids.
   *
   * @example const removed = await runtime.prune();
   */
  async prune(): Promise<string[]> {
    const ops = await this.ops();
    const removed: string[] = [];
    for (const c of await this.list({ all: true })) {
      if (ops.isActive(c.observed)) continue;
      await ops.removeContainer(this.containersRoot(), c, false);
      removed.push(c.record.id);
    }
    await this.dropUnusedMappings();
    const [{ removeUnusedDefaultParent }, { sweepContainerLeftovers }] = await Promise.all([
      import('./runtime/cgroups/index.js'),
      import('./runtime/container-dir.js'),
    ]);
    removeUnusedDefaultParent();
    await withContainersLock(this.containersRoot(), () => {
      sweepContainerLeftovers(this.containersRoot());
    });
    return removed;
  }

  /**
   * Creates a volume (`docker volume create`, local driver), or returns the one of that name
   * (creating is idempotent, as Docker's); without a name, an anonymous one with a random name.
   *
   * @example const { Mountpoint } = await runtime.createVolume('data', { labels: { team: 'a' } });
   * @throws TsdockError `INVALID_ARGUMENT` for a name outside `[a-zA-Z0-9][a-zA-Z0-9_.-]+`.
   */
  async createVolume(name?: string, options: { labels?: Record<string, string> } = {}): Promise<VolumeInspect> {
    const store = await this.volumes();
    return store.locked('shared', async () =>
      name === undefined ? store.createAnonymous() : store.ensure(name, options.labels),
    );
  }

  /**
   * The volumes of this root, by name; `filters` as `docker volume ls --filter`.
   *
   * @example const unused = await runtime.listVolumes({ dangling: true });
   */
  async listVolumes(filters: VolumeFilters = {}): Promise<VolumeInspect[]> {
    return (await this.volumes()).list(filters);
  }

  /**
   * One volume as `docker volume inspect` shows it.
   *
   * @example const { Mountpoint } = await runtime.inspectVolume('data');
   * @throws TsdockError `VOLUME_NOT_FOUND`.
   */
  async inspectVolume(name: string): Promise<VolumeInspect> {
    return (await this.volumes()).inspect(name);
  }

  /**
   * Removes a volume and its data (`docker volume rm`). Refused while any container, running or
   * not, uses it; `force` only makes a missing volume no error.
   *
   * @example await runtime.removeVolume('data');
   * @throws TsdockError `CONFLICT` while in use, `VOLUME_NOT_FOUND`.
   */
  async removeVolume(name: string, options: { force?: boolean } = {}): Promise<void> {
    await (await this.volumes()).remove(name, options);
  }

  /**
   * Removes the volumes no container uses (`docker volume prune`, Docker 23+): anonymous ones
   * only, every one with `all`; `label` filters as `--filter label=`.
   *
   * @example const { volumes, spaceReclaimed } = await runtime.pruneVolumes({ all: true });
   */
  async pruneVolumes(options: { all?: boolean; label?: string[] } = {}): Promise<VolumePruneResult> {
    return (await this.volumes()).prune(options);
  }

  private async volumes(): Promise<VolumeStore> {
    const { VolumeStore } = await import('./runtime/volume-store.js');
    return new VolumeStore(this.containersRoot());
  }

  /**
   * Creates a bridge network (`docker network create`); its bridge is up at once.
   *
   * @example await runtime.createNetwork('appnet', { subnet: '10.91.0.0/24' });
   * @throws TsdockError `CONFLICT` when the name exists or the subnet overlaps a host route.
   */
  async createNetwork(name: string, options: CreateNetworkOptions = {}): Promise<NetworkRecord> {
    return (await this.networks()).create(name, options);
  }

  /**
   * The networks of this root (the default `bridge` once made) with their containers.
   *
   * @example const names = (await runtime.listNetworks()).map((n) => n.name);
   */
  async listNetworks(): Promise<NetworkSummary[]> {
    return (await this.networks()).list();
  }

  /**
   * One network by name or id, with its containers' addresses.
   *
   * @example const { subnet } = await runtime.inspectNetwork('appnet');
   * @throws TsdockError `NETWORK_NOT_FOUND`.
   */
  async inspectNetwork(ref: string): Promise<NetworkSummary> {
    return (await this.networks()).inspect(ref);
  }

  /**
   * Removes a network with no container attached; returns its name.
   *
   * @example await runtime.removeNetwork('appnet');
   * @throws TsdockError `CONFLICT` while containers are attached.
   */
  async removeNetwork(ref: string): Promise<string> {
    return (await this.networks()).remove(ref);
  }

  /**
   * Attaches a running container to one more network (its next interface, `eth1`…).
   *
   * @example await runtime.connectNetwork('appnet', 'web', { aliases: ['www'] });
   */
  async connectNetwork(
    network: string,
    container: string,
    options: { aliases?: string[]; ip?: string } = {},
  ): Promise<void> {
    const { record } = this.find(container);
    const { containerDirPaths } = await import('./runtime/container-dir.js');
    const paths = containerDirPaths(this.containersRoot(), record.id);
    const { readFileSync } = await import('node:fs');
    await (
      await this.networks()
    ).connect(
      {
        containerId: record.id,
        names: [record.name, readFileSync(paths.hostname, 'utf8').trim(), ...(options.aliases ?? [])],
        hostsFile: paths.hosts,
        extraHosts: (record.options.addHosts ?? []).map((h) => ({ ip: h.ip, names: [h.name] })),
        ip: options.ip,
      },
      network,
    );
  }

  /**
   * Detaches a container from a network (its interface there goes).
   *
   * @example await runtime.disconnectNetwork('appnet', 'web');
   */
  async disconnectNetwork(network: string, container: string): Promise<void> {
    await (await this.networks()).disconnect(this.find(container).record.id, network);
  }

  /**
   * Removes what stopped or crashed containers left on the host (pinned namespaces, their
   * veths, ports) and every network no container uses. Returns the removed networks' names.
   *
   * @example await runtime.pruneNetworks();
   */
  async pruneNetworks(): Promise<string[]> {
    const ops = await this.ops();
    const { listContainers } = await import('./runtime/container-store.js');
    const active = listContainers(this.containersRoot())
      .map((c) => ops.observe(c))
      .filter((c) => ops.isActive(c.observed))
      .map((c) => c.record.id);
    return (await this.networks()).prune(new Set(active));
  }

  /**
   * A container's address on its first network, or undefined (not running on one).
   *
   * @example const ip = await runtime.containerAddress('web'); // '172.17.0.2'
   */
  async containerAddress(ref: string): Promise<string | undefined> {
    return (await this.networks()).addressOf(this.find(ref).record.id);
  }

  /**
   * A container's interfaces on every network it is attached to.
   *
   * @example const [eth0] = await runtime.containerEndpoints('web');
   */
  async containerEndpoints(ref: string): Promise<(EndpointRecord & { networkName: string })[]> {
    return (await this.networks()).endpointsOf(this.find(ref).record.id);
  }

  /**
   * Creates a pod and starts the pause process that holds its namespaces; returns its record.
   * Containers join it with the `pod` option of {@link Runtime.create} and {@link Runtime.start}.
   *
   * @example
   * ```ts
   * await runtime.createPod({ name: 'web', network: 'bridge', publish: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }] });
   * await runtime.runDetached('busybox', { pod: 'web', command: ['httpd', '-f', '-p', '80'] });
   * ```
   * @throws TsdockError `CONFLICT` when the name is taken, `INVALID_ARGUMENT` for bad options.
   */
  async createPod(options: PodOptions = {}): Promise<PodRecord> {
    return (await this.pods()).create(options);
  }

  /**
   * Every pod of this root with its state and its containers, oldest first.
   *
   * @example const running = (await runtime.listPods()).filter((p) => p.status === 'running');
   */
  async listPods(): Promise<PodSummary[]> {
    return (await this.pods()).list();
  }

  /**
   * One pod, its state (its pause process's) and its containers.
   *
   * @example const { containers } = await runtime.inspectPod('web');
   * @throws TsdockError `POD_NOT_FOUND`.
   */
  async inspectPod(ref: string): Promise<PodSummary> {
    return (await this.pods()).inspect(ref);
  }

  /**
   * Starts a pod's pause process again (after `stopPod`, or when it died).
   *
   * @example await runtime.startPod('web');
   */
  async startPod(ref: string): Promise<void> {
    await (await this.pods()).start(ref);
  }

  /**
   * Stops a pod's containers, then its pause process; `timeout` as for {@link Runtime.stop}.
   *
   * @example await runtime.stopPod('web', { timeout: 5 });
   */
  async stopPod(ref: string, options: { timeout?: number } = {}): Promise<void> {
    await (await this.pods()).stop(ref, options.timeout);
  }

  /**
   * Removes a pod with its containers; running containers only with `force` (killed first).
   * Returns the pod's name.
   *
   * @example await runtime.removePod('web', { force: true });
   * @throws TsdockError `CONFLICT` when containers run and `force` is not set.
   */
  async removePod(ref: string, options: { force?: boolean } = {}): Promise<string> {
    return (await this.pods()).remove(ref, options.force ?? false);
  }

  private async pods(): Promise<Pods> {
    const { Pods } = await import('./runtime/pod.js');
    return new Pods(this.root);
  }

  /** A pod member's namespaces are its pod's: the pod runs before the member starts. */
  private async startPodOf(record: ContainerRecord): Promise<void> {
    const { pod } = record.options;
    if (pod !== undefined && record.infra !== true) await (await this.pods()).start(pod);
  }

  /** A container's options and namespace joins, resolved against its pod when it names one. */
  private async podMember(options: ContainerOptions): Promise<PodMember> {
    if (options.pod === undefined) return { options };
    const [pods, { memberOptions }] = await Promise.all([this.pods(), import('./runtime/pod.js')]);
    const pod = pods.find(options.pod);
    return memberOptions(pod, pods.pinsDir(pod), options);
  }

  private async networks(): Promise<Networks> {
    const { Networks } = await import('./network/networks.js');
    return new Networks(this.root);
  }

  private ops(): Promise<typeof import('./runtime/container-ops.js')> {
    return import('./runtime/container-ops.js');
  }

  private find(ref: string): StoredContainer {
    return findContainer(this.containersRoot(), ref);
  }

  private containersRoot(): string {
    return containersRootOf(this.root);
  }

  /**
   * Runs `create` with the container's whole request: a fresh id, its user namespace (a range of
   * its own for `--userns auto`, freed again when `create` fails), the image presented for it,
   * the caller's and its pod's options, and the image's health check under the caller's.
   */
  private async withRequest<T>(
    image: string,
    member: PodMember,
    options: CreateOptions,
    create: (request: CreateRequest) => Promise<T>,
  ): Promise<T> {
    const id = newContainerId();
    const idMappings = await userNamespaceFor(this.containersRoot(), id, member.options.userns);
    const anonymous: string[] = [];
    try {
      const { resolved, idmappedLayers } = await this.imageFor(image, idMappings);
      const request = (containerOptions: ContainerOptions): Promise<T> =>
        create({
          containersRoot: this.containersRoot(),
          id,
          image: { config: resolved.config, layerDirs: resolved.layerDirs, name: image, id: resolved.id },
          idMappings,
          idmappedLayers,
          ...member,
          options: containerOptions,
          name: options.name,
          autoRemove: options.autoRemove,
          log: options.log,
          init: options.init,
          restartPolicy: options.restartPolicy,
          stopSignal: options.stopSignal,
          stopTimeout: options.stopTimeout,
          healthcheck: resolveHealthcheck(resolved.config.Healthcheck, member.options.healthcheck),
        });
      const imageVolumes = Object.keys(resolved.config.Volumes ?? {});
      if ((member.options.volumes ?? []).length === 0 && imageVolumes.length === 0)
        return await request(member.options);
      const [store, tree, { mountVolumes }] = await Promise.all([
        this.volumes(),
        imageTree(resolved.layerDirs),
        import('./runtime/volume-mounts.js'),
      ]);
      // Shared until the record names its volumes: a volume rm or prune cannot take one meanwhile.
      return await store.locked('shared', async () => {
        const volumeRequest = { store, options: member.options, imageVolumes, tree, ids: idMappings, idmappedLayers };
        return request(await mountVolumes(volumeRequest, anonymous));
      });
    } catch (err) {
      await releaseUserNamespace(this.containersRoot(), id);
      if (anonymous.length > 0) await (await this.volumes()).removeUnused(anonymous);
      throw err;
    }
  }

  /**
   * The image for a container in user namespace `ids`: its own layers, to be idmapped, where
   * the host supports that; else layers unpacked once more with owners shifted into the range.
   */
  private async imageFor(
    ref: string,
    ids: UserNamespaceIds | undefined,
  ): Promise<{ resolved: ResolvedImage; idmappedLayers: boolean }> {
    if (ids === undefined) return { resolved: await this.resolveImage(ref, undefined), idmappedLayers: false };
    if (this.idmappedLayers) {
      const [{ idmappedLayersSupported }, { MAX_IDMAPPED_MOUNTS }] = await Promise.all([
        import('./runtime/idmap-support.js'),
        import('./runtime/plan-builder.js'),
      ]);
      const own = await this.resolveImage(ref, undefined);
      const first = own.layerDirs[0];
      const fits = first !== undefined && own.layerDirs.length <= MAX_IDMAPPED_MOUNTS;
      // Probed in the store's root, beside (not among) the layers an image GC may sweep.
      if (fits && (await idmappedLayersSupported(dirname(dirname(first))))) {
        return { resolved: own, idmappedLayers: true };
      }
    }
    const mapping: IdMapping = {
      uid: { hostID: ids.uid.hostID, size: ids.uid.size },
      gid: { hostID: ids.gid.hostID, size: ids.gid.size },
    };
    return { resolved: await this.resolveImage(ref, mapping), idmappedLayers: false };
  }

  /**
   * Removes the layer copies unpacked for `--userns auto` ranges that no container holds any
   * more (the shared `private` mapping stays: it is a cache every such container reuses).
   */
  private async dropUnusedMappings(): Promise<void> {
    const { allocatedUserNamespaces, PRIVATE_RANGE } = await import('./runtime/userns.js');
    const live = [
      ...(await allocatedUserNamespaces(this.containersRoot())),
      { uid: PRIVATE_RANGE, gid: PRIVATE_RANGE },
    ];
    await this.images.removeMappedLayers(
      live.map(({ uid, gid }) => ({
        uid: { hostID: uid.start, size: uid.count },
        gid: { hostID: gid.start, size: gid.count },
      })),
    );
  }

  /** `store.resolve`, remembered: a start should not re-read manifests that did not change. */
  private async resolveImage(ref: string, idMapping: IdMapping | undefined): Promise<ResolvedImage> {
    const key = `${ref}\0${idMapping === undefined ? '' : JSON.stringify(idMapping)}`;
    const generation = this.images.generation();
    const cached = this.resolved.get(key);
    if (cached?.generation === generation) return cached.image;
    const image = await this.images.resolve(ref, { idMapping });
    this.resolved.set(key, { generation, image });
    return image;
  }

  /**
   * Runs a container to completion and removes it (`docker run --rm`).
   *
   * @example const { exitCode } = await runtime.run('busybox', { command: ['true'] });
   */
  async run(image: string, options: RunOptions = {}): Promise<RunResult> {
    const container = await this.start(image, { ...options, autoRemove: true });
    const exit = await container.waitAndRemove();
    if (options.userns === 'auto') await this.dropUnusedMappings();
    return { id: container.id, ...exit };
  }

  /**
   * Where this runtime keeps a container's files (its record, log, upper dir).
   *
   * @example const dir = runtime.containerDir(id);
   */
  containerDir(id: string): string {
    return join(containersRootOf(this.root), id);
  }
}
