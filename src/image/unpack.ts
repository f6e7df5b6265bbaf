/**
 * Unpacking one layer blob into a directory in overlayfs form (see `whiteout.ts`), verifying its
 * uncompressed digest (the diff_id) on the way.
 *
 * Why our own tar reader (`tar-reader.ts`) and not node-tar: tar@7's `Parser` decodes pax records
 * as UTF-8 text, which corrupts binary xattr values such as `security.capability`, and its
 * `Unpack` sets no xattrs, cannot shift owners for a user namespace, creates no device nodes and
 * would need a second pass over the tree for all three. Owning the reader keeps every member's
 * handling in one place (`layer-fs.ts`) and one pass. Measured on this host (2 vCPU), unpacking
 * a 74 MB gzip / 150 MB tar / 8476-member layer (`/usr/share/{doc,perl,zoneinfo,i18n}`) into
 * tmpfs, 4 runs each: this unpacker 1.5-1.8 s (1 outlier 2.9 s); tar@7 `Unpack` behind the same
 * gunzip + sha256, without xattrs or owner shift, 5.3-7.2 s; GNU tar 1.34 0.9-1.3 s. The tree
 * it produced was identical to GNU tar's (content, modes, owners, mtimes, links).
 */
import { Digester, digesting, type Digest } from './digest.js';
import { decompress } from './compression.js';
import { entryComponents } from './entry-path.js';
import type { IdMapping } from './id-mapping.js';
import { LayerDir } from './layer-fs.js';
import { DEFAULT_LAYER_LIMITS, overLimit, type LayerLimits } from './layer-limits.js';
import { readTar } from './tar-reader.js';
import { classifyLayerEntry } from './whiteout.js';
import { TsdockError } from '../errors.js';

export interface UnpackOptions {
  /** Shift every owner into this user-namespace mapping. */
  idMapping?: IdMapping | undefined;
  /** The diff_id the image config promises; a mismatch fails the unpack. */
  expectedDiffId?: Digest | undefined;
  /** Caps on size, members and nesting (default {@link DEFAULT_LAYER_LIMITS}). */
  limits?: LayerLimits | undefined;
}

export interface UnpackResult {
  /** sha256 of the uncompressed tar stream. */
  diffId: Digest;
  /** Bytes of the uncompressed tar stream. */
  size: number;
  /** Character and block devices in the layer that were not created (whiteouts excepted). */
  skippedDevices: number;
}

/**
 * Unpacks a layer (tar, or gzip-compressed tar) from `source` into `dest`, an existing empty
 * directory. On failure `dest` holds a partial tree: the caller unpacks into a temporary
 * directory and removes it.
 *
 * @throws TsdockError `INVALID_IMAGE` for a malformed layer, a member that would escape `dest`,
 *   a layer over one of `limits`, or a diff_id mismatch; `INVALID_ARGUMENT` when an owner lies
 *   outside `idMapping`.
 * @example
 * await unpackLayer(createReadStream(blob), tmp, { expectedDiffId: config.rootfs.diff_ids[0] });
 */
export async function unpackLayer(
  source: AsyncIterable<Buffer>,
  dest: string,
  options: UnpackOptions = {},
): Promise<UnpackResult> {
  const limits = options.limits ?? DEFAULT_LAYER_LIMITS;
  const dir = await LayerDir.open(dest, options.idMapping);
  const digester = new Digester();
  let entries = 0;
  for await (const entry of readTar(digesting(capped(await decompress(source), limits), digester))) {
    if (++entries > limits.maxEntries) throw overLimit('maxEntries', limits, 'number of members');
    const components = entryComponents(entry.path);
    if (components.length > limits.maxDepth) {
      throw overLimit('maxDepth', limits, `archive member ${JSON.stringify(entry.path.slice(0, 200))}`);
    }
    if (entry.size > limits.maxEntrySize) {
      throw overLimit('maxEntrySize', limits, `archive member ${JSON.stringify(entry.path.slice(0, 200))}`);
    }
    const meaning = classifyLayerEntry(components);
    if (meaning.kind === 'whiteout') dir.whiteout(meaning.target, entry);
    else if (meaning.kind === 'opaque') dir.opaque(meaning.dir);
    else if (meaning.kind === 'entry') await dir.put(components, entry, entry.body);
  }
  dir.finish();
  const diffId = digester.digest();
  if (options.expectedDiffId !== undefined && diffId !== options.expectedDiffId) {
    throw new TsdockError(
      'INVALID_IMAGE',
      `layer content does not match its diff_id: expected ${options.expectedDiffId}, got ${diffId}`,
    );
  }
  return { diffId, size: digester.size, skippedDevices: dir.skippedDevices };
}

/** The uncompressed stream, failing as soon as it grows past the size cap. */
async function* capped(source: AsyncIterable<Buffer>, limits: LayerLimits): AsyncGenerator<Buffer> {
  let size = 0;
  for await (const chunk of source) {
    size += chunk.length;
    if (size > limits.maxSize) throw overLimit('maxSize', limits, 'uncompressed size');
    yield chunk;
  }
}
