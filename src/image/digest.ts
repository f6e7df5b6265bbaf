/**
 * Content digests. Only `sha256` is supported: it is the one algorithm OCI requires and the one
 * every registry and `docker save` uses. A {@link Digest} is a validated string, so code that
 * builds a path from one (`blobs/sha256/<hex>`) cannot be handed `../../etc`.
 */
import { createHash, type Hash } from 'node:crypto';
import { TsdockError, type ErrorCode } from '../errors.js';

declare const digestBrand: unique symbol;

/** `sha256:` followed by 64 lowercase hex digits; made only by this module's functions. */
export type Digest = string & { readonly [digestBrand]: true };

const DIGEST = /^sha256:[0-9a-f]{64}$/;

/** Whether `value` is a well-formed sha256 digest. */
export function isDigest(value: unknown): value is Digest {
  return typeof value === 'string' && DIGEST.test(value);
}

/**
 * Validates a digest read from somewhere; `what` names the source for the error message.
 *
 * @example parseDigest(desc.digest, 'INVALID_IMAGE', 'manifest.json: layer 2')
 */
export function parseDigest(value: unknown, code: ErrorCode, what: string): Digest {
  if (isDigest(value)) return value;
  const shown = typeof value === 'string' ? JSON.stringify(value) : typeof value;
  throw new TsdockError(code, `${what}: invalid digest ${shown} (want sha256:<64 hex digits>)`);
}

/** The 64 hex digits of a digest: the file name in `blobs/sha256/`. */
export function digestHex(digest: Digest): string {
  return digest.slice('sha256:'.length);
}

/** The sha256 digest of some bytes. */
export function sha256Digest(data: Buffer | string): Digest {
  return `sha256:${createHash('sha256').update(data).digest('hex')}` as Digest;
}

/** Hashes and counts a stream of chunks as they pass, for verifying content while copying it. */
export class Digester {
  private readonly hash: Hash = createHash('sha256');
  /** Bytes seen so far. */
  size = 0;

  update(chunk: Buffer): void {
    this.hash.update(chunk);
    this.size += chunk.length;
  }

  /** The digest of everything seen; call once, at the end. */
  digest(): Digest {
    return `sha256:${this.hash.digest('hex')}` as Digest;
  }
}

/** The digest and size of everything `source` yields. */
export async function digestStream(source: AsyncIterable<Buffer>): Promise<{ digest: Digest; size: number }> {
  const digester = new Digester();
  for await (const chunk of source) digester.update(chunk);
  return { digest: digester.digest(), size: digester.size };
}

/** Passes `source` through unchanged while feeding it to `digester`. */
export async function* digesting(source: AsyncIterable<Buffer>, digester: Digester): AsyncGenerator<Buffer> {
  for await (const chunk of source) {
    digester.update(chunk);
    yield chunk;
  }
}

/**
 * The chain IDs of a layer stack (OCI image spec, "Layer ChainID"): the first is the first
 * diff_id, each next one is `sha256(parentChainID + " " + diffID)`. A chain ID names a layer
 * together with everything below it, which is what an unpacked layer directory stands for.
 */
export function chainIds(diffIds: readonly Digest[]): Digest[] {
  const out: Digest[] = [];
  for (const diffId of diffIds) {
    const parent = out.at(-1);
    out.push(parent === undefined ? diffId : sha256Digest(`${parent} ${diffId}`));
  }
  return out;
}
