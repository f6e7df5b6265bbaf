/**
 * Unpacking a layer on a worker thread, fed chunk by chunk as the blob downloads. The main thread
 * keeps the network, the compressed digest and the partial file; the worker decompresses, parses
 * the tar, writes the files and checks the diff_id. Protocol: the main thread posts `{chunk}`
 * (copied), then `{end}` or `{fail}`; the worker answers `{consumed: n}` as it uses chunks (the
 * main thread stops posting while more than {@link WINDOW} bytes are unconsumed), then `{done}`
 * or `{error}`.
 *
 * The worker runs the compiled `unpack-worker.js` (tsc output under `dist/src`); when there is
 * none (tests run from the TypeScript sources before a build), {@link WorkerUnpacker.create}
 * returns `undefined` and the caller unpacks on the main thread.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { TsdockError, type ErrorCode } from '../../errors.js';
import type { Digest } from '../digest.js';
import type { LayerLimits } from '../layer-limits.js';
import type { FromWorker, ToWorker } from './unpack-worker.js';

/** Bytes posted but not yet consumed before `push` waits. */
const WINDOW = 8 * 1024 * 1024;

/** `unpack-worker.js` beside this module (dist/src), or in dist/src from a bundle or the sources. */
function workerScript(): string | undefined {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [
    join(here, 'unpack-worker.js'),
    join(here, '..', '..', '..', 'dist', 'src', 'image', 'registry', 'unpack-worker.js'),
    join(here, '..', 'src', 'image', 'registry', 'unpack-worker.js'),
  ];
  return candidates.find((p) => existsSync(p));
}

export class WorkerUnpacker {
  private inFlight = 0;
  private wake: (() => void) | undefined;
  /** The worker failed or finished: it consumes no more, so `push` must not wait for it. */
  private stopped = false;
  /** Settles when the worker has unpacked the layer (or failed to). */
  readonly done: Promise<void>;

  private constructor(private readonly worker: Worker) {
    this.done = new Promise<void>((resolve, reject) => {
      worker.on('message', (message: FromWorker) => {
        if ('consumed' in message) {
          this.inFlight -= message.consumed;
          if (this.inFlight <= WINDOW) this.release();
        } else if ('done' in message) {
          this.stopped = true;
          this.release();
          resolve();
        } else {
          this.stopped = true;
          this.release();
          reject(new TsdockError((message.error.code ?? 'INVALID_IMAGE') as ErrorCode, message.error.message));
        }
      });
      worker.on('error', (err) => {
        this.stopped = true;
        this.release();
        reject(err);
      });
    }).finally(() => worker.terminate());
  }

  /**
   * A worker unpacking into `dest`, checking `diffId` and `limits`; `undefined` when no worker
   * script is built.
   */
  static create(dest: string, diffId: Digest, limits: LayerLimits): WorkerUnpacker | undefined {
    const script = workerScript();
    if (script === undefined) return undefined;
    return new WorkerUnpacker(new Worker(script, { workerData: { dest, diffId, limits } }));
  }

  /** A method, not the field: the worker's messages change it while `push` waits. */
  private isStopped(): boolean {
    return this.stopped;
  }

  private release(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  /** Posts a chunk; resolves once the worker is not too far behind. */
  async push(chunk: Buffer): Promise<void> {
    if (this.stopped) return;
    this.inFlight += chunk.length;
    this.worker.postMessage({ chunk } satisfies ToWorker);
    while (this.inFlight > WINDOW && !this.isStopped()) await new Promise<void>((resolve) => (this.wake = resolve));
  }

  end(): void {
    if (!this.stopped) this.worker.postMessage({ end: true } satisfies ToWorker);
  }

  fail(error: unknown): void {
    if (!this.stopped)
      this.worker.postMessage({ fail: error instanceof Error ? error.message : String(error) } satisfies ToWorker);
  }
}
