/**
 * A streaming tar reader: an async generator of entries, each with a body to read before asking
 * for the next one (an unread body is skipped). Pulling from the source only as the consumer
 * asks gives natural backpressure, and the consumer handles one entry at a time, in order —
 * which is what extracting safely needs (a directory before its files, a hardlink's target
 * before the link).
 */
import { TsdockError } from '../errors.js';
import {
  applyPax,
  BLOCK,
  decodeHeaderBlock,
  decodeString,
  hasValidChecksum,
  isZeroBlock,
  parsePax,
  type TarHeader,
} from './tar-header.js';

/** An archive member: its header and, for regular files, its content. */
export interface TarEntry extends TarHeader {
  /** The content, `size` bytes; valid only until the next entry is requested. */
  body: AsyncIterable<Buffer>;
}

/** pax and long-name records larger than this are refused: they are names and xattrs, not data. */
const MAX_META_SIZE = 16 * 1024 * 1024;

function truncated(): TsdockError {
  return new TsdockError('INVALID_IMAGE', 'malformed tar: unexpected end of archive');
}

/** Hands out bytes of an async chunk stream in the sizes the reader asks for. */
class ChunkReader {
  private chunk: Buffer = Buffer.alloc(0);
  private ended = false;
  private readonly source: AsyncIterator<Buffer>;

  constructor(source: AsyncIterable<Buffer>) {
    this.source = source[Symbol.asyncIterator]();
  }

  private async pull(): Promise<Buffer | undefined> {
    if (this.ended) return undefined;
    const next = await this.source.next();
    if (next.done === true) {
      this.ended = true;
      return undefined;
    }
    return next.value;
  }

  /** `n` bytes when the current chunk holds them, without waiting; else `undefined`. */
  readAtHand(n: number): Buffer | undefined {
    if (this.chunk.length < n) return undefined;
    const out = this.chunk.subarray(0, n);
    this.chunk = this.chunk.subarray(n);
    return out;
  }

  /** Exactly `n` bytes; fewer only at the end of the input. */
  async read(n: number): Promise<Buffer> {
    const parts = [this.chunk];
    let have = this.chunk.length;
    while (have < n) {
      const next = await this.pull();
      if (next === undefined) break;
      parts.push(next);
      have += next.length;
    }
    const all = parts.length === 1 ? this.chunk : Buffer.concat(parts);
    this.chunk = all.subarray(Math.min(n, all.length));
    return all.subarray(0, n);
  }

  /** Between 1 and `n` bytes, whatever is at hand; `undefined` at the end of the input. */
  async readSome(n: number): Promise<Buffer | undefined> {
    if (this.chunk.length === 0) {
      const next = await this.pull();
      if (next === undefined) return undefined;
      this.chunk = next;
    }
    const out = this.chunk.subarray(0, Math.min(n, this.chunk.length));
    this.chunk = this.chunk.subarray(out.length);
    return out;
  }

  /** Skips `n` bytes when the current chunk holds them, without waiting; whether it did. */
  skipAtHand(n: number): boolean {
    if (this.chunk.length < n) return false;
    this.chunk = this.chunk.subarray(n);
    return true;
  }

  async skip(n: number): Promise<void> {
    let left = n;
    while (left > 0) {
      const got = await this.readSome(left);
      if (got === undefined) throw truncated();
      left -= got.length;
    }
  }

  /** Reads the rest of the input, so that whoever hashes the stream sees all of it. */
  async drain(): Promise<void> {
    this.chunk = Buffer.alloc(0);
    while ((await this.pull()) !== undefined);
  }

  /** Stops the source early (on an error or an abandoned read). */
  async close(): Promise<void> {
    if (!this.ended) await this.source.return?.();
  }
}

const padded = (size: number): number => Math.ceil(size / BLOCK) * BLOCK;

/**
 * The entries of a tar stream, in archive order. The whole source is consumed by the time the
 * generator finishes, including zero padding after the end-of-archive marker.
 *
 * @throws TsdockError `INVALID_IMAGE` for a malformed or truncated archive.
 * @example
 * for await (const entry of readTar(createReadStream('layer.tar'))) console.log(entry.path);
 */
export async function* readTar(source: AsyncIterable<Buffer>): AsyncGenerator<TarEntry> {
  const reader = new ChunkReader(source);
  const globalPax = new Map<string, Buffer>();
  let pax = new Map<string, Buffer>();
  let longName: string | undefined;
  let longLink: string | undefined;
  let finished = false;
  let first = true;
  try {
    for (;;) {
      const block = reader.readAtHand(BLOCK) ?? (await reader.read(BLOCK));
      if (block.length === 0) break; // EOF on a block boundary without the zero blocks: accepted, as Go's reader does
      if (first) {
        // Garbage (or too little) where the first header should be: the input is no tar at all.
        const garbage = block.length < BLOCK || (!isZeroBlock(block) && !hasValidChecksum(block));
        if (garbage) throw new TsdockError('INVALID_IMAGE', 'malformed tar: not a tar archive');
        first = false;
      }
      if (block.length < BLOCK) throw truncated();
      const raw = decodeHeaderBlock(block);
      if (raw === undefined) break;

      if (
        raw.kind === 'pax' ||
        raw.kind === 'pax-global' ||
        raw.kind === 'gnu-longname' ||
        raw.kind === 'gnu-longlink'
      ) {
        if (raw.size > MAX_META_SIZE) throw new TsdockError('INVALID_IMAGE', 'malformed tar: oversized meta record');
        const data = await reader.read(padded(raw.size));
        if (data.length < padded(raw.size)) throw truncated();
        const content = data.subarray(0, raw.size);
        if (raw.kind === 'pax') pax = parsePax(content);
        else if (raw.kind === 'pax-global') for (const [k, v] of parsePax(content)) globalPax.set(k, v);
        else if (raw.kind === 'gnu-longname') longName = decodeString(content);
        else longLink = decodeString(content);
        continue;
      }

      const header = applyPax(
        { ...raw, kind: raw.kind, name: longName ?? raw.name, linkname: longLink ?? raw.linkname },
        globalPax.size === 0 ? pax : new Map([...globalPax, ...pax]),
      );
      if (pax.size > 0) pax = new Map();
      longName = undefined;
      longLink = undefined;

      let remaining = header.size;
      let current = true;
      async function* body(): AsyncGenerator<Buffer> {
        while (remaining > 0) {
          if (!current) throw new TsdockError('INVALID_IMAGE', 'tar entry body read after the next entry');
          const chunk = await reader.readSome(remaining);
          if (chunk === undefined) throw truncated();
          remaining -= chunk.length;
          yield chunk;
        }
      }
      yield { ...header, body: body() };
      current = false;
      const rest = remaining + padded(header.size) - header.size;
      if (!reader.skipAtHand(rest)) await reader.skip(rest);
    }
    await reader.drain();
    finished = true;
  } finally {
    if (!finished) await reader.close();
  }
}
