/**
 * The content-addressed blob store: `blobs/sha256/<hex>`, each file's name its content's digest.
 * A blob enters through a temporary file in `ingest/`, is checked against the digest and size
 * its descriptor promised, fsynced, and only then renamed into place (as containerd's local
 * content store does): nothing unverified is ever visible under `blobs/`.
 */
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { TsdockError } from '../errors.js';
import { Digester, digestHex, digesting, isDigest, sha256Digest, type Digest } from './digest.js';
import {
  fsyncDir,
  lstatIfExists,
  readIfExists,
  statIfExists,
  tempName,
  writeAll,
  writeNewFileSynced,
} from './fs-util.js';

/** What a descriptor promises about a blob. */
export interface BlobExpectation {
  digest: Digest;
  size: number;
}

export class BlobStore {
  private readonly dir: string;
  private readonly ingestDir: string;

  /** `root` is the store root; blobs go to `root/blobs/sha256`, temporaries to `root/ingest`. */
  constructor(root: string) {
    this.dir = join(root, 'blobs', 'sha256');
    this.ingestDir = join(root, 'ingest');
  }

  async init(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    await mkdir(this.ingestDir, { recursive: true });
  }

  path(digest: Digest): string {
    return join(this.dir, digestHex(digest));
  }

  async has(digest: Digest): Promise<boolean> {
    return (await lstatIfExists(this.path(digest))) !== undefined;
  }

  /** A stored blob's bytes (it was verified when it came in). */
  async read(digest: Digest): Promise<Buffer> {
    return readFile(this.path(digest));
  }

  /** Every stored blob's digest. */
  async list(): Promise<Digest[]> {
    return (await readdir(this.dir)).map((hex) => `sha256:${hex}`).filter(isDigest);
  }

  async remove(digest: Digest): Promise<void> {
    await rm(this.path(digest), { force: true });
  }

  private async publish(temp: string, digest: Digest): Promise<void> {
    await rename(temp, this.path(digest));
    await fsyncDir(this.dir);
  }

  /**
   * Adds the file at `source` as the blob `expected` describes, copying it, or moving it when
   * `move` is set (it must then be on the store's file system). `where` names the source in
   * errors. Returns whether the blob is new (false: the store had it already).
   *
   * @throws TsdockError `INVALID_IMAGE` when the file is missing or does not match.
   */
  async ingestFile(source: string, expected: BlobExpectation, where: string, move = false): Promise<boolean> {
    if (await this.has(expected.digest)) return false;
    const st = await statIfExists(source);
    if (st?.isFile() !== true) throw new TsdockError('INVALID_IMAGE', `${where}: blob ${expected.digest} is missing`);
    if (st.size !== expected.size) throw sizeMismatch(where, expected, st.size);

    const digester = new Digester();
    const temp = move ? source : join(this.ingestDir, tempName('blob-'));
    try {
      const handle = await open(temp, move ? 'r+' : 'wx', 0o644);
      try {
        const content = digesting(createReadStream(source), digester);
        for await (const chunk of content) if (!move) await writeAll(handle, chunk);
        if (digester.size !== expected.size) throw sizeMismatch(where, expected, digester.size);
        const actual = digester.digest();
        if (actual !== expected.digest) {
          throw new TsdockError('INVALID_IMAGE', `${where}: blob ${expected.digest} has digest ${actual}`);
        }
        await handle.sync();
      } finally {
        await handle.close();
      }
      await this.publish(temp, expected.digest);
    } catch (err) {
      if (!move) await rm(temp, { force: true });
      throw err;
    }
    return true;
  }

  /**
   * Adds a blob held in memory (a manifest tsdock wrote, or one it read and checked). Returns
   * its digest and whether it is new.
   */
  async ingestBytes(data: Buffer): Promise<{ digest: Digest; created: boolean }> {
    const digest = sha256Digest(data);
    if (await this.has(digest)) return { digest, created: false };
    const temp = join(this.ingestDir, tempName('blob-'));
    try {
      await writeNewFileSynced(temp, data);
      await this.publish(temp, digest);
    } catch (err) {
      await rm(temp, { force: true });
      throw err;
    }
    return { digest, created: true };
  }
}

function sizeMismatch(where: string, expected: BlobExpectation, actual: number): TsdockError {
  return new TsdockError(
    'INVALID_IMAGE',
    `${where}: blob ${expected.digest} is ${actual} bytes, expected ${expected.size}`,
  );
}

/**
 * Reads a small blob (a manifest, config or index) from a file and checks it against its
 * descriptor; `limit` bounds what is read into memory.
 *
 * @throws TsdockError `INVALID_IMAGE` when missing, too large or not matching.
 */
export async function readVerified(
  path: string | undefined,
  expected: BlobExpectation,
  where: string,
  limit: number,
): Promise<Buffer> {
  if (expected.size > limit) throw new TsdockError('INVALID_IMAGE', `${where}: ${expected.size} bytes is too large`);
  const data = path === undefined ? undefined : await readIfExists(path);
  if (data === undefined) throw new TsdockError('INVALID_IMAGE', `${where}: blob ${expected.digest} is missing`);
  if (data.length !== expected.size) throw sizeMismatch(where, expected, data.length);
  const actual = sha256Digest(data);
  if (actual !== expected.digest)
    throw new TsdockError('INVALID_IMAGE', `${where}: blob ${expected.digest} has digest ${actual}`);
  return data;
}
