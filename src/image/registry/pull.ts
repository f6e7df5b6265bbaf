/**
 * `tsdock pull`: reference -> manifest (through an index, for the wanted platform) -> config ->
 * layers, each downloaded and unpacked at the same time (the bytes stream to disk and into the
 * unpacker together), several layers at once, then the image named in one step.
 *
 * What makes it safe: a layer directory is renamed into place only after both its diff_id and
 * its compressed blob's digest checked out; the blob is renamed into `blobs/` only once verified;
 * the image is named last, under the exclusive lock, after re-checking that all it needs is there.
 */
import { TsdockError } from '../../errors.js';
import { chainIds, sha256Digest, type Digest } from '../digest.js';
import {
  hostPlatform,
  isIndexMediaType,
  parseImageConfigFile,
  parseIndex,
  parseManifest,
  type Descriptor,
  type ImageConfigFile,
  type ImageManifest,
  type Platform,
} from '../oci.js';
import { formatReference, parseReference, repositoryName, type ImageReference } from '../reference.js';
import { readLimited, repositoryScope } from './auth.js';
import { downloadBlob, type BlobSink } from './blob-download.js';
import { Channel } from './channel.js';
import { RegistryClient, type RegistryOptions } from './client.js';
import { fetchManifest, formatPlatform, selectPlatform } from './manifest.js';
import type { ProgressListener } from './progress.js';
import { guardStore, type TransferStore } from './transfer-store.js';
import { WorkerUnpacker } from './worker-unpacker.js';
import type { LayerLimits } from '../layer-limits.js';
import { unpackLayer } from '../unpack.js';

/** Configs larger than this are refused rather than read into memory. */
const MAX_CONFIG = 16 * 1024 * 1024;

export interface PullOptions extends RegistryOptions {
  /** The platform to pick from a multi-platform index (default: this host's). */
  platform?: Platform | undefined;
  /** Layers downloaded and unpacked at once (default 3, as Docker). */
  concurrency?: number | undefined;
  signal?: AbortSignal | undefined;
  onProgress?: ProgressListener | undefined;
}

export interface PullResult {
  /** The image ID (config digest). */
  id: Digest;
  /** The canonical name it was stored under (`docker.io/library/busybox:latest`). */
  name: string;
  /** The digest the reference resolved to (the index's, for a multi-platform image). */
  digest: Digest;
}

/** What a pull resolved a reference to, before any layer is fetched. */
interface PullPlan {
  ref: ImageReference;
  resolved: Digest;
  manifestBytes: Buffer;
  manifest: ImageManifest;
  configBytes: Buffer;
  config: ImageConfigFile;
  chains: Digest[];
}

/**
 * Pulls `reference` into the store.
 *
 * @throws TsdockError `INVALID_ARGUMENT` (bad reference or platform), `IMAGE_NOT_FOUND`,
 *   `UNAUTHORIZED`, `REGISTRY`, `INVALID_IMAGE` (content that fails verification: nothing of it
 *   becomes visible in the store).
 * @example
 * const { id } = await pullImage(store, '127.0.0.1:5000/team/app:1.2', { concurrency: 4 });
 */
export async function pullImage(
  store: TransferStore,
  reference: string,
  options: PullOptions = {},
): Promise<PullResult> {
  const ref = parseReference(reference);
  const platform = options.platform ?? hostPlatform();
  const client = await RegistryClient.connect(ref.domain, options);
  try {
    return await guardStore(store.root, () => pullWith(store, client, ref, platform, options));
  } finally {
    await client.close();
  }
}

async function pullWith(
  store: TransferStore,
  client: RegistryClient,
  ref: ImageReference,
  platform: Platform,
  options: PullOptions,
): Promise<PullResult> {
  await store.init();
  const plan = await resolve(client, ref, platform, options);
  // Two tries: the second only if a garbage collection removed something between our locks.
  for (let attempt = 1; ; attempt++) {
    await store.shared(() => fetchLayers(store, client, plan, options));
    // By tag: `repo:tag` (a digest beside it was only a check). By digest alone: `repo@digest`,
    // which finds the image again by that digest when it named the manifest itself.
    const name = formatReference(plan.ref.tag === undefined ? plan.ref : { ...plan.ref, digest: undefined });
    const names = [name];
    const created = plan.config.created ?? new Date().toISOString();
    const needs = { blobs: plan.manifest.layers.map((l) => l.digest), chains: plan.chains };
    if (await store.commit(plan.manifestBytes, plan.configBytes, needs, names, created)) {
      const id = plan.manifest.config.digest;
      options.onProgress?.({ type: 'done', reference: formatReference(ref), id, digest: plan.resolved });
      return { id, name, digest: plan.resolved };
    }
    if (attempt >= 2) throw new TsdockError('STORE', `${store.root}: layers of ${name} keep disappearing`);
  }
}

