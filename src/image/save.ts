/**
 * `tsdock save`: images from the store as one tar archive, in either form that `tsdock load`,
 * `docker load` and skopeo read.
 *
 * - `docker`, what `docker save` writes since Docker 25: `manifest.json` (each image's config,
 *   `RepoTags` and layer files, the index every docker-archive reader knows) beside an OCI image
 *   layout of the same blobs. Layers are uncompressed, as Docker writes them, so a layer file's
 *   digest is its diff ID.
 * - `oci`: an OCI image layout (image-spec `image-layout.md`) as a tar, blobs as stored; a
 *   Docker v2 manifest is rewritten with the OCI media types (the config, so the image ID, stays).
 *
 * Every member's size must be known before its bytes (tar headers come first), so the layers the
 * `docker` form decompresses are written to scratch files first.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { open, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { getSystemErrorMap } from 'node:util';
import { TsdockError } from '../errors.js';
import { detectCompression, decompress } from './compression.js';
import { Digester, digesting, digestHex, sha256Digest, type Digest } from './digest.js';
import { fsyncDir, tempName, writeAll } from './fs-util.js';
import {
  IMAGE_NAME_ANNOTATION,
  MEDIA_TYPE,
  REF_NAME_ANNOTATION,
  type Descriptor,
  type ImageConfigFile,
  type ImageManifest,
} from './oci.js';
import { familiarReference, parseReference } from './reference.js';
import type { TarWriterEntry } from './tar-writer.js';

export type ArchiveFormat = 'docker' | 'oci';

/** One image to save, as the store holds it. */
export interface StoredImage {
  /** The image ID: the config's digest. */
  id: Digest;
  manifestDigest: Digest;
  manifestBytes: Buffer;
  manifest: ImageManifest;
  config: ImageConfigFile;
  /** Canonical names to record in the archive (`docker.io/library/busybox:latest`); may be empty. */
  names: string[];
}

/** Where the saved bytes come from: the store's blob files, and a scratch directory to use. */
export interface SaveSources {
  blobPath(digest: Digest): string;
  scratch: string;
}

/** An archive member: a path, a size known up front, and a way to read its bytes. */
interface Member {
  path: string;
  size: number;
  read: () => AsyncIterable<Buffer>;
}

const BLOB_DIR = 'blobs/sha256';
const LAYOUT_MARKER = JSON.stringify({ imageLayoutVersion: '1.0.0' });

/** OCI equivalents of the Docker v2 media types a stored manifest may carry. */
const OCI_LAYER_TYPE: Readonly<Record<string, string>> = {
  [MEDIA_TYPE.dockerLayerGzip]: MEDIA_TYPE.ociLayerGzip,
  'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip':
    'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
};

/**
 * The tar entries of an archive of `images` in `format`; uncompressed layers of the `docker` form
 * are written to `sources.scratch` first, which must stay until the entries are consumed.
 *
 * @throws TsdockError `STORE` when a stored layer does not decompress to its diff ID.
 */
export async function* archiveEntries(
  images: readonly StoredImage[],
  format: ArchiveFormat,
  sources: SaveSources,
): AsyncGenerator<TarWriterEntry> {
  const members = format === 'docker' ? await dockerMembers(images, sources) : await ociMembers(images, sources);
  yield directory('blobs/');
  yield directory(`${BLOB_DIR}/`);
  for (const member of members.sort((a, b) => a.path.localeCompare(b.path))) {
    yield { ...header(member.path, 'file', 0o644), size: member.size, body: member.read() };
  }
}

async function ociMembers(images: readonly StoredImage[], sources: SaveSources): Promise<Member[]> {
  const blobs = new Map<string, Member>();
  const index: Descriptor[] = [];
  for (const image of images) {
    const manifest = ociManifestOf(image);
    for (const desc of [image.manifest.config, ...image.manifest.layers]) {
      const path = blobPath(desc.digest);
      blobs.set(path, await fileMember(path, sources.blobPath(desc.digest)));
    }
    blobs.set(blobPath(manifest.digest), bytesMember(blobPath(manifest.digest), manifest.bytes));
    index.push(...indexEntries(image, manifest));
  }
  return [...blobs.values(), ...layoutFiles(index)];
}

