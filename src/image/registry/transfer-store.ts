/**
 * The image store as registry transfers use it. A pull must not hold the store's exclusive lock
 * while it waits on the network, so it works under the *shared* lock (no `rmi`/GC can run, other
 * pulls and runs can) and serialises with other processes per blob instead: the partial download
 * `downloads/<hex>` is itself the lock (flock(2)), held while that blob is fetched and its layer
 * unpacked. Only the final naming of the image takes the exclusive lock, and re-checks there
 * that every blob and layer it names is still present.
 *
 * `downloads/` survives a killed pull (unlike `ingest/`, which the store clears): the next pull
 * re-hashes the partial file and asks the registry only for the rest (HTTP Range).
 */
import { createReadStream } from 'node:fs';
import { chmod, mkdir, mkdtemp, open, readdir, readFile, rename, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { constants } from 'node:fs';
import { TsdockError } from '../../errors.js';
import { native } from '../../native.js';
import { BlobStore } from '../blob-store.js';
import { digestHex, type Digest } from '../digest.js';
import { fsyncDir, readIfExists, statIfExists } from '../fs-util.js';
import { emptyImagesFile, findImage, parseImagesFile, type ImagesFile } from '../image-index.js';
import { LayerStore, TEMP_PREFIX } from '../layer-store.js';
import { DEFAULT_LAYER_LIMITS, type LayerLimits } from '../layer-limits.js';
import { StoreLock } from '../lock.js';
import { openImageStore } from '../store.js';

/** Partial downloads untouched this long are abandoned, not resumed. */
const STALE_DOWNLOAD_MS = 7 * 24 * 60 * 60 * 1000;

/** An image as push reads it from the store. */
export interface StoredImage {
  id: Digest;
  manifestDigest: Digest;
  manifest: Buffer;
  /** Canonical names of the image (`127.0.0.1:5000/team/app:v1`). */
  names: string[];
}

export class TransferStore {
  private readonly blobs: BlobStore;
  private readonly layers: LayerStore;
  private readonly lock: StoreLock;
  private readonly downloads: string;
  private readonly imagesPath: string;

  /** `root` is an initialised image store (see `openImageStore`). */
  constructor(
    readonly root: string,
    readonly layerLimits: LayerLimits = DEFAULT_LAYER_LIMITS,
  ) {
    this.blobs = new BlobStore(root);
    this.layers = new LayerStore(root, layerLimits);
    // Clearing stale temporaries is the store's business at its own exclusive holds.
    this.lock = new StoreLock(join(root, 'lock'), () => Promise.resolve());
    this.downloads = join(root, 'downloads');
    this.imagesPath = join(root, 'images.json');
  }

  /** Creates `downloads/` and drops partial downloads nobody has resumed for a week. */
  async init(): Promise<void> {
    await mkdir(this.downloads, { recursive: true });
    // Safe without the blob's lock: a holder writes (fresh mtime); a waiter re-checks the
    // inode once it has the lock and starts over with a new file.
    const cutoff = Date.now() - STALE_DOWNLOAD_MS;
    for (const name of await readdir(this.downloads)) {
      const st = await statIfExists(join(this.downloads, name));
      if (st !== undefined && st.mtimeMs < cutoff) await rm(join(this.downloads, name), { force: true });
    }
  }

  /** Runs `fn` under the store's shared lock (no garbage collection meanwhile). */
  shared<T>(fn: () => Promise<T>): Promise<T> {
    return this.lock.run('shared', fn);
  }

  hasBlob(digest: Digest): Promise<boolean> {
    return this.blobs.has(digest);
  }

  blobPath(digest: Digest): string {
    return this.blobs.path(digest);
  }

  hasLayer(chainId: Digest): Promise<boolean> {
    return this.layers.has(chainId, undefined);
  }

  /**
   * Runs `fn` holding the download lock of blob `digest`, with the partial file open for
   * writing. Waits while another process (or task) holds it.
   */
  async withBlobLock<T>(digest: Digest, fn: (partial: FileHandle, path: string) => Promise<T>): Promise<T> {
    const path = join(this.downloads, digestHex(digest));
    for (;;) {
      const handle = await open(path, constants.O_RDWR | constants.O_CREAT, 0o644);
      try {
        await native().flock(handle.fd, 'exclusive');
        // The holder before us may have renamed the file into blobs/ or removed it: then our
        // descriptor names a file no longer at `path`, and we start over with a fresh one.
        const [mine, there] = [await handle.stat(), await statIfExists(path)];
        if (there === undefined || mine.ino !== there.ino || mine.dev !== there.dev) continue;
        try {
          return await fn(handle, path);
        } finally {
          // An empty partial is only a lock: remove it (a waiter notices, see above). One that
          // holds bytes stays, for the next pull to resume.
          if ((await statIfExists(path))?.size === 0) await rm(path, { force: true });
        }
      } finally {
        await handle.close();
      }
    }
  }

  /** Moves a verified, fsynced download into `blobs/`. */
  async publishBlob(path: string, digest: Digest): Promise<void> {
    await rename(path, this.blobs.path(digest));
    await fsyncDir(join(this.root, 'blobs', 'sha256'));
  }

  /** Removes a download that can never complete (wrong content). */
  async discardDownload(path: string): Promise<void> {
    await rm(path, { force: true });
  }

  /**
   * Has `unpack` fill a fresh temporary directory with a layer (checking its diff_id), waits for
   * `verified` (the compressed blob's digest check), and only then renames it into place.
   */
  async unpackLayer(
    chainId: Digest,
    unpack: (dir: string) => Promise<void>,
    where: string,
    verified: () => Promise<void>,
  ): Promise<void> {
    const temp = await mkdtemp(join(this.layers.dir, TEMP_PREFIX));
    try {
      await chmod(temp, 0o755);
      await unpack(temp);
      await verified();
      try {
        await rename(temp, this.layers.path(chainId, undefined));
      } catch (err) {
        // The same layer (same chain) arrived meanwhile from a differently compressed blob.
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
        await rm(temp, { recursive: true, force: true });
      }
    } catch (err) {
      await rm(temp, { recursive: true, force: true });
      if (err instanceof TsdockError && !err.message.startsWith(where)) {
        throw new TsdockError(err.code, `${where}: ${err.message}`, { cause: err });
      }
      throw err;
    }
    await fsyncDir(this.layers.dir);
  }

  /** A stored layer blob's bytes, as a stream. */
  readBlob(digest: Digest): AsyncIterable<Buffer> {
    return createReadStream(this.blobs.path(digest), { highWaterMark: 1024 * 1024 });
  }

  /**
   * Names an image whose blobs and layers a pull has stored, through the image store (its
   * exclusive lock, its images.json). Returns `false`, changing nothing, when a blob or layer it
   * needs has gone (a garbage collection ran between the two locks).
   */
  async commit(
    manifest: Buffer,
    config: Buffer,
    needs: { blobs: Digest[]; chains: Digest[] },
    names: string[],
    created: string,
  ): Promise<boolean> {
    return (await openImageStore(this.root)).addPulled(manifest, config, needs, names, created);
  }

  /**
   * The image `ref` names, for pushing; call it under {@link shared}.
   *
   * @throws TsdockError `IMAGE_NOT_FOUND`.
   */
  async readImage(ref: string): Promise<StoredImage> {
    const found = findImage(await this.readImages(), ref);
    return {
      id: found.id,
      manifestDigest: found.record.manifest,
      manifest: await readFile(this.blobs.path(found.record.manifest)),
      names: found.record.names,
    };
  }

  private async readImages(): Promise<ImagesFile> {
    const bytes = await readIfExists(this.imagesPath);
    return bytes === undefined ? emptyImagesFile() : parseImagesFile(bytes, this.imagesPath);
  }
}

/**
 * Runs a transfer, letting TsdockErrors through and turning anything else (an errno from the
 * store's files) into a `STORE` error naming the store.
 */
export async function guardStore<T>(root: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof TsdockError) throw err;
    throw new TsdockError('STORE', `image store ${root}: ${(err as Error).message}`, { cause: err });
  }
}
