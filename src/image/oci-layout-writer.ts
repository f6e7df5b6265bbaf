/**
 * Writing an OCI image layout (and an OCI archive of it) from directories: each directory becomes
 * one gzip layer, packed reproducibly (sorted entries, one fixed mtime, root-owned by default),
 * so the same input always gives the same digests. This is how tsdock builds its demo image and
 * the images its tests need; `skopeo` and `umoci` read the result.
 */
import { createWriteStream } from 'node:fs';
import { mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { TsdockError } from '../errors.js';
import { Digester, digestHex, digesting, sha256Digest, type Digest } from './digest.js';
import { tempName } from './fs-util.js';
import {
  hostPlatform,
  IMAGE_NAME_ANNOTATION,
  MEDIA_TYPE,
  REF_NAME_ANNOTATION,
  type Descriptor,
  type ImageConfig,
} from './oci.js';
import { formatReference, parseReference } from './reference.js';
import { packDirectory, writeTar, type PackOptions } from './tar-writer.js';

/** An image to write as a layout. */
export interface LayoutImage {
  /** `busybox:latest`: recorded in full (`io.containerd.image.name`) and as the tag (`org.opencontainers.image.ref.name`). */
  name: string;
  /** The execution defaults (Cmd, Env, …). */
  config: ImageConfig;
  /** Directories whose contents become the layers, bottom to top. */
  layers: string[];
  /** Seconds since the epoch: every member's mtime and the image's creation time. Default 0. */
  mtime?: number;
  /** Record each member as owned by the owner on disk instead of root (0:0, the default). */
  keepOwners?: boolean;
  /** The history entry's `created_by` for each layer. */
  createdBy?: string;
}

/** The digests of a written layout. */
export interface WrittenLayout {
  manifest: Digest;
  /** The image ID. */
  config: Digest;
  layers: Digest[];
  diffIds: Digest[];
}

async function writeBlob(blobs: string, data: Buffer): Promise<{ digest: Digest; size: number }> {
  const digest = sha256Digest(data);
  await writeFile(join(blobs, digestHex(digest)), data);
  return { digest, size: data.length };
}

async function writeLayer(
  blobs: string,
  dir: string,
  pack: PackOptions,
): Promise<{ layer: Descriptor; diffId: Digest }> {
  const uncompressed = new Digester();
  const compressed = new Digester();
  const temp = join(blobs, tempName('.layer-'));
  try {
    await pipeline(
      Readable.from(digesting(writeTar(packDirectory(dir, pack)), uncompressed)),
      createGzip(),
      (gzipped: AsyncIterable<Buffer>) => digesting(gzipped, compressed),
      createWriteStream(temp),
    );
    const digest = compressed.digest();
    await rename(temp, join(blobs, digestHex(digest)));
    return {
      layer: { mediaType: MEDIA_TYPE.ociLayerGzip, digest, size: compressed.size },
      diffId: uncompressed.digest(),
    };
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
}

/**
 * Writes `image` as an OCI image layout into `dir`, which must be missing or empty.
 *
 * @throws TsdockError `INVALID_ARGUMENT` for a non-empty `dir` or a malformed name.
 * @example
 * await writeOciLayout('out/busybox-oci', { name: 'busybox:latest', config: { Cmd: ['sh'] }, layers: [rootfs] });
 */
export async function writeOciLayout(dir: string, image: LayoutImage): Promise<WrittenLayout> {
  const ref = parseReference(image.name);
  if (ref.tag === undefined || ref.digest !== undefined) {
    throw new TsdockError('INVALID_ARGUMENT', `image name must be a tag, not a digest: ${image.name}`);
  }
  await mkdir(dir, { recursive: true });
  if ((await readdir(dir)).length > 0) throw new TsdockError('INVALID_ARGUMENT', `${dir}: not empty`);
  const blobs = join(dir, 'blobs', 'sha256');
  await mkdir(blobs, { recursive: true });

  const mtime = image.mtime ?? 0;
  const pack: PackOptions = image.keepOwners === true ? { mtime } : { mtime, owner: { uid: 0, gid: 0 } };
  const layers: Descriptor[] = [];
  const diffIds: Digest[] = [];
  for (const layerDir of image.layers) {
    const { layer, diffId } = await writeLayer(blobs, layerDir, pack);
    layers.push(layer);
    diffIds.push(diffId);
  }

  const created = new Date(mtime * 1000).toISOString();
  const platform = hostPlatform();
  const config = await writeBlob(
    blobs,
    Buffer.from(
      JSON.stringify({
        created,
        architecture: platform.architecture,
        os: platform.os,
        config: image.config,
        rootfs: { type: 'layers', diff_ids: diffIds },
        history: image.layers.map(() => ({ created, created_by: image.createdBy ?? 'tsdock' })),
      }),
    ),
  );
  const manifest = await writeBlob(
    blobs,
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MEDIA_TYPE.ociManifest,
        config: { mediaType: MEDIA_TYPE.ociConfig, digest: config.digest, size: config.size },
        layers,
      }),
    ),
  );
  const index = {
    schemaVersion: 2,
    mediaType: MEDIA_TYPE.ociIndex,
    manifests: [
      {
        mediaType: MEDIA_TYPE.ociManifest,
        digest: manifest.digest,
        size: manifest.size,
        platform,
        annotations: { [IMAGE_NAME_ANNOTATION]: formatReference(ref), [REF_NAME_ANNOTATION]: ref.tag },
      },
    ],
  };
  await writeFile(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  await writeFile(join(dir, 'index.json'), JSON.stringify(index));
  return { manifest: manifest.digest, config: config.digest, layers: layers.map((l) => l.digest), diffIds };
}

/**
 * Writes an OCI archive: a tar of the layout in `layoutDir` (what `tsdock load` and
 * `skopeo copy oci-archive:` read). Reproducible like the layers: `mtime` for every member.
 */
export async function writeOciArchive(layoutDir: string, file: string, mtime = 0): Promise<void> {
  const temp = `${file}.${tempName('tmp-')}`;
  try {
    await pipeline(
      Readable.from(writeTar(packDirectory(layoutDir, { mtime, owner: { uid: 0, gid: 0 } }))),
      createWriteStream(temp),
    );
    await rename(temp, file);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
}