async function resolve(
  client: RegistryClient,
  ref: ImageReference,
  platform: Platform,
  options: PullOptions,
): Promise<PullPlan> {
  const repository = ref.path;
  const scopes = [repositoryScope(repository)];
  const what = formatReference(ref);
  const top = await fetchManifest(client, repository, ref.digest ?? ref.tag ?? 'latest', scopes, options.signal);
  options.onProgress?.({ type: 'resolved', reference: what, digest: top.digest });
  let fetched = top;
  if (isIndexMediaType(top.mediaType)) {
    const index = parseIndex(top.bytes, `${what}: index`);
    const entry = selectPlatform(index, platform, what);
    fetched = await fetchManifest(client, repository, entry.digest, scopes, options.signal);
    if (isIndexMediaType(fetched.mediaType)) {
      throw new TsdockError('INVALID_IMAGE', `${what}: index entry ${entry.digest} is an index, not a manifest`);
    }
  }
  const manifest = parseManifest(fetched.bytes, `${what}: manifest ${fetched.digest}`);
  const configBytes = await fetchSmallBlob(client, repository, manifest.config, scopes, options.signal);
  const config = parseImageConfigFile(configBytes, `${what}: config ${manifest.config.digest}`);
  if (config.os !== platform.os || config.architecture !== platform.architecture) {
    const actual = formatPlatform({ os: config.os, architecture: config.architecture });
    // An image that is one platform only, and not the one asked for: say so rather than run it.
    throw new TsdockError(
      'IMAGE_NOT_FOUND',
      `${what}: the image is for ${actual}, not ${formatPlatform(platform)} (use --platform ${actual} to pull it anyway)`,
    );
  }
  if (config.rootfs.diff_ids.length !== manifest.layers.length) {
    throw new TsdockError(
      'INVALID_IMAGE',
      `${what}: manifest lists ${manifest.layers.length} layers, its config ${config.rootfs.diff_ids.length} diff_ids`,
    );
  }
  return {
    ref,
    resolved: top.digest,
    manifestBytes: fetched.bytes,
    manifest,
    configBytes,
    config,
    chains: chainIds(config.rootfs.diff_ids),
  };
}

/** Fetches and verifies a config blob (small, held in memory). */
async function fetchSmallBlob(
  client: RegistryClient,
  repository: string,
  desc: Descriptor,
  scopes: string[],
  signal: AbortSignal | undefined,
): Promise<Buffer> {
  const what = `${client.domain}/${repository}@${desc.digest}`;
  if (desc.size > MAX_CONFIG)
    throw new TsdockError('INVALID_IMAGE', `${what}: config of ${desc.size} bytes is too large`);
  const res = await client.request({ method: 'GET', path: `/v2/${repository}/blobs/${desc.digest}`, scopes, signal });
  if (res.status !== 200) throw await client.failure(res, what);
  const bytes = Buffer.from(await readLimited(res.body, MAX_CONFIG), 'utf8');
  const actual = sha256Digest(bytes);
  if (bytes.length !== desc.size || actual !== desc.digest) {
    throw new TsdockError('INVALID_IMAGE', `${what}: digest mismatch: the registry sent content with digest ${actual}`);
  }
  return bytes;
}

/** Downloads and unpacks every layer not yet in the store, `concurrency` at a time. */
async function fetchLayers(
  store: TransferStore,
  client: RegistryClient,
  plan: PullPlan,
  options: PullOptions,
): Promise<void> {
  const layers = plan.manifest.layers;
  const emit = options.onProgress;
  for (const layer of layers) emit?.({ type: 'layer', digest: layer.digest, status: 'waiting' });
  // A failing layer stops the others: no point fetching the rest of an image that cannot be stored.
  const abort = new AbortController();
  const signal = options.signal === undefined ? abort.signal : AbortSignal.any([options.signal, abort.signal]);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < layers.length; i = next++) {
      try {
        await fetchLayer(store, client, plan, i, { ...options, signal });
      } catch (err) {
        abort.abort(err);
        throw err;
      }
    }
  };
  const concurrency = Math.max(1, Math.min(options.concurrency ?? 3, layers.length));
  const results = await Promise.allSettled(Array.from({ length: concurrency }, worker));
  // Report the first real failure, not the cancellations it caused.
  const failures = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
  const first =
    failures.find((e) => !(e instanceof TsdockError && e.message.endsWith('operation cancelled'))) ?? failures[0];
  if (first !== undefined) throw first as Error;
}

