/**
 * Storing a layer a build step produced: its members are written once as an uncompressed tar
 * into the store's `ingest/` (hashing on the way: for an uncompressed layer the blob digest is
 * the diff_id), the file is fsynced and renamed into `blobs/`, and the layer is unpacked from
 * it into `layers/<chain-id>/` through the same verified path a pull uses. From then on it is
 * just another layer. Uncompressed because the store is the build's working set: no CPU is
 * spent on gzip for layers that may never leave the machine (Docker's own store does the same);
 * a push sends them as they are, a valid OCI `tar` layer.
 * The caller holds the store's shared lock (see `TransferStore.shared`).
 */
import { createReadStream } from 'node:fs';
import { open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Digester, sha256Digest, type Digest } from '../image/digest.js';
import { tempName, writeAll } from '../image/fs-util.js';
import { MEDIA_TYPE, type Descriptor } from '../image/oci.js';
import type { TransferStore } from '../image/registry/transfer-store.js';
import { writeTar, type TarWriterEntry } from '../image/tar-writer.js';
import { unpackLayer } from '../image/unpack.js';

export interface CommittedLayer {
  descriptor: Descriptor;
  diffId: Digest;
  chainId: Digest;
}

/** The chain ID of a layer on top of `parent` (OCI: sha256 of "parent diffId"). */
export function nextChainId(parent: Digest | undefined, diffId: Digest): Digest {
  return parent === undefined ? diffId : sha256Digest(`${parent} ${diffId}`);
}

/**
 * Writes `entries` as a layer over the chain `parent` and stores it (blob and unpacked
 * directory). `where` names the step in errors.
 */
export async function commitLayer(
  store: TransferStore,
  parent: Digest | undefined,
  entries: AsyncIterable<TarWriterEntry>,
  where: string,
): Promise<CommittedLayer> {
  const temp = join(store.root, 'ingest', tempName('build-layer-'));
  try {
    const digester = new Digester();
    const handle = await open(temp, 'wx', 0o644);
    try {
      for await (const chunk of writeTar(entries)) {
        digester.update(chunk);
        await writeAll(handle, chunk);
      }
      await handle.sync();
    } finally {
      await handle.close();
    }
    const diffId = digester.digest();
    const chainId = nextChainId(parent, diffId);
    if (await store.hasBlob(diffId)) await rm(temp, { force: true });
    else await store.publishBlob(temp, diffId);
    if (!(await store.hasLayer(chainId))) {
      await store.unpackLayer(
        chainId,
        async (dir) => {
          await unpackLayer(createReadStream(store.blobPath(diffId)), dir, { expectedDiffId: diffId });
        },
        where,
        () => Promise.resolve(),
      );
    }
    return { descriptor: { mediaType: MEDIA_TYPE.ociLayer, digest: diffId, size: digester.size }, diffId, chainId };
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
}
