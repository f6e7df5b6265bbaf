/**
 * HTTP for registries, over one undici `Agent` (keep-alive connection pools per origin): retries
 * with backoff on 429/5xx and dropped connections, honouring `Retry-After`; redirects followed by
 * hand so that `Authorization` never travels to another origin (registries redirect blob GETs to
 * object storage with a pre-signed URL, which an extra header would break or leak to); an idle
 * timeout between body chunks rather than a total one, since a layer may take minutes to arrive.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Readable } from 'node:stream';
import { Agent, errors as undiciErrors, request, type Dispatcher } from 'undici';
import { TsdockError } from '../../errors.js';

export interface HttpOptions {
  /** Verify TLS certificates (default true). */
  tlsVerify?: boolean;
  /** Extra CA certificates (PEM) to trust, besides the system's. */
  ca?: string[];
  /** Milliseconds to wait for response headers, and between body chunks (default 60 s). */
  idleTimeout?: number;
  /** Retries of a failed idempotent request (default 4). */
  retries?: number;
  /** First backoff delay in milliseconds, doubled each retry (default 250). */
  backoff?: number;
}

export interface HttpRequest {
  method: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  url: string;
  headers?: Record<string, string>;
  /** A buffer, or a factory so that a retry can send the body again. */
  body?: Buffer | (() => Readable);
  signal?: AbortSignal | undefined;
  /** Retry on 5xx/429 and network errors; the caller says whether the request is safe to repeat. */
  retry?: boolean;
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string>;
  /** The URL that answered (after redirects). */
  url: string;
  body: Dispatcher.ResponseData['body'];
}

const MAX_REDIRECTS = 5;
const MAX_RETRY_AFTER_MS = 60_000;
const RETRY_STATUSES = new Set([429, 500, 502, 503, 504]);
/** Network errors that mean "try again" rather than "this will never work". */
const TRANSIENT_CODES = new Set([
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CONNECT_TIMEOUT',
]);

