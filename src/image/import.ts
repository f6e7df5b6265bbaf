/**
 * Importing images into the store, whatever they came from (an OCI layout, an OCI archive, a
 * `docker save` archive): verify every blob against its descriptor, store the blobs, unpack the
 * layers (verifying each diff_id), then name the images — all or nothing: on any failure, what
 * this import added is removed again, and the names are written only at the very end.
 * The caller holds the store's exclusive lock.
 */
import { TsdockError } from '../errors.js';
import { readVerified, type BlobStore } from './blob-store.js';
import { chainIds, sha256Digest, type Digest } from './digest.js';
import { addImage, type ImagesFile } from './image-index.js';
import type { LayerStore } from './layer-store.js';
import { parseImageConfigFile, parseManifest } from './oci.js';

/** Manifests and configs larger than this are refused rather than read into memory. */
export const MAX_JSON_BLOB = 16 * 1024 * 1024;

/** Where an import's blobs come from. */
export interface BlobSource {
  /** The file holding the blob `digest`; `undefined` when the source lacks it. */
  path(digest: Digest): string | undefined;
  /** Move the files into the store instead of copying them (they are in the store's scratch space). */
  move: boolean;
}

/** One image to import: its manifest (checked against its descriptor, or generated) and names. */
export interface ImageCandidate {
  manifest: Buffer;
  /** Canonical names (`docker.io/library/busybox:latest`); may be empty. */
  names: string[];
}

/** Applies a name given on load (`--name`): it can tag an archive only if it holds one image. */
export function nameTheOnlyImage(images: ImageCandidate[], givenName: string | undefined, where: string): void {
  if (givenName === undefined) return;
  const [only] = images;
  if (only === undefined || images.length > 1) {
    throw new TsdockError('INVALID_ARGUMENT', `${where}: holds ${images.length} images; one name cannot tag them all`);
  }
  only.names = [givenName];
}

/** What to import, as worked out from a layout or an archive. */
export interface ImportPlan {
  source: BlobSource;
  images: ImageCandidate[];
}

/** An image now in the store. */
export interface ImportedImage {
  /** The image ID (config digest). */
  id: Digest;
  /** Canonical names. */
  names: string[];
}

/** The parts of the store an import writes to. */
export interface StoreParts {
  blobs: BlobStore;
  layers: LayerStore;
  readImages(): Promise<ImagesFile>;
  writeImages(file: ImagesFile): Promise<void>;
}

/**
 * Imports every image of `plan`; `where` (a file or directory) prefixes error messages.
 *
 * @throws TsdockError `INVALID_IMAGE` naming `where` and what is wrong; the store is then as before.
 */
export async function importImages(store: StoreParts, plan: ImportPlan, where: string): Promise<ImportedImage[]> {
  const newBlobs: Digest[] = [];
  const newLayers: Digest[] = [];
  const imported: (ImportedImage & { manifest: Digest; created: string })[] = [];
  const ingest = async (digest: Digest, size: number, what: string): Promise<void> => {
    const file = plan.source.path(digest);
    if (await store.blobs.has(digest)) return;
    if (file === undefined) throw new TsdockError('INVALID_IMAGE', `${where}: ${what} ${digest} is missing`);
    if (await store.blobs.ingestFile(file, { digest, size }, `${where}: ${what}`, plan.source.move))
      newBlobs.push(digest);
  };
  const keep = async (data: Buffer): Promise<void> => {
    const { digest, created } = await store.blobs.ingestBytes(data);
    if (created) newBlobs.push(digest);
  };

  try {
    for (const candidate of plan.images) {
      const manifestDigest = sha256Digest(candidate.manifest);
      const manifest = parseManifest(candidate.manifest, `${where}: manifest ${manifestDigest}`);
      const configWhere = `${where}: config ${manifest.config.digest}`;
      const configBytes = await readVerified(
        plan.source.path(manifest.config.digest) ?? store.blobs.path(manifest.config.digest),
        manifest.config,
        configWhere,
        MAX_JSON_BLOB,
      );
      const config = parseImageConfigFile(configBytes, configWhere);
      const diffIds = config.rootfs.diff_ids;
      if (config.os !== 'linux')
        throw new TsdockError('INVALID_IMAGE', `${configWhere}: an image for ${config.os}, not linux`);
      if (diffIds.length !== manifest.layers.length) {
        throw new TsdockError(
          'INVALID_IMAGE',
          `${where}: manifest ${manifestDigest} lists ${manifest.layers.length} layers, its config ${diffIds.length} diff_ids`,
        );
      }

      for (const [i, layer] of manifest.layers.entries()) await ingest(layer.digest, layer.size, `layer ${i + 1}`);
      await keep(configBytes);
      await keep(candidate.manifest);

      for (const [i, chainId] of chainIds(diffIds).entries()) {
        const layer = manifest.layers[i];
        const diffId = diffIds[i];
        if (layer === undefined || diffId === undefined || (await store.layers.has(chainId, undefined))) continue;
        const layerWhere = `${where}: layer ${i + 1} (${layer.digest})`;
        await store.layers.unpack(chainId, undefined, store.blobs.path(layer.digest), diffId, layerWhere);
        newLayers.push(chainId);
      }
      imported.push({
        id: manifest.config.digest,
        names: candidate.names,
        manifest: manifestDigest,
        created: (config.created === undefined ? new Date() : new Date(config.created)).toISOString(),
      });
    }

    const images = await store.readImages();
    for (const image of imported) addImage(images, image.id, image.manifest, image.created, image.names);
    await store.writeImages(images);
  } catch (err) {
    for (const chainId of newLayers) await store.layers.remove(store.layers.name(chainId, undefined));
    for (const digest of newBlobs) await store.blobs.remove(digest);
    throw err;
  }
  return imported.map(({ id, names }) => ({ id, names }));
}
