/**
 * tsdock as a library.
 *
 * @example
 * ```ts
 * import { Runtime } from 'tsdock';
 * const runtime = await Runtime.open({ root: '/var/lib/tsdock' });
 * await runtime.loadImage('busybox-oci.tar');
 * const { exitCode } = await runtime.run('busybox', { command: ['echo', 'hi'] });
 * ```
 */
import { join } from 'node:path';
import { TsdockError } from './errors.js';
import type { IdMapping } from './image/id-mapping.js';
import type { ImageStore, ImageSummary, ResolvedImage } from './image/store.js';
import { containersRootOf, DEFAULT_ID_MAPPING, startContainer, type StartedContainer } from './runtime/container.js';
import type { ContainerOptions } from './runtime/options.js';
import type { ExitStatus, StdioMode } from './runtime/spawn.js';
import type { Credentials } from './image/registry/auth.js';
import type { RegistryOptions } from './image/registry/client.js';
import type { PullOptions, PullResult } from './image/registry/pull.js';
import type { PushOptions, PushResult } from './image/registry/push.js';

export { TsdockError, StartError, exitStatusOf, type ErrorCode } from './errors.js';
export type { ContainerOptions, BindMount, TmpfsMount } from './runtime/options.js';
export type { ExitStatus, StdioMode } from './runtime/spawn.js';
export type { CgroupLimits } from './runtime/cgroups/index.js';
export type { ImageSummary } from './image/store.js';
export type { Credentials } from './image/registry/auth.js';
export type { RegistryOptions } from './image/registry/client.js';
export type { PullOptions, PullResult } from './image/registry/pull.js';
export type { PushOptions, PushResult } from './image/registry/push.js';
export type { ProgressEvent, ProgressListener, LayerStatus } from './image/registry/progress.js';

export const DEFAULT_ROOT = '/var/lib/tsdock';

/** When `run` pulls its image: Docker's `--pull missing|always|never`. */
export type PullPolicy = 'missing' | 'always' | 'never';

export interface RuntimeOptions {
  /** The store's root directory; default `TSDOCK_ROOT` or `/var/lib/tsdock`. */
  root?: string;
}

export interface RunOptions extends ContainerOptions {
  /** Default: stdin ignored, stdout/stderr inherited from this process. */
  stdio?: StdioMode;
}

export interface RunResult extends ExitStatus {
  id: string;
}

/** One tsdock store and the containers started from it. */
export class Runtime {
  readonly root: string;
  private readonly images: ImageStore;
  /** Resolved images by reference and mapping, valid while the store's generation holds. */
  private readonly resolved = new Map<string, { generation: string; image: ResolvedImage }>();

  private constructor(root: string, images: ImageStore) {
    this.root = root;
    this.images = images;
  }

  static async open(options: RuntimeOptions = {}): Promise<Runtime> {
    const root = options.root ?? process.env.TSDOCK_ROOT ?? DEFAULT_ROOT;
    const { openImageStore } = await import('./image/store.js');
    return new Runtime(root, await openImageStore(root));
  }

  /** Loads an OCI archive or a `docker save` archive; returns the names of the loaded images. */
  async loadImage(file: string): Promise<string[]> {
    const { loadArchive } = await import('./image/load.js');
    return loadArchive(this.images, file);
  }

  listImages(): Promise<ImageSummary[]> {
    return this.images.list();
  }

  /** Removes an image by name or id; returns what was untagged and deleted. */
  removeImage(ref: string, options: { force?: boolean } = {}): Promise<string[]> {
    return this.images.remove(ref, options);
  }

  /**
   * Pulls an image from its registry into the store (verified, resumable, layers unpacked in
   * parallel); `options.onProgress` receives typed progress events.
   *
   * @example await runtime.pullImage('127.0.0.1:5000/team/app:1.2', { platform: { os: 'linux', architecture: 'arm64' } });
   */
  async pullImage(ref: string, options: PullOptions = {}): Promise<PullResult> {
    const [{ pullImage }, { TransferStore }] = await Promise.all([
      import('./image/registry/pull.js'),
      import('./image/registry/transfer-store.js'),
    ]);
    return pullImage(new TransferStore(this.images.root), ref, options);
  }

  /**
   * Makes sure `image` is in the store before a run, by Docker's `--pull` policy: `missing`
   * pulls it only when absent, `always` pulls it anyway (fetching only what changed), `never`
   * leaves a missing image to fail the run. Returns whether it pulled.
   */
  async ensureImage(image: string, policy: PullPolicy, options: PullOptions = {}): Promise<boolean> {
    if (policy === 'never') return false;
    if (policy === 'missing') {
      try {
        await this.images.resolve(image);
        return false;
      } catch (err) {
        if (!(err instanceof TsdockError) || err.code !== 'IMAGE_NOT_FOUND') throw err;
      }
    }
    await this.pullImage(image, options);
    return true;
  }

  /** Pushes a stored image to the registry its name names (`tagImage` it there first). */
  async pushImage(ref: string, options: PushOptions = {}): Promise<PushResult> {
    const [{ pushImage }, { TransferStore }] = await Promise.all([
      import('./image/registry/push.js'),
      import('./image/registry/transfer-store.js'),
    ]);
    return pushImage(new TransferStore(this.images.root), ref, options);
  }

  /** Names the image `source` (a name or ID) also `target` (`docker tag`). */
  tagImage(source: string, target: string): Promise<void> {
    return this.images.tag(source, target);
  }

  /**
   * Checks credentials against a registry (`127.0.0.1:5000`; Docker Hub when empty) and stores
   * them in Docker's `config.json`. Returns the registry's domain.
   *
   * @throws TsdockError `UNAUTHORIZED` when the registry refuses them.
   */
  async login(server: string | undefined, credentials: Credentials, options: RegistryOptions = {}): Promise<string> {
    const { login, registryDomain } = await import('./image/registry/login.js');
    const domain = registryDomain(server);
    await login(domain, credentials, options);
    return domain;
  }

  /** Forgets the stored credentials of a registry; returns its domain and whether there were any. */
  async logout(
    server: string | undefined,
    options: { configDir?: string } = {},
  ): Promise<{ domain: string; removed: boolean }> {
    const { logout, registryDomain } = await import('./image/registry/login.js');
    const domain = registryDomain(server);
    return { domain, removed: await logout(domain, options.configDir) };
  }

  /**
   * Starts a container from `image` and resolves once its command runs. The caller waits for
   * the exit with `waitAndRemove()`; a failed start rejects with a {@link TsdockError}.
   */
  async start(image: string, options: RunOptions = {}): Promise<StartedContainer> {
    const idMapping =
      options.userns === 'private'
        ? {
            uid: { hostID: DEFAULT_ID_MAPPING.hostID, size: DEFAULT_ID_MAPPING.size },
            gid: { hostID: DEFAULT_ID_MAPPING.hostID, size: DEFAULT_ID_MAPPING.size },
          }
        : undefined;
    const resolved = await this.resolveImage(image, idMapping);
    return startContainer({
      containersRoot: containersRootOf(this.root),
      image: { config: resolved.config, layerDirs: resolved.layerDirs },
      options,
      stdio: options.stdio ?? { stdin: 'ignore', output: 'inherit' },
    });
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

  /** Runs a container to completion and removes it (`docker run --rm`). */
  async run(image: string, options: RunOptions = {}): Promise<RunResult> {
    const container = await this.start(image, options);
    return { id: container.id, ...(await container.waitAndRemove()) };
  }

  /** Where this runtime keeps a container's files. */
  containerDir(id: string): string {
    return join(containersRootOf(this.root), id);
  }
}