async function dockerMembers(images: readonly StoredImage[], sources: SaveSources): Promise<Member[]> {
  const blobs = new Map<string, Member>();
  const index: Descriptor[] = [];
  const saveManifest: { Config: string; RepoTags: string[]; Layers: string[] }[] = [];
  for (const image of images) {
    const configPath = blobPath(image.id);
    blobs.set(configPath, await fileMember(configPath, sources.blobPath(image.id)));
    const layers: Descriptor[] = [];
    for (const [i, layer] of image.manifest.layers.entries()) {
      const diffId = image.config.rootfs.diff_ids[i];
      if (diffId === undefined) {
        throw new TsdockError('STORE', `image ${image.id}: ${image.manifest.layers.length} layers but fewer diff IDs`);
      }
      const path = blobPath(diffId);
      const member = blobs.get(path) ?? (await uncompressedLayer(path, layer, diffId, sources));
      blobs.set(path, member);
      layers.push({ mediaType: MEDIA_TYPE.ociLayer, digest: diffId, size: member.size });
    }
    const manifest = manifestBytes(image, MEDIA_TYPE.ociConfig, layers);
    blobs.set(blobPath(manifest.digest), bytesMember(blobPath(manifest.digest), manifest.bytes));
    index.push(...indexEntries(image, manifest));
    saveManifest.push({
      Config: configPath,
      RepoTags: image.names.map((name) => familiarReference(parseReference(name))),
      Layers: layers.map((layer) => blobPath(layer.digest)),
    });
  }
  return [...blobs.values(), ...layoutFiles(index), bytesMember('manifest.json', JSON.stringify(saveManifest))];
}

/** The stored manifest when it is OCI already; otherwise the same image with OCI media types. */
function ociManifestOf(image: StoredImage): { digest: Digest; bytes: Buffer } {
  const { manifest } = image;
  const isDocker =
    manifest.mediaType === MEDIA_TYPE.dockerManifest ||
    (manifest.mediaType === undefined && manifest.config.mediaType === MEDIA_TYPE.dockerConfig);
  if (!isDocker) return { digest: image.manifestDigest, bytes: image.manifestBytes };
  const layers = manifest.layers.map(({ mediaType, digest, size }) => ({
    mediaType: OCI_LAYER_TYPE[mediaType] ?? mediaType,
    digest,
    size,
  }));
  return manifestBytes(image, MEDIA_TYPE.ociConfig, layers);
}

function manifestBytes(
  image: StoredImage,
  configType: string,
  layers: Descriptor[],
): { digest: Digest; bytes: Buffer } {
  const bytes = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA_TYPE.ociManifest,
      config: { mediaType: configType, digest: image.id, size: image.manifest.config.size },
      layers,
    }),
  );
  return { digest: sha256Digest(bytes), bytes };
}

/** One index entry per name (a nameless image gets one without annotations), as Docker writes them. */
function indexEntries(image: StoredImage, manifest: { digest: Digest; bytes: Buffer }): Descriptor[] {
  const base: Descriptor = {
    mediaType: MEDIA_TYPE.ociManifest,
    digest: manifest.digest,
    size: manifest.bytes.length,
    platform: { architecture: image.config.architecture, os: image.config.os },
  };
  if (image.names.length === 0) return [base];
  return image.names.map((name) => {
    const ref = parseReference(name);
    const annotations: Record<string, string> = { [IMAGE_NAME_ANNOTATION]: name };
    if (ref.tag !== undefined) annotations[REF_NAME_ANNOTATION] = ref.tag;
    return { ...base, annotations };
  });
}

function layoutFiles(index: Descriptor[]): Member[] {
  return [
    bytesMember('oci-layout', LAYOUT_MARKER),
    bytesMember('index.json', JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_TYPE.ociIndex, manifests: index })),
  ];
}

