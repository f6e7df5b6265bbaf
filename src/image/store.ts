/**
 * The image store: the one object the rest of tsdock uses to get images onto disk and back.
 *
 * On disk, under the root (default `/var/lib/tsdock`):
 *
 * ```
 * blobs/sha256/<hex>        manifests, configs, compressed layers (content-addressed, verified)
 * layers/<chain-id hex>/    unpacked layers, overlayfs form; `<hex>-<host uid>-<size>` per mapping
 * images.json               image ID -> manifest, created, names (see image-index.ts)
 * ingest/                   temporaries (blobs being verified, archives being loaded)
 * lock                      flock(2)ed around every mutation (see lock.ts)
 * ```
 *
 * @example
 * const store = await openImageStore('/var/lib/tsdock');
 * await store.load('busybox.tar');
 * const image = await store.resolve('busybox');
 * // image.layerDirs, bottom to top: overlay's lowerdir is them reversed, joined with ':'
 */
import { statSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { join, resolve as resolvePath } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { TsdockError } from '../errors.js';
import { BlobStore } from './blob-store.js';
import { chainIds, digestHex, type Digest } from './digest.js';
import { readIfExists, statIfExists, writeFileAtomic } from './fs-util.js';
import { mappingSuffix, type IdMapping } from './id-mapping.js';
import type { LayerLimits } from './layer-limits.js';
import {
  addImage,
  emptyImagesFile,
  findImage,
  parseImagesFile,
  untag,
  type FoundImage,
  type ImagesFile,
} from './image-index.js';
import { importImages, type ImportedImage, type StoreParts } from './import.js';
import { LayerStore } from './layer-store.js';
import { readArchive, type ArchiveStream } from './load.js';
import { nameForImport, readLayout } from './oci-layout-reader.js';
import {
  parseImageConfigFile,
  parseManifest,
  type ImageConfig,
  type ImageConfigFile,
  type ImageManifest,
} from './oci.js';
import { familiarReference, familiarRepository, parseReference, repositoryName } from './reference.js';
import { StoreLock } from './lock.js';
import { ArchiveFile, archiveEntries, type ArchiveFormat, type StoredImage } from './save.js';
import { writeTar } from './tar-writer.js';

export type { IdMapping, IdRange } from './id-mapping.js';
export type { ImageConfig, HealthConfig } from './oci.js';

/** An image, ready to run: what the runtime needs and nothing else. */
export interface ResolvedImage {
  /** The image ID, `sha256:…` (the config digest). */
  id: string;
  /** The name it was found by, short form (`busybox:latest`); its first name or ID otherwise. */
  name: string;
  /** The image's execution defaults (Env, Cmd, Entrypoint, WorkingDir, User, …). */
  config: ImageConfig;
  /** Unpacked layer directories, bottom to top (overlay's `lowerdir` lists them top first). */
  layerDirs: string[];
}

export interface ResolveOptions {
  /** Resolve layers unpacked for this user-namespace mapping (unpacked on first use). */
  idMapping?: IdMapping | undefined;
}

/** One line of `tsdock images`. */
export interface ImageSummary {
  /** Short form (`busybox`), or `<none>`. */
  repository: string;
  /** `latest`, or `<none>`. */
  tag: string;
  /** `sha256:…` */
  id: string;
  /** RFC 3339. */
  created: string;
  /** Bytes in the store: config plus compressed layers. */
  size: number;
}

/** One image as `inspect` shows it (Docker's `image inspect` essentials). */
export interface ImageInspect {
  /** `sha256:…` (the config digest). */
  id: string;
  /** Full names (`docker.io/library/busybox:latest`). */
  names: string[];
  /** The manifest digest. */
  digest: string;
  /** RFC 3339, when the image says. */
  created?: string;
  architecture: string;
  os: string;
  /** Bytes in the store: config plus compressed layers. */
  size: number;
  /** Execution defaults: Env, Cmd, Entrypoint, WorkingDir, User, ExposedPorts, … */
  config: ImageConfig;
  /** The uncompressed layers' digests, bottom to top. */
  layers: string[];
}

/** What `image prune` removed. */
export interface PruneResult {
  /** Docker's lines: `untagged: busybox:latest`, `deleted: sha256:…`. */
  lines: string[];
  /** Bytes of blobs and abandoned partial downloads removed. */
  reclaimed: number;
}

/** Images containers use (by image ID -> a container's name): never deleted. */
export type ImagesInUse = ReadonlyMap<string, string>;

/** An image a load or import added. */
export interface LoadedImage {
  /** `sha256:…` */
  id: string;
  /** Short forms (`busybox:latest`); empty when the source named none. */
  names: string[];
}

export interface ImportOptions {
  /** Name the single image of the source this (`busybox:latest`), instead of its own names. */
  name?: string | undefined;
}

/** An image as `resolve` sees it while holding the lock. */
interface DescribedImage {
  found: FoundImage;
  manifest: ImageManifest;
  config: ImageConfigFile;
  chains: Digest[];
  layerDirs: string[];
  /** Indexes of layers not yet unpacked (for the mapping asked for). */
  missing: number[];
}

/** Opens (creating when needed) the image store at `root`. */
export async function openImageStore(
  root: string,
  options: { layerLimits?: LayerLimits | undefined } = {},
): Promise<ImageStore> {
  const store = new ImageStore(resolvePath(root), options.layerLimits);
  await store.init();
  return store;
}

export class ImageStore {
  /** The store's root directory (absolute). */
  readonly root: string;
  private readonly blobs: BlobStore;
  private readonly layers: LayerStore;
  private readonly lock: StoreLock;
  private readonly ingestDir: string;
  private readonly imagesPath: string;
  private readonly parts: StoreParts;

  /** Use {@link openImageStore}. */
  constructor(root: string, layerLimits?: LayerLimits) {
    this.root = root;
    this.blobs = new BlobStore(root);
    this.layers = new LayerStore(root, layerLimits);
    this.ingestDir = join(root, 'ingest');
    this.imagesPath = join(root, 'images.json');
    this.lock = new StoreLock(join(root, 'lock'), () => this.removeStale());
    this.parts = {
      blobs: this.blobs,
      layers: this.layers,
      readImages: () => this.readImages(),
      writeImages: (file) => writeFileAtomic(this.imagesPath, `${JSON.stringify(file, null, 2)}\n`, this.ingestDir),
    };
  }

  /** @internal Creates the directory tree; {@link openImageStore} calls it. */
  async init(): Promise<void> {
    await this.guard(async () => {
      // 0711: a container root mapped to an unprivileged host id must traverse to its layers.
      await mkdir(this.root, { recursive: true, mode: 0o711 });
      await this.blobs.init();
      await this.layers.init();
    });
  }

  /**
   * Finds an image by name or ID and makes sure its layers are unpacked (for `idMapping`, on
   * first use).
   *
   * @throws TsdockError `IMAGE_NOT_FOUND`: `image not found: busybox:latest; load or pull it
   *   first (tsdock load -i FILE)`.
   * @example const { config, layerDirs } = await store.resolve('busybox', { idMapping });
   */
  async resolve(refOrId: string, options: ResolveOptions = {}): Promise<ResolvedImage> {
    const mapping = options.idMapping;
    mappingSuffix(mapping); // validates it before any work
    return this.guard(async () => {
      let image = await this.lock.run('shared', () => this.describe(refOrId, mapping));
      if (image.missing.length > 0) {
        image = await this.lock.run('exclusive', async () => {
          const fresh = await this.describe(refOrId, mapping);
          for (const i of fresh.missing) await this.unpackLayer(fresh, i, mapping);
          return fresh;
        });
      }
      const { found } = image;
      const name = found.name ?? found.record.names[0];
      return {
        id: found.id,
        name: name === undefined ? found.id : familiarReference(parseReference(name)),
        config: image.config.config,
        layerDirs: image.layerDirs,
      };
    });
  }

  /**
   * A token that changes whenever the set of images changes: images.json is replaced by an
   * atomic rename, so a new inode marks every rewrite. Callers use it to keep resolved images.
   */
  generation(): string {
    try {
      const st = statSync(this.imagesPath);
      return `${st.ino}:${st.mtimeMs}`;
    } catch {
      return 'none';
    }
  }

  /** Every image, one entry per name (nameless images once, as `<none>`), newest first. */
  async list(): Promise<ImageSummary[]> {
    return this.guard(() =>
      this.lock.run('shared', async () => {
        const rows: ImageSummary[] = [];
        for (const [id, record] of Object.entries((await this.readImages()).images)) {
          const manifest = await this.readManifest(record.manifest);
          const size = manifest.config.size + manifest.layers.reduce((sum, layer) => sum + layer.size, 0);
          const row = { id, created: record.created, size };
          if (record.names.length === 0) rows.push({ repository: '<none>', tag: '<none>', ...row });
          for (const name of record.names) {
            const ref = parseReference(name);
            rows.push({ repository: familiarRepository(ref), tag: ref.tag ?? '<none>', ...row });
          }
        }
        return rows.sort(
          (a, b) =>
            b.created.localeCompare(a.created) || `${a.repository}:${a.tag}`.localeCompare(`${b.repository}:${b.tag}`),
        );
      }),
    );
  }

  /**
   * One image by name or ID, read from the store without unpacking anything.
   *
   * @throws TsdockError `IMAGE_NOT_FOUND`.
   */
  async inspect(refOrId: string): Promise<ImageInspect> {
    return this.guard(() =>
      this.lock.run('shared', async () => {
        const found = findImage(await this.readImages(), refOrId);
        const manifest = await this.readManifest(found.record.manifest);
        const file = await this.readConfig(manifest.config.digest);
        return {
          id: found.id,
          names: found.record.names,
          digest: found.record.manifest,
          created: file.created,
          architecture: file.architecture,
          os: file.os,
          size: manifest.config.size + manifest.layers.reduce((sum, layer) => sum + layer.size, 0),
          config: file.config,
          layers: file.rootfs.diff_ids,
        };
      }),
    );
  }

  /**
   * Removes unused images: those without a name (dangling), or with `all` every image no
   * container uses; then every blob, layer directory and abandoned partial download no image
   * refers to. Never an image in `inUse`.
   */
  async prune(options: { all?: boolean; inUse?: ImagesInUse } = {}): Promise<PruneResult> {
    return this.guard(() =>
      this.lock.run('exclusive', async () => {
        const images = await this.readImages();
        const lines: string[] = [];
        for (const [id, record] of Object.entries(images.images)) {
          if (options.inUse?.has(id) === true || (options.all !== true && record.names.length > 0)) continue;
          lines.push(...record.names.map((n) => `untagged: ${familiarReference(parseReference(n))}`));
          lines.push(`deleted: ${id}`);
          // eslint-disable-next-line @typescript-eslint/no-dynamic-delete -- keyed by image ID
          delete images.images[id];
        }
        if (lines.length > 0) await this.parts.writeImages(images);
        return { lines, reclaimed: await this.collectGarbage(images) };
      }),
    );
  }

  /**
   * Removes every blob, layer directory and abandoned partial download no image refers to,
   * removing no image (what `builder prune` leaves to collect); returns the bytes removed.
   */
  async collect(): Promise<number> {
    return this.guard(() => this.lock.run('exclusive', async () => this.collectGarbage(await this.readImages())));
  }

  /**
   * Removes a name; when it was the image's last name, or the image was named by ID, removes the
   * image and every blob and layer directory no other image uses. An image named by ID whose
   * names span several repositories is removed only with `force`. An image a container uses
   * (`inUse`) is never deleted: refused, or with `force` only untagged. Returns Docker's lines:
   * `Untagged: busybox:latest`, `Deleted: sha256:…`.
   *
   * @throws TsdockError `IMAGE_NOT_FOUND`; `INVALID_ARGUMENT` for the several-repositories case;
   *   `CONFLICT` for an image a container uses.
   */
  async remove(ref: string, options: { force?: boolean; inUse?: ImagesInUse } = {}): Promise<string[]> {
    return this.guard(() =>
      this.lock.run('exclusive', async () => {
        const images = await this.readImages();
        const found = findImage(images, ref);
        const familiar = (name: string): string => familiarReference(parseReference(name));
        const lines: string[] = [];
        if (found.name !== undefined) {
          untag(images, found.name);
          lines.push(`Untagged: ${familiar(found.name)}`);
        } else {
          const repositories = new Set(found.record.names.map((n) => repositoryName(parseReference(n))));
          if (repositories.size > 1 && options.force !== true) {
            throw new TsdockError(
              'INVALID_ARGUMENT',
              `image ${digestHex(found.id).slice(0, 12)} has names in ${repositories.size} repositories ` +
                `(${found.record.names.map(familiar).join(', ')}); remove them by name, or force`,
            );
          }
          lines.push(...found.record.names.map((n) => `Untagged: ${familiar(n)}`));
          found.record.names = [];
        }
        const user = options.inUse?.get(found.id);
        if (user !== undefined && found.record.names.length === 0 && options.force !== true) {
          throw new TsdockError(
            'CONFLICT',
            `unable to remove image ${ref}: container ${user} uses it (remove the container, or -f to untag only)`,
          );
        }
        if (found.record.names.length > 0 || user !== undefined) {
          await this.parts.writeImages(images);
          return lines;
        }
        // eslint-disable-next-line @typescript-eslint/no-dynamic-delete -- keyed by image ID
        delete images.images[found.id];
        await this.parts.writeImages(images);
        await this.collectGarbage(images);
        return [...lines, `Deleted: ${found.id}`];
      }),
    );
  }

  /**
   * Records an image whose layer blobs and unpacked layers a registry pull has already stored
   * (see `registry/transfer-store.ts`): stores its config and manifest and gives it `names`,
   * under the exclusive lock. Returns `false`, changing nothing, when a blob or layer it needs is
   * gone (a garbage collection ran between the pull's shared hold and this one).
   */
  async addPulled(
    manifest: Buffer,
    config: Buffer,
    needs: { blobs: Digest[]; chains: Digest[] },
    names: string[],
    created: string,
  ): Promise<boolean> {
    return this.guard(() =>
      this.lock.run('exclusive', async () => {
        for (const digest of needs.blobs) if (!(await this.blobs.has(digest))) return false;
        for (const chain of needs.chains) if (!(await this.layers.has(chain, undefined))) return false;
        const { digest: id } = await this.blobs.ingestBytes(config);
        const { digest: manifestDigest } = await this.blobs.ingestBytes(manifest);
        const images = await this.readImages();
        addImage(images, id, manifestDigest, created, names);
        await this.parts.writeImages(images);
        return true;
      }),
    );
  }

  /** Names the image `source` (a name or ID) also `target`; `target` leaves any image that had it. */
  async tag(source: string, target: string): Promise<void> {
    const name = nameForImport(target);
    await this.guard(() =>
      this.lock.run('exclusive', async () => {
        const images = await this.readImages();
        const found = findImage(images, source);
        addImage(images, found.id, found.record.manifest, found.record.created, [name]);
        await this.parts.writeImages(images);
      }),
    );
  }

  /**
   * Imports the images of an OCI image layout directory, verifying every blob; names come from
   * the index's annotations, or `options.name`.
   *
   * @throws TsdockError `INVALID_IMAGE` naming the directory and the problem (the store is then
   *   unchanged); `INVALID_ARGUMENT` when `dir` is not a directory.
   */
  async importLayout(dir: string, options: ImportOptions = {}): Promise<LoadedImage[]> {
    return this.guard(async () => {
      if ((await statIfExists(dir))?.isDirectory() !== true) {
        throw new TsdockError('INVALID_ARGUMENT', `${dir}: not a directory`);
      }
      return this.lock.run('exclusive', async () => {
        const plan = await readLayout((path) => join(dir, path), dir, { name: options.name, move: false });
        return loaded(await importImages(this.parts, plan, dir));
      });
    });
  }

  /**
   * Loads an OCI archive (a tar of an OCI image layout) or a `docker save` archive, plain or
   * gzip-compressed, from a file (`tsdock load -i FILE`) or a stream (`tsdock load < FILE`).
   *
   * @throws TsdockError `INVALID_IMAGE`: one line naming the file and what is wrong with it;
   *   the store is then exactly as before. `INVALID_ARGUMENT` when there is no such file.
   */
  async load(source: string | ArchiveStream, options: ImportOptions = {}): Promise<LoadedImage[]> {
    return this.guard(async () => {
      if (typeof source === 'string' && (await statIfExists(source))?.isFile() !== true) {
        throw new TsdockError('INVALID_ARGUMENT', `${source}: no such file`);
      }
      return this.lock.run('exclusive', async () => {
        const scratch = await mkdtemp(join(this.ingestDir, 'load-'));
        try {
          const plan = await readArchive(source, scratch, options);
          return loaded(await importImages(this.parts, plan, typeof source === 'string' ? source : source.name));
        } finally {
          await rm(scratch, { recursive: true, force: true });
        }
      });
    });
  }

  /**
   * Writes the images `refs` name (names or IDs) as one archive, `docker save`'s form or an OCI
   * archive, to `destination`: a file, written under a temporary name and renamed into place so
   * that a failure leaves none, or a stream (stdout), written but not ended. An image saved by
   * name carries that name; one saved by ID carries none, as with Docker.
   *
   * @throws TsdockError `IMAGE_NOT_FOUND`; `INVALID_ARGUMENT` when `destination` cannot be created.
   * @example await store.save(['busybox'], 'busybox.tar', { format: 'oci' });
   */
  async save(
    refs: readonly string[],
    destination: string | NodeJS.WritableStream,
    options: { format?: ArchiveFormat } = {},
  ): Promise<void> {
    if (refs.length === 0) throw new TsdockError('INVALID_ARGUMENT', 'no image to save');
    const output = typeof destination === 'string' ? await ArchiveFile.create(destination) : undefined;
    try {
      await this.guard(() =>
        this.lock.run('shared', async () => {
          const images = await this.storedImages(refs);
          const scratch = await mkdtemp(join(this.ingestDir, 'save-'));
          try {
            const sources = { blobPath: (digest: Digest) => this.blobs.path(digest), scratch };
            const archive = writeTar(archiveEntries(images, options.format ?? 'docker', sources));
            if (output !== undefined) await output.write(archive);
            else await pipeline(archive, destination as NodeJS.WritableStream, { end: false });
          } finally {
            await rm(scratch, { recursive: true, force: true });
          }
        }),
      );
      await output?.commit();
    } finally {
      await output?.discard();
    }
  }

  // ---- internals ----

  /** The images `refs` name, each once, with the names they were asked for by. */
  private async storedImages(refs: readonly string[]): Promise<StoredImage[]> {
    const file = await this.readImages();
    const images = new Map<Digest, StoredImage>();
    for (const ref of refs) {
      const found = findImage(file, ref);
      let image = images.get(found.id);
      if (image === undefined) {
        const manifestBytes = await this.blobs.read(found.record.manifest);
        const manifest = parseManifest(manifestBytes, `${this.root}: manifest ${found.record.manifest}`);
        const config = await this.readConfig(manifest.config.digest);
        image = { id: found.id, manifestDigest: found.record.manifest, manifestBytes, manifest, config, names: [] };
        images.set(found.id, image);
      }
      if (found.name !== undefined && !image.names.includes(found.name)) image.names.push(found.name);
    }
    return [...images.values()];
  }

  private async readImages(): Promise<ImagesFile> {
    const bytes = await readIfExists(this.imagesPath);
    return bytes === undefined ? emptyImagesFile() : parseImagesFile(bytes, this.imagesPath);
  }

  private async readManifest(digest: Digest): Promise<ImageManifest> {
    return parseManifest(await this.blobs.read(digest), `${this.root}: manifest ${digest}`);
  }

  private async readConfig(digest: Digest): Promise<ImageConfigFile> {
    return parseImageConfigFile(await this.blobs.read(digest), `${this.root}: config ${digest}`);
  }

  /**
   * Removes every layer unpacked for a user-namespace mapping other than `keep` (the caller
   * knows no container uses them any more).
   */
  async removeMappedLayers(keep: readonly IdMapping[]): Promise<void> {
    const live = new Set(keep.map((m) => mappingSuffix(m)));
    await this.guard(() =>
      this.lock.run('exclusive', async () => {
        for (const name of await this.layers.list()) {
          const suffix = name.slice(64);
          if (suffix !== '' && !live.has(suffix)) await this.layers.remove(name);
        }
      }),
    );
  }

  /** Everything about an image that `resolve` needs, and which of its layers are not unpacked. */
  private async describe(input: string, mapping: IdMapping | undefined): Promise<DescribedImage> {
    const found = findImage(await this.readImages(), input);
    const manifest = await this.readManifest(found.record.manifest);
    const config = await this.readConfig(manifest.config.digest);
    const chains = chainIds(config.rootfs.diff_ids);
    const missing: number[] = [];
    for (const [i, chainId] of chains.entries()) if (!(await this.layers.has(chainId, mapping))) missing.push(i);
    return { found, manifest, config, chains, missing, layerDirs: chains.map((c) => this.layers.path(c, mapping)) };
  }

  private async unpackLayer(image: DescribedImage, i: number, mapping: IdMapping | undefined): Promise<void> {
    const layer = image.manifest.layers[i];
    const chainId = image.chains[i];
    const diffId = image.config.rootfs.diff_ids[i];
    if (layer === undefined || chainId === undefined || diffId === undefined) return;
    const where = `${this.root}: image ${image.found.id} layer ${i + 1}`;
    await this.layers.unpack(chainId, mapping, this.blobs.path(layer.digest), diffId, where);
  }

  /**
   * Removes blobs, layer directories and partial downloads that no image refers to any more;
   * returns the bytes of blobs and downloads removed. Under the exclusive lock no pull is in
   * flight (pulls hold the shared one), so a partial download is one a killed pull left.
   */
  private async collectGarbage(images: ImagesFile): Promise<number> {
    const liveBlobs = new Set<string>();
    const liveChains = new Set<string>();
    for (const record of Object.values(images.images)) {
      const manifest = await this.readManifest(record.manifest);
      const config = await this.readConfig(manifest.config.digest);
      for (const d of [record.manifest, manifest.config.digest, ...manifest.layers.map((l) => l.digest)])
        liveBlobs.add(d);
      for (const c of chainIds(config.rootfs.diff_ids)) liveChains.add(digestHex(c));
    }
    let reclaimed = 0;
    for (const digest of await this.blobs.list()) {
      if (liveBlobs.has(digest)) continue;
      reclaimed += (await statIfExists(this.blobs.path(digest)))?.size ?? 0;
      await this.blobs.remove(digest);
    }
    for (const name of await this.layers.list()) {
      if (!liveChains.has(name.slice(0, 64))) await this.layers.remove(name);
    }
    const downloads = join(this.root, 'downloads');
    for (const name of (await statIfExists(downloads)) === undefined ? [] : await readdir(downloads)) {
      reclaimed += (await statIfExists(join(downloads, name)))?.size ?? 0;
      await rm(join(downloads, name), { force: true });
    }
    return reclaimed;
  }

  /** Clears temporaries a killed holder of the lock left behind. */
  private async removeStale(): Promise<void> {
    for (const name of await readdir(this.ingestDir))
      await rm(join(this.ingestDir, name), { recursive: true, force: true });
    await this.layers.removeStale();
  }

  /** Lets TsdockErrors through and turns anything else (an errno) into a `STORE` error. */
  private async guard<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof TsdockError) throw err;
      throw new TsdockError('STORE', `image store ${this.root}: ${(err as Error).message}`, { cause: err });
    }
  }
}

function loaded(images: ImportedImage[]): LoadedImage[] {
  return images.map(({ id, names }) => ({ id, names: names.map((n) => familiarReference(parseReference(n))) }));
}
