/**
 * Unpacked layers: `layers/<chain-id hex>[<mapping suffix>]/`, ready to be overlay lower dirs.
 * A layer is unpacked into a temporary `layers/.tmp-*` directory and renamed into place only
 * once complete and verified, so a directory under its final name is always whole; it is never
 * written again. Removal renames it away first, for the same reason. Before the rename the
 * whole file system is synced once: a layer is never verified again, so one renamed into place
 * with its data still in the page cache would, after a power cut, stay a layer of empty files
 * for good (containerd's `sync_fs` option exists for that failure, containerd#8895).
 */
import { createReadStream } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { TsdockError } from '../errors.js';
import { digestHex, type Digest } from './digest.js';
import { fsyncDir, lstatIfExists, syncFileSystem, tempName } from './fs-util.js';
import { mappingSuffix, type IdMapping } from './id-mapping.js';
import { DEFAULT_LAYER_LIMITS, type LayerLimits } from './layer-limits.js';
import { unpackLayer } from './unpack.js';

/** Names of work in progress under `layers/`; never a hex digest, so never a layer. */
export const TEMP_PREFIX = '.tmp-';

export class LayerStore {
  readonly dir: string;

  constructor(
    root: string,
    private readonly limits: LayerLimits = DEFAULT_LAYER_LIMITS,
  ) {
    this.dir = join(root, 'layers');
  }

  async init(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
  }

  /** The name (under `layers/`) of the layer with this chain ID, unpacked for `mapping`. */
  name(chainId: Digest, mapping: IdMapping | undefined): string {
    return digestHex(chainId) + mappingSuffix(mapping);
  }

  /** The directory of the layer with this chain ID, unpacked for `mapping`. */
  path(chainId: Digest, mapping: IdMapping | undefined): string {
    return join(this.dir, this.name(chainId, mapping));
  }

  async has(chainId: Digest, mapping: IdMapping | undefined): Promise<boolean> {
    return (await lstatIfExists(this.path(chainId, mapping))) !== undefined;
  }

  /**
   * Unpacks `blob` as the layer `chainId`, checking that its content is `diffId`. `where` names
   * the layer in errors. On any failure nothing is left behind.
   */
  async unpack(
    chainId: Digest,
    mapping: IdMapping | undefined,
    blob: string,
    diffId: Digest,
    where: string,
  ): Promise<void> {
    const temp = await mkdtemp(join(this.dir, TEMP_PREFIX));
    try {
      await chmod(temp, 0o755);
      await unpackLayer(createReadStream(blob), temp, {
        idMapping: mapping,
        expectedDiffId: diffId,
        limits: this.limits,
      });
      await syncFileSystem(temp);
      await rename(temp, this.path(chainId, mapping));
    } catch (err) {
      await rm(temp, { recursive: true, force: true });
      if (err instanceof TsdockError) throw new TsdockError(err.code, `${where}: ${err.message}`, { cause: err });
      throw err;
    }
    await fsyncDir(this.dir);
  }

  /** The names of all complete layer directories. */
  async list(): Promise<string[]> {
    return (await readdir(this.dir)).filter((name) => !name.startsWith(TEMP_PREFIX));
  }

  /** Removes a layer directory by name (as `list` returns it). */
  async remove(name: string): Promise<void> {
    const doomed = join(this.dir, tempName(TEMP_PREFIX));
    await rename(join(this.dir, name), doomed);
    await rm(doomed, { recursive: true, force: true });
  }

  /** Removes what killed processes left in progress (only while holding the store lock). */
  async removeStale(): Promise<void> {
    for (const name of await readdir(this.dir)) {
      if (name.startsWith(TEMP_PREFIX)) await rm(join(this.dir, name), { recursive: true, force: true });
    }
  }
}
