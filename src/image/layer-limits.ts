/**
 * Caps on what one layer may unpack to. A layer is untrusted input and gzip compresses a run of
 * zeros about a thousandfold, so a small blob can ask for terabytes, millions of files or paths
 * nested past what any tool can remove; unpacking stops at the first cap a layer crosses, and the
 * unpack's temporary directory is removed as for any other failure.
 */
import { TsdockError } from '../errors.js';

export interface LayerLimits {
  /** Bytes of the uncompressed tar stream. */
  maxSize: number;
  /** Bytes of one member's content. */
  maxEntrySize: number;
  /** Members of the archive. */
  maxEntries: number;
  /** Components of one member's path (`a/b/c` is 3). */
  maxDepth: number;
}

/**
 * Far above real images (the largest public layers are a few tens of GiB and a few hundred
 * thousand files; PATH_MAX allows at most 2048 components), far below what fills a disk.
 */
export const DEFAULT_LAYER_LIMITS: LayerLimits = {
  maxSize: 64 * 1024 ** 3,
  maxEntrySize: 64 * 1024 ** 3,
  maxEntries: 4_000_000,
  maxDepth: 256,
};

/** How each cap is spelled in `--layer-limits` / `TSDOCK_LAYER_LIMITS`. */
export const LAYER_LIMIT_KEYS: Record<keyof LayerLimits, string> = {
  maxSize: 'size',
  maxEntrySize: 'file-size',
  maxEntries: 'entries',
  maxDepth: 'depth',
};

function describe(key: keyof LayerLimits, value: number): string {
  if (key === 'maxEntries' || key === 'maxDepth') return String(value);
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
  let n = value;
  let unit = 0;
  while (n >= 1024 && n % 1024 === 0 && unit < units.length - 1) {
    n /= 1024;
    unit++;
  }
  return `${String(n)} ${units[unit] ?? ''}`;
}

/** The error for a layer over one cap: what was crossed, and how to raise it. */
export function overLimit(key: keyof LayerLimits, limits: LayerLimits, what: string): TsdockError {
  const name = LAYER_LIMIT_KEYS[key];
  return new TsdockError(
    'INVALID_IMAGE',
    `${what} over the layer ${name} limit of ${describe(key, limits[key])} ` +
      `(raise it with --layer-limits ${name}=N or TSDOCK_LAYER_LIMITS)`,
  );
}
