/**
 * The worker-thread side of {@link WorkerUnpacker}: unpacks one layer from the chunks the main
 * thread posts (see `worker-unpacker.ts` for the protocol). Unpacking is the CPU-bound part of a
 * pull (tar parsing, diff_id hashing, a syscall per member), so each layer gets a thread of its
 * own and several layers use several cores.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { TsdockError } from '../../errors.js';
import type { Digest } from '../digest.js';
import type { LayerLimits } from '../layer-limits.js';
import { unpackLayer } from '../unpack.js';
import { Channel } from './channel.js';

/** What the main thread sends. */
export type ToWorker = { chunk: Uint8Array } | { end: true } | { fail: string };
/** What the worker answers. */
export type FromWorker =
  { consumed: number } | { done: true } | { error: { code: string | undefined; message: string } };

interface Job {
  dest: string;
  diffId: Digest;
  limits: LayerLimits;
}

const port = parentPort;
if (port !== null) {
  const { dest, diffId, limits } = workerData as Job;
  const channel = new Channel(Number.POSITIVE_INFINITY);
  port.on('message', (message: ToWorker) => {
    if ('chunk' in message)
      void channel.push(Buffer.from(message.chunk.buffer, message.chunk.byteOffset, message.chunk.length));
    else if ('end' in message) channel.end();
    else channel.fail(new TsdockError('REGISTRY', message.fail));
  });
  async function* counted(): AsyncGenerator<Buffer> {
    for await (const chunk of channel) {
      yield chunk;
      port?.postMessage({ consumed: chunk.length } satisfies FromWorker);
    }
  }
  unpackLayer(counted(), dest, { expectedDiffId: diffId, limits }).then(
    () => {
      port.postMessage({ done: true } satisfies FromWorker);
    },
    (err: unknown) => {
      const code = err instanceof TsdockError ? err.code : undefined;
      port.postMessage({ error: { code, message: (err as Error).message } } satisfies FromWorker);
    },
  );
}
