/**
 * `tsdock push`: the image's blobs exactly as the store holds them (so the pushed manifest's
 * digest is the stored one, and the image pulls back bit-identical), then its manifest, last —
 * a registry must never see a manifest whose blobs it lacks. Each blob is skipped when the
 * registry has it (`HEAD`), mounted from another repository of the same registry that has it
 * (cross-repo mount, no bytes sent), or uploaded in one `PUT` or in `PATCH` chunks.
 */
import { createReadStream } from 'node:fs';
import { Transform, type Readable } from 'node:stream';
import { TsdockError } from '../../errors.js';
import { sha256Digest, type Digest } from '../digest.js';
import { MEDIA_TYPE, parseManifest, type Descriptor } from '../oci.js';
import { parseReference, formatReference, type ImageReference } from '../reference.js';
import { repositoryScope } from './auth.js';
import { RegistryClient, type RegistryOptions } from './client.js';
import type { ProgressListener } from './progress.js';
import { guardStore, type TransferStore } from './transfer-store.js';

export interface PushOptions extends RegistryOptions {
  /** Upload blobs larger than this in `PATCH` chunks of this size; default: one `PUT` each. */
  chunkSize?: number | undefined;
  /** Blobs uploaded at once (default 3). */
  concurrency?: number | undefined;
  signal?: AbortSignal | undefined;
  onProgress?: ProgressListener | undefined;
}

export interface PushResult {
  /** The manifest digest, as the registry now serves it. */
  digest: Digest;
  /** The manifest's size in bytes. */
  size: number;
}

interface PushContext {
  client: RegistryClient;
  ref: ImageReference;
  store: TransferStore;
  /** Other repositories of the same registry the image is known by: mount sources. */
  mountFrom: string[];
  options: PushOptions;
}

/**
 * Pushes the stored image `reference` names to the registry and repository it names.
 *
 * @throws TsdockError `IMAGE_NOT_FOUND` (no such image in the store), `INVALID_ARGUMENT` (a
 *   reference with a digest), `UNAUTHORIZED`, `REGISTRY`.
 * @example await pushImage(store, '127.0.0.1:5000/me/busybox:v1');
 */
export async function pushImage(
  store: TransferStore,
  reference: string,
  options: PushOptions = {},
): Promise<PushResult> {
  const ref = parseReference(reference);
  if (ref.digest !== undefined) throw new TsdockError('INVALID_ARGUMENT', `cannot push to a digest: ${reference}`);
  // Under the shared lock: no garbage collection may remove a blob while it is being sent.
  return guardStore(store.root, () => store.shared(() => pushStored(store, ref, reference, options)));
}

async function pushStored(
  store: TransferStore,
  ref: ImageReference,
  reference: string,
  options: PushOptions,
): Promise<PushResult> {
  const image = await store.readImage(reference);
  const manifest = parseManifest(image.manifest, `${store.root}: manifest ${image.manifestDigest}`);
  const mountFrom = [
    ...new Set(
      image.names
        .map((n) => parseReference(n))
        .filter((r) => r.domain === ref.domain && r.path !== ref.path)
        .map((r) => r.path),
    ),
  ];
  const client = await RegistryClient.connect(ref.domain, options);
  try {
    const ctx: PushContext = { client, ref, store, mountFrom, options };
    const blobs = [manifest.config, ...manifest.layers];
    let next = 0;
    const worker = async (): Promise<void> => {
      for (let i = next++; i < blobs.length; i = next++) {
        const blob = blobs[i];
        if (blob !== undefined) await pushBlob(ctx, blob);
      }
    };
    const concurrency = Math.max(1, Math.min(options.concurrency ?? 3, blobs.length));
    await Promise.all(Array.from({ length: concurrency }, worker));

    const what = formatReference(ref);
    const res = await client.request({
      method: 'PUT',
      path: `/v2/${ref.path}/manifests/${ref.tag ?? 'latest'}`,
      scopes: [repositoryScope(ref.path, true)],
      headers: { 'content-type': manifest.mediaType ?? MEDIA_TYPE.ociManifest },
      body: image.manifest,
      signal: options.signal,
    });
    if (res.status !== 201 && res.status !== 200) throw await client.failure(res, `${what}: manifest`);
    await res.body.dump();
    const digest = sha256Digest(image.manifest);
    const served = res.headers['docker-content-digest'];
    if (served !== undefined && served !== digest) {
      throw new TsdockError('REGISTRY', `${what}: the registry stored the manifest as ${served}, not ${digest}`);
    }
    options.onProgress?.({ type: 'done', reference: what, id: image.id, digest });
    return { digest, size: image.manifest.length };
  } finally {
    await client.close();
  }
}

