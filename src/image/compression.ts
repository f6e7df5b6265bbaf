/**
 * Recognising and undoing a layer's compression by its magic bytes, not by its media type:
 * `docker save` writes uncompressed layers under gzip media types and vice versa, and the bytes
 * never lie.
 */
import { Readable, pipeline } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { Decompress as ZstdDecoder } from 'fzstd';
import { TsdockError } from '../errors.js';

export type Compression = 'none' | 'gzip' | 'zstd' | 'bzip2' | 'xz';

const MAGIC: [Compression, number[]][] = [
  ['gzip', [0x1f, 0x8b]],
  ['zstd', [0x28, 0xb5, 0x2f, 0xfd]],
  ['bzip2', [0x42, 0x5a, 0x68]],
  ['xz', [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]],
];

/** The compression a stream starting with `head` uses (6 bytes are enough to tell). */
export function detectCompression(head: Buffer): Compression {
  const found = MAGIC.find(([, magic]) => magic.every((byte, i) => head[i] === byte));
  return found?.[0] ?? 'none';
}

async function* gunzip(source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  // Larger chunks than zlib's 16 KiB default: fewer writes and fewer trips through the reader.
  const inflater = createGunzip({ chunkSize: 128 * 1024 });
  pipeline(Readable.from(source), inflater, () => {
    // Errors surface through the iteration below.
  });
  try {
    for await (const chunk of inflater) yield chunk as Buffer;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? '';
    if (code.startsWith('Z_')) {
      throw new TsdockError('INVALID_IMAGE', `malformed gzip data: ${(err as Error).message}`, { cause: err });
    }
    throw err;
  }
}

/** zstd through fzstd (pure JS): Node 20's zlib has no zstd. */
async function* unzstd(source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  const out: Buffer[] = [];
  const decoder = new ZstdDecoder((chunk) => out.push(Buffer.from(chunk)));
  const push = (chunk: Uint8Array, final: boolean): void => {
    try {
      decoder.push(chunk, final);
    } catch (err) {
      throw new TsdockError('INVALID_IMAGE', `malformed zstd data: ${(err as Error).message}`, { cause: err });
    }
  };
  for await (const chunk of source) {
    push(chunk, false);
    yield* out.splice(0);
  }
  push(new Uint8Array(0), true);
  yield* out.splice(0);
}

/** Undoes one compression: compressed bytes in, plain bytes out. */
export type Decoder = (source: AsyncIterable<Buffer>) => AsyncIterable<Buffer>;

/** What an OCI layer may be compressed with (image-spec: gzip, zstd). */
export const LAYER_DECODERS: Partial<Record<Compression, Decoder>> = { gzip: gunzip, zstd: unzstd };

/**
 * The uncompressed bytes of `source`, whatever its compression among `decoders` (by default
 * those of OCI layers; a build's ADD adds bzip2 and xz).
 *
 * @throws TsdockError `INVALID_IMAGE` for another compression (bzip2 or xz in a layer) and for
 *   corrupt data.
 */
export async function decompress(
  source: AsyncIterable<Buffer>,
  decoders: Partial<Record<Compression, Decoder>> = LAYER_DECODERS,
): Promise<AsyncIterable<Buffer>> {
  const it = source[Symbol.asyncIterator]();
  const head: Buffer[] = [];
  let length = 0;
  while (length < 6) {
    const next = await it.next();
    if (next.done === true) break;
    head.push(next.value);
    length += next.value.length;
  }
  const first = Buffer.concat(head);
  async function* whole(): AsyncGenerator<Buffer> {
    let finished = false;
    try {
      if (first.length > 0) yield first;
      for (let next = await it.next(); next.done !== true; next = await it.next()) yield next.value;
      finished = true;
    } finally {
      if (!finished) await it.return?.();
    }
  }
  const compression = detectCompression(first);
  if (compression === 'none') return whole();
  const decoder = decoders[compression];
  if (decoder !== undefined) return decoder(whole());
  await it.return?.();
  throw new TsdockError('INVALID_IMAGE', `${compression}-compressed data is not supported yet`);
}