/**
 * A layer as an uncompressed tar: the stored blob itself when it is one, else decompressed into
 * the scratch directory; either way it must hash to `diffId`.
 */
async function uncompressedLayer(
  path: string,
  layer: Descriptor,
  diffId: Digest,
  sources: SaveSources,
): Promise<Member> {
  const stored = sources.blobPath(layer.digest);
  if ((await compressionOf(stored)) === 'none') {
    if (layer.digest !== diffId) throw notItsDiffId(layer.digest, layer.digest, diffId);
    return fileMember(path, stored);
  }
  const file = join(sources.scratch, digestHex(diffId));
  const digester = new Digester();
  await pipeline(
    digesting(await decompress(createReadStream(stored)), digester),
    createWriteStream(file, { flags: 'wx' }),
  );
  const actual = digester.digest();
  if (actual !== diffId) throw notItsDiffId(layer.digest, actual, diffId);
  return fileMember(path, file);
}

async function compressionOf(file: string): Promise<string> {
  const head = Buffer.alloc(6);
  const handle = await open(file, 'r');
  try {
    await handle.read(head, 0, head.length, 0);
  } finally {
    await handle.close();
  }
  return detectCompression(head);
}

function notItsDiffId(layer: Digest, actual: Digest, diffId: Digest): TsdockError {
  return new TsdockError('STORE', `layer ${layer} uncompressed is ${actual}, not its diff ID ${diffId}`);
}

const blobPath = (digest: Digest): string => `${BLOB_DIR}/${digestHex(digest)}`;

async function fileMember(path: string, file: string): Promise<Member> {
  return { path, size: (await stat(file)).size, read: () => createReadStream(file) };
}

function bytesMember(path: string, content: Buffer | string): Member {
  const bytes = Buffer.from(content);
  return {
    path,
    size: bytes.length,
    read: async function* () {
      yield bytes;
    },
  };
}

function directory(path: string): TarWriterEntry {
  return { ...header(path, 'directory', 0o755), size: 0 };
}

/** Root-owned, mtime 0: the same images always give the same archive. */
function header(path: string, type: 'file' | 'directory', mode: number): Omit<TarWriterEntry, 'size'> {
  return { path, type, mode, uid: 0, gid: 0, mtime: 0, linkname: '', devmajor: 0, devminor: 0, xattrs: new Map() };
}

/**
 * The file a save writes: a temporary beside it until the archive is complete, then renamed into
 * place, so a failed or interrupted save leaves no half archive under the name asked for.
 */
export class ArchiveFile {
  private done = false;

  private constructor(
    private readonly file: string,
    private readonly temp: string,
    private readonly handle: FileHandle,
  ) {}

  /** @throws TsdockError `INVALID_ARGUMENT` when the file cannot be created there. */
  static async create(file: string): Promise<ArchiveFile> {
    const temp = join(dirname(file), `.${basename(file)}.${tempName('tmp-')}`);
    try {
      return new ArchiveFile(file, temp, await open(temp, 'wx', 0o644));
    } catch (err) {
      const errno = (err as NodeJS.ErrnoException).errno;
      const reason = errno === undefined ? undefined : getSystemErrorMap().get(errno)?.[1];
      throw new TsdockError('INVALID_ARGUMENT', `cannot write ${file}: ${reason ?? (err as Error).message}`, {
        cause: err,
      });
    }
  }

  async write(chunks: AsyncIterable<Buffer>): Promise<void> {
    for await (const chunk of chunks) await writeAll(this.handle, chunk);
  }

  /** Flushes the archive and gives it its name. */
  async commit(): Promise<void> {
    await this.handle.sync();
    await this.handle.close();
    await rename(this.temp, this.file);
    this.done = true;
    await fsyncDir(dirname(this.file));
  }

  /** Removes the temporary unless the archive was committed. */
  async discard(): Promise<void> {
    if (this.done) return;
    this.done = true;
    await this.handle.close().catch(() => undefined);
    await rm(this.temp, { force: true });
  }
}
