/**
 * The compressions ADD undoes on a local archive, as Docker does: those of a layer (gzip, zstd)
 * plus bzip2 and xz, told apart by content. bzip2 and xz run through the host's own decoders
 * (Debian's `bzip2` and `xz-utils`, the ones GNU tar runs): C, streaming, kept by the
 * distribution. The npm choices are pure JS without upkeep for years (unbzip2-stream), read
 * the whole file into memory (seek-bzip), or are young WebAssembly ports (xz-decompress).
 */
import { spawn } from 'node:child_process';
import { Readable, pipeline } from 'node:stream';
import { TsdockError } from '../errors.js';
import { LAYER_DECODERS, type Compression, type Decoder } from '../image/compression.js';

/** Pipes `source` through `tool -dc`; its stdout is the plain data. */
function hostDecoder(tool: 'bzip2' | 'xz', pkg: string): Decoder {
  return async function* decode(source) {
    const child = spawn(tool, ['-dc'], { stdio: ['pipe', 'pipe', 'pipe'] });
    const stderr: Buffer[] = [];
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    const ended = new Promise<{ status: number | null; spawnError?: Error }>((resolve) => {
      child.once('error', (spawnError) => {
        resolve({ status: null, spawnError });
      });
      child.once('close', (status) => {
        resolve({ status });
      });
    });
    let inputError: Error | undefined;
    // Node calls back with undefined, not null, on success (whatever its types say).
    pipeline(Readable.from(source), child.stdin, (err: NodeJS.ErrnoException | null | undefined) => {
      // EPIPE: the decoder stopped reading (bad data, or we stopped it); its status says which.
      if (err !== undefined && err !== null && err.code !== 'EPIPE') inputError = err;
    });
    let complete = false;
    try {
      for await (const chunk of child.stdout) yield chunk as Buffer;
      complete = true;
    } finally {
      // A reader that stops early (a peek at the tar header) needs no more of the archive.
      if (!complete) child.kill('SIGKILL');
    }
    const { status, spawnError } = await ended;
    if (spawnError !== undefined) {
      const missing = (spawnError as NodeJS.ErrnoException).code === 'ENOENT';
      throw new TsdockError(
        'HOST_UNSUPPORTED',
        missing ? `${tool} is not installed: install ${pkg} to ADD ${tool} archives` : `${tool}: ${spawnError.message}`,
        { cause: spawnError },
      );
    }
    if (inputError !== undefined) throw inputError;
    if (status !== 0) {
      const reason = Buffer.concat(stderr).toString().trim().split('\n').at(-1) ?? `exit status ${String(status)}`;
      throw new TsdockError('INVALID_IMAGE', `malformed ${tool} data: ${reason}`);
    }
  };
}

export const ARCHIVE_DECODERS: Partial<Record<Compression, Decoder>> = {
  ...LAYER_DECODERS,
  bzip2: hostDecoder('bzip2', 'bzip2'),
  xz: hostDecoder('xz', 'xz-utils'),
};