async function fetchLayer(
  store: TransferStore,
  client: RegistryClient,
  plan: PullPlan,
  i: number,
  options: PullOptions & { signal: AbortSignal },
): Promise<void> {
  const layer = plan.manifest.layers[i];
  const chain = plan.chains[i];
  const diffId = plan.config.rootfs.diff_ids[i];
  if (layer === undefined || chain === undefined || diffId === undefined) return;
  const emit = options.onProgress;
  const status = (s: 'exists' | 'verifying' | 'extracting' | 'complete'): void =>
    emit?.({ type: 'layer', digest: layer.digest, status: s });
  const where = `${repositoryName(plan.ref)}: layer ${i + 1} (${layer.digest})`;

  await store.withBlobLock(layer.digest, async (partial, partialPath) => {
    const haveLayer = await store.hasLayer(chain);
    if (await store.hasBlob(layer.digest)) {
      await store.discardDownload(partialPath);
      if (haveLayer) {
        status('exists');
        return;
      }
      status('extracting');
      const unpack = (dir: string): Promise<void> =>
        unpackFed(dir, diffId, store.layerLimits, (sink) => void pump(store.readBlob(layer.digest), sink));
      await store.unpackLayer(chain, unpack, where, () => Promise.resolve());
      status('complete');
      return;
    }
    let download: Promise<void> | undefined;
    const startDownload = (sink: BlobSink | undefined): Promise<void> => {
      download = downloadBlob({
        client,
        repository: plan.ref.path,
        scopes: [repositoryScope(plan.ref.path)],
        desc: layer,
        partial,
        sink,
        signal: options.signal,
        onProgress: (current, total, resumed) =>
          emit?.({ type: 'layer', digest: layer.digest, status: resumed ? 'resuming' : 'downloading', current, total }),
      });
      // Settle the download's own promise whatever happens, so its rejection is never unhandled.
      download.catch(() => undefined);
      return download;
    };
    if (haveLayer) {
      await startDownload(undefined);
      await store.publishBlob(partialPath, layer.digest);
      status('complete');
      return;
    }
    try {
      const unpack = (dir: string): Promise<void> =>
        unpackFed(dir, diffId, store.layerLimits, (sink) => void startDownload(sink));
      await store.unpackLayer(chain, unpack, where, async () => {
        await download;
        status('verifying');
        await store.publishBlob(partialPath, layer.digest);
      });
    } catch (err) {
      // A failed download makes the unpack fail too, and is the cause to report. A layer that
      // does not unpack may be one the registry garbled: let its download finish (without the
      // unpacker) and report the digest mismatch when there is one.
      const downloadError: unknown = await download?.then(
        () => undefined,
        (e: unknown) => e,
      );
      throw (downloadError ?? err) as Error;
    }
    status('complete');
  });
}

/**
 * Unpacks into `dir` the bytes that `feed` sends to the sink it is handed: on a worker thread
 * when the worker script is built (so that layers unpack on several cores), else on this one.
 */
async function unpackFed(
  dir: string,
  diffId: Digest,
  limits: LayerLimits,
  feed: (sink: BlobSink) => void,
): Promise<void> {
  const worker = WorkerUnpacker.create(dir, diffId, limits);
  if (worker !== undefined) {
    feed(worker);
    await worker.done;
    return;
  }
  const channel = new Channel();
  feed(channel);
  await unpackLayer(channel, dir, { expectedDiffId: diffId, limits });
}

/** Sends a stored blob to a sink. */
async function pump(source: AsyncIterable<Buffer>, sink: BlobSink): Promise<void> {
  try {
    for await (const chunk of source) await sink.push(chunk);
    sink.end();
  } catch (err) {
    sink.fail(err);
  }
}
