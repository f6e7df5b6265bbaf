/**
 * Typed progress of a pull or push, one event per change; the CLI renders them (bars on a TTY,
 * lines otherwise) and a library user may subscribe. Nothing under `image/` prints.
 */
import type { Digest } from '../digest.js';

/** What is happening to one layer (or the config) of a transfer. */
export type LayerStatus =
  | 'waiting'
  | 'exists'
  | 'downloading'
  | 'resuming'
  | 'verifying'
  | 'extracting'
  | 'complete'
  | 'pushing'
  | 'mounted'
  | 'pushed';

export type ProgressEvent =
  /** The reference resolved to this manifest (or index) digest. */
  | { type: 'resolved'; reference: string; digest: Digest }
  /**
   * A layer changed status, or made progress: `current` of `total` bytes (of the compressed
   * blob for downloads and uploads).
   */
  | { type: 'layer'; digest: Digest; status: LayerStatus; current?: number; total?: number }
  /** The transfer finished: the image's ID and the manifest digest now on both sides. */
  | { type: 'done'; reference: string; id: Digest; digest: Digest };

export type ProgressListener = (event: ProgressEvent) => void;