function flatten(headers: Dispatcher.ResponseData['headers']): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(headers)) {
    if (value !== undefined) out[key.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

/** Milliseconds a `Retry-After` value (seconds, or an HTTP date) asks for; `undefined` if unusable. */
export function retryAfterMs(value: string | undefined, now = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const ms = /^\d+$/.test(value.trim()) ? Number(value) * 1000 : Date.parse(value) - now;
  return Number.isFinite(ms) ? Math.min(Math.max(ms, 0), MAX_RETRY_AFTER_MS) : undefined;
}

/** Whether `err` is a network failure worth retrying. */
function isTransient(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && TRANSIENT_CODES.has(code);
}

/** OpenSSL's certificate verification failures (`UNABLE_TO_VERIFY_LEAF_SIGNATURE`, …) and Node's own. */
const CERTIFICATE_CODE = /CERT|SIGNATURE|ISSUER|SELF_SIGNED/;

/** The certificate-verification code somewhere in `err`'s cause chain, if any. */
export function certificateErrorCode(err: unknown): string | undefined {
  for (let e = err, depth = 0; e !== undefined && e !== null && depth < 8; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && CERTIFICATE_CODE.test(code)) return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/** A one-line, credential-free description of a network error. */
export function describeNetworkError(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown; cause?: unknown };
  const code = typeof e.code === 'string' ? e.code : '';
  const certificate = certificateErrorCode(err);
  if (certificate !== undefined) {
    return `TLS certificate not trusted (${certificate}); trust its CA, or use --tls-verify=false`;
  }
  if (err instanceof undiciErrors.BodyTimeoutError || err instanceof undiciErrors.HeadersTimeoutError) {
    return 'the registry stopped sending data (timed out)';
  }
  if (e.cause !== undefined && e.cause !== null && e.cause !== err) return describeNetworkError(e.cause);
  const message = typeof e.message === 'string' ? e.message : String(err);
  return code !== '' && !message.includes(code) ? `${message} (${code})` : message;
}

export class HttpClient {
  private readonly agent: Agent;
  private readonly retries: number;
  private readonly backoff: number;

  constructor(options: HttpOptions = {}) {
    const idle = options.idleTimeout ?? 60_000;
    this.agent = new Agent({
      connect: {
        rejectUnauthorized: options.tlsVerify ?? true,
        ...(options.ca === undefined ? {} : { ca: options.ca }),
        timeout: 30_000,
      },
      headersTimeout: idle,
      bodyTimeout: idle,
      keepAliveTimeout: 30_000,
    });
    this.retries = options.retries ?? 4;
    this.backoff = options.backoff ?? 250;
  }

  /**
   * Sends `req`, following redirects and retrying as described above. The response body must be
   * consumed or dumped by the caller.
   *
   * @throws TsdockError `REGISTRY` for a network failure (after retries), naming the host.
   */
  async send(req: HttpRequest): Promise<HttpResponse> {
    const attempts = req.retry === false ? 1 : this.retries + 1;
    for (let attempt = 1; ; attempt++) {
      let res: HttpResponse;
      try {
        res = await this.follow(req);
      } catch (err) {
        if (req.signal?.aborted === true) throw abortError(req.signal);
        if (attempt < attempts && isTransient(err)) {
          await this.pause(attempt, undefined, req.signal);
          continue;
        }
        if (err instanceof TsdockError) throw err;
        const host = new URL(req.url).host;
        throw new TsdockError('REGISTRY', `${host}: ${describeNetworkError(err)}`, { cause: err });
      }
      if (attempt < attempts && RETRY_STATUSES.has(res.status)) {
        await res.body.dump();
        await this.pause(attempt, retryAfterMs(res.headers['retry-after']), req.signal);
        continue;
      }
      return res;
    }
  }

  /** Closes the pooled connections. */
  async close(): Promise<void> {
    await this.agent.close();
  }

  private async pause(attempt: number, asked: number | undefined, signal: AbortSignal | undefined): Promise<void> {
    // Full jitter, so that parallel layer downloads hitting the same 503 do not come back in step.
    const delay = asked ?? Math.random() * this.backoff * 2 ** (attempt - 1);
    try {
      await sleep(delay, undefined, signal === undefined ? {} : { signal });
    } catch (err) {
      throw signal === undefined ? err : abortError(signal);
    }
  }

  private async follow(req: HttpRequest): Promise<HttpResponse> {
    const origin = new URL(req.url).origin;
    let url = req.url;
    let method = req.method;
    let headers = { ...req.headers };
    for (let hop = 0; ; hop++) {
      const body = typeof req.body === 'function' ? req.body() : req.body;
      const res = await request(url, {
        method,
        headers,
        body: method === 'GET' || method === 'HEAD' ? null : (body ?? null),
        dispatcher: this.agent,
        signal: req.signal ?? null,
      });
      const location = res.headers.location;
      if (res.statusCode < 300 || res.statusCode >= 400 || typeof location !== 'string') {
        return { status: res.statusCode, headers: flatten(res.headers), url, body: res.body };
      }
      await res.body.dump();
      if (hop >= MAX_REDIRECTS) throw new TsdockError('REGISTRY', `${new URL(req.url).host}: too many redirects`);
      const from = new URL(url);
      url = new URL(location, url).toString();
      if (from.protocol === 'https:' && new URL(url).protocol !== 'https:') {
        throw new TsdockError(
          'REGISTRY',
          `${from.host}: refusing a redirect from HTTPS to ${new URL(url).origin} (a downgrade to plain HTTP)`,
        );
      }
      if (res.statusCode === 303) method = 'GET';
      if (new URL(url).origin !== origin) {
        headers = Object.fromEntries(Object.entries(headers).filter(([k]) => k.toLowerCase() !== 'authorization'));
      }
    }
  }
}

/** The error an aborted operation rejects with. */
export function abortError(signal: AbortSignal): TsdockError {
  const reason: unknown = signal.reason;
  if (reason instanceof TsdockError) return reason;
  return new TsdockError('REGISTRY', 'operation cancelled', { cause: reason });
}
