/**
 * Downloading one blob into its partial file, verified while it streams: every byte is hashed
 * (sha256 of the compressed blob, against the descriptor) and counted (against its size) on the
 * way to disk, and handed to an optional sink (the layer unpacker) in order. What is already in
 * the partial file is re-hashed and asked for no more: the request says `Range: bytes=N-`. A
 * connection that drops mid-body is picked up the same way, from where it stopped.
 */
import type { FileHandle } from 'node:fs/promises';
import { TsdockError } from '../../errors.js';
import { Digester } from '../digest.js';
import type { Descriptor } from '../oci.js';
import type { RegistryClient } from './client.js';
import { describeNetworkError } from './http.js';

/** Where the blob's bytes go besides the partial file: the layer unpacker. */
export interface BlobSink {
  /** Takes a chunk; resolves when the sink is ready for more. */
  push(chunk: Buffer): Promise<void>;
  /** Every byte was pushed and the blob verified. */
  end(): void;
  /** The download failed; the sink must not use what it got. */
  fail(error: unknown): void;
}

export interface BlobDownload {
  client: RegistryClient;
  repository: string;
  scopes: string[];
  desc: Descriptor;
  /** The partial file, locked by the caller. */
  partial: FileHandle;
  /** Receives every byte of the blob in order; ended only once the blob is verified. */
  sink?: BlobSink | undefined;
  /** Called as bytes arrive: (bytes so far, total, whether this call started from a partial file). */
  onProgress?: ((current: number, total: number, resumed: boolean) => void) | undefined;
  signal?: AbortSignal | undefined;
  /** Body read attempts before giving up (default 5). */
  attempts?: number;
}

/** Bytes between progress reports. */
const PROGRESS_STEP = 512 * 1024;

/**
 * Fills `partial` with the blob and verifies it. On return the file holds exactly the blob,
 * fsynced; the caller publishes it.
 *
 * @throws TsdockError `INVALID_IMAGE` when the content does not match the descriptor (the
 *   partial file is then emptied: resuming it could never succeed); `REGISTRY` or
 *   `UNAUTHORIZED` when the registry fails.
 */
export async function downloadBlob(d: BlobDownload): Promise<void> {
  const { desc, partial, sink } = d;
  const what = `${d.client.domain}/${d.repository}@${desc.digest}`;
  const digester = new Digester();
  let offset = (await partial.stat()).size;
  if (offset > desc.size) {
    await partial.truncate(0);
    offset = 0;
  }
  const resumed = offset > 0;
  const state = { replayed: false };
  let lastReport = -PROGRESS_STEP;
  const report = (): void => {
    if (digester.size - lastReport < PROGRESS_STEP && digester.size !== desc.size) return;
    lastReport = digester.size;
    d.onProgress?.(digester.size, desc.size, resumed);
  };

  /** Feeds what the partial file holds (up to `offset`) through the digester and the sink, once. */
  const replay = async (): Promise<void> => {
    if (state.replayed) return;
    state.replayed = true;
    if (offset === 0) return;
    const stream = partial.createReadStream({
      start: 0,
      end: offset - 1,
      autoClose: false,
      highWaterMark: 1024 * 1024,
    });
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      digester.update(chunk);
      await sink?.push(chunk);
      report();
    }
  };

  try {
    const attempts = d.attempts ?? 5;
    for (let attempt = 1; offset < desc.size; attempt++) {
      const headers: Record<string, string> = offset > 0 ? { range: `bytes=${offset}-` } : {};
      const res = await d.client.request({
        method: 'GET',
        path: `/v2/${d.repository}/blobs/${desc.digest}`,
        scopes: d.scopes,
        headers,
        signal: d.signal,
      });
      if (res.status === 200 && offset > 0) {
        // The server ignored the range: start over (nothing was replayed yet if this is the first answer).
        if (state.replayed) {
          await res.body.dump();
          throw new TsdockError('REGISTRY', `${what}: the registry stopped honouring Range requests mid-download`);
        }
        await partial.truncate(0);
        offset = 0;
      } else if (res.status === 206) {
        const range = /^bytes (\d+)-/.exec(res.headers['content-range'] ?? '');
        if (range?.[1] === undefined || Number(range[1]) !== offset) {
          await res.body.dump();
          throw new TsdockError('REGISTRY', `${what}: the registry answered a different range than asked for`);
        }
      } else if (res.status === 404) {
        await res.body.dump();
        throw new TsdockError('IMAGE_NOT_FOUND', `${what}: blob unknown to the registry`);
      } else if (res.status !== 200) {
        throw await d.client.failure(res, what);
      }
      await replay();
      try {
        for await (const chunk of res.body as AsyncIterable<Buffer>) {
          if (offset + chunk.length > desc.size) {
            throw new TsdockError(
              'INVALID_IMAGE',
              `${what}: blob is larger than the ${desc.size} bytes its descriptor says`,
            );
          }
          // The disk write (thread pool) and the hand-off to the unpacker overlap.
          digester.update(chunk);
          await Promise.all([writeAt(partial, chunk, offset), sink?.push(chunk)]);
          offset += chunk.length;
          report();
        }
      } catch (err) {
        if (err instanceof TsdockError || d.signal?.aborted === true || attempt >= attempts)
          throw wrapBodyError(err, what);
        continue; // the connection dropped or stalled: ask for the rest
      }
      if (offset < desc.size && attempt >= attempts) {
        throw new TsdockError('REGISTRY', `${what}: the registry ended the blob after ${offset} of ${desc.size} bytes`);
      }
    }
    await replay();
    const actual = digester.digest();
    if (digester.size !== desc.size || actual !== desc.digest) {
      await partial.truncate(0);
      throw new TsdockError(
        'INVALID_IMAGE',
        `${what}: digest mismatch: the registry sent content with digest ${actual}`,
      );
    }
    await partial.sync();
    sink?.end();
  } catch (err) {
    sink?.fail(err);
    throw err;
  }
}

function wrapBodyError(err: unknown, what: string): unknown {
  if (err instanceof TsdockError) return err;
  return new TsdockError('REGISTRY', `${what}: ${describeNetworkError(err)}`, { cause: err });
}

/** Writes all of `chunk` at `position` (a single pwrite(2) may write less). */
async function writeAt(file: FileHandle, chunk: Buffer, position: number): Promise<void> {
  for (let done = 0; done < chunk.length;) {
    done += (await file.write(chunk, done, chunk.length - done, position + done)).bytesWritten;
  }
}