async function pushBlob(ctx: PushContext, desc: Descriptor): Promise<void> {
  const { client, ref, options } = ctx;
  const emit = (status: 'exists' | 'mounted' | 'pushing' | 'pushed', current?: number): void =>
    options.onProgress?.({ type: 'layer', digest: desc.digest, status, current, total: desc.size });
  const push = [repositoryScope(ref.path, true)];
  const what = `${ref.domain}/${ref.path}@${desc.digest}`;

  const head = await client.request({
    method: 'HEAD',
    path: `/v2/${ref.path}/blobs/${desc.digest}`,
    scopes: push,
    signal: options.signal,
  });
  await head.body.dump();
  if (head.status === 200) {
    emit('exists');
    return;
  }
  if (head.status !== 404) throw await client.failure(head, what);

  let location: string | undefined;
  for (const from of ctx.mountFrom) {
    const res = await client.request({
      method: 'POST',
      path: `/v2/${ref.path}/blobs/uploads/?mount=${desc.digest}&from=${from}`,
      scopes: [...push, repositoryScope(from)],
      signal: options.signal,
      retry: false,
    });
    await res.body.dump();
    if (res.status === 201) {
      emit('mounted');
      return;
    }
    // 202: the registry could not mount, but opened an upload session we may use.
    if (res.status === 202) {
      location = res.headers.location;
      break;
    }
  }
  if (location === undefined) {
    const res = await client.request({
      method: 'POST',
      path: `/v2/${ref.path}/blobs/uploads/`,
      scopes: push,
      signal: options.signal,
      retry: false,
    });
    if (res.status !== 202) throw await client.failure(res, `${what}: starting upload`);
    await res.body.dump();
    location = res.headers.location;
  }
  if (location === undefined) throw new TsdockError('REGISTRY', `${what}: upload session without a Location`);

  const path = ctx.store.blobPath(desc.digest);
  let sent = 0;
  const body = (start: number, end: number) => (): Readable =>
    createReadStream(path, { start, end, highWaterMark: 1024 * 1024 }).pipe(
      new Transform({
        transform(chunk: Buffer, _encoding, done): void {
          sent += chunk.length;
          emit('pushing', sent);
          done(null, chunk);
        },
      }),
    );
  const chunkSize = options.chunkSize ?? 0;
  const chunked = chunkSize > 0 && desc.size > chunkSize;
  if (chunked) {
    for (let start = 0; start < desc.size; start += chunkSize) {
      const end = Math.min(start + chunkSize, desc.size) - 1;
      const res = await client.request({
        method: 'PATCH',
        path: new URL(location, client.origin).toString(),
        scopes: push,
        headers: {
          'content-type': 'application/octet-stream',
          'content-length': String(end - start + 1),
          'content-range': `${start}-${end}`,
        },
        body: body(start, end),
        signal: options.signal,
        retry: false,
      });
      await res.body.dump();
      if (res.status !== 202) throw await client.failure(res, `${what}: uploading bytes ${start}-${end}`);
      location = res.headers.location ?? location;
    }
  }
  const url = new URL(location, client.origin);
  url.searchParams.set('digest', desc.digest);
  const monolithic = !chunked && desc.size > 0;
  const res = await client.request({
    method: 'PUT',
    path: url.toString(),
    scopes: push,
    headers: {
      'content-type': 'application/octet-stream',
      'content-length': String(monolithic ? desc.size : 0),
    },
    ...(monolithic ? { body: body(0, desc.size - 1) } : {}),
    signal: options.signal,
    retry: false,
  });
  if (res.status !== 201) throw await client.failure(res, `${what}: finishing upload`);
  await res.body.dump();
  emit('pushed', desc.size);
}
