/**
 * One registry, spoken to over the distribution API (`/v2/`): picks the scheme (HTTPS, or plain
 * HTTP where allowed), learns from the `/v2/` ping which authentication it wants, and sends
 * requests with the right `Authorization`, answering a fresh 401 challenge once (a token expired,
 * or a request needs a wider scope than the cached token has).
 */
import { TsdockError } from '../../errors.js';
import { Authorizer, readLimited, type Credentials } from './auth.js';
import { loadCredentials } from './credentials.js';
import {
  HttpClient,
  certificateErrorCode,
  describeNetworkError,
  type HttpOptions,
  type HttpRequest,
  type HttpResponse,
} from './http.js';

export interface RegistryOptions extends HttpOptions {
  /**
   * Credentials to use; `undefined` reads them from Docker's config file, `null` means anonymous.
   */
  credentials?: Credentials | null | undefined;
  /** Where Docker's `config.json` lives (default `$DOCKER_CONFIG` or `~/.docker`). */
  configDir?: string | undefined;
}

export interface RegistryRequest {
  method: HttpRequest['method'];
  /** Path and query under the registry's origin (`/v2/…`), or an absolute URL it gave us. */
  path: string;
  /** Token scopes the request needs (`repository:team/app:pull`). */
  scopes: string[];
  headers?: Record<string, string>;
  body?: HttpRequest['body'];
  signal?: AbortSignal | undefined;
  retry?: boolean;
}

const MAX_ERROR_BODY = 64 * 1024;

/** The host that serves a registry's API: Docker Hub's is not `docker.io` itself. */
export function apiHost(domain: string): string {
  return domain === 'docker.io' ? 'registry-1.docker.io' : domain;
}

/** Whether `domain` (`host[:port]`) is this machine, where Docker too allows plain HTTP. */
export function isLoopback(domain: string): boolean {
  const host = domain.replace(/:\d+$/, '');
  return host === 'localhost' || host === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** A connection to one registry. Close it when done. */
export class RegistryClient {
  private constructor(
    /** As in the reference: `docker.io`, `127.0.0.1:5000`. */
    readonly domain: string,
    /** `https://registry-1.docker.io`, `http://127.0.0.1:5000`. */
    readonly origin: string,
    private readonly http: HttpClient,
    private readonly auth: Authorizer,
  ) {}

  /**
   * Connects to the registry of `domain`: HTTPS first; plain HTTP only for loopback addresses or
   * with `tlsVerify: false`, and only when the HTTPS attempt failed for want of TLS (a
   * certificate problem is reported, never silently downgraded).
   *
   * @throws TsdockError `REGISTRY` when the registry cannot be reached or does not speak `/v2/`.
   * @example const client = await RegistryClient.connect('127.0.0.1:5000', { tlsVerify: true });
   */
  static async connect(domain: string, options: RegistryOptions = {}): Promise<RegistryClient> {
    const host = apiHost(domain);
    const http = new HttpClient(options);
    const credentials =
      options.credentials === null
        ? undefined
        : (options.credentials ?? (await loadCredentials(domain, options.configDir)));
    const plainAllowed = isLoopback(domain) || options.tlsVerify === false;
    try {
      let lastError: unknown;
      for (const origin of plainAllowed ? [`https://${host}`, `http://${host}`] : [`https://${host}`]) {
        let res: HttpResponse;
        try {
          res = await http.send({
            method: 'GET',
            url: `${origin}/v2/`,
            retry: origin.startsWith('https') ? false : true,
          });
        } catch (err) {
          lastError = err;
          if (certificateErrorCode(err) !== undefined) break;
          continue;
        }
        await res.body.dump();
        const auth = new Authorizer(http, domain, credentials);
        if (res.status === 401) auth.setChallenge(res.headers['www-authenticate']);
        else if (res.status !== 200) {
          throw new TsdockError('REGISTRY', `${domain}: not a registry (HTTP ${res.status} for /v2/)`);
        }
        return new RegistryClient(domain, origin, http, auth);
      }
      const cause = (lastError as { cause?: unknown } | undefined)?.cause ?? lastError;
      throw new TsdockError('REGISTRY', `${domain}: cannot connect: ${describeNetworkError(cause)}`, { cause });
    } catch (err) {
      await http.close();
      throw err;
    }
  }

  /** Whether the registry asked for authentication at `/v2/`. */
  get requiresAuth(): boolean {
    return this.auth.challenged;
  }

  /**
   * Sends a request with authorization for `scopes`. A 401 with a new challenge is answered once.
   * The caller consumes or dumps the body.
   */
  async request(req: RegistryRequest): Promise<HttpResponse> {
    const url = /^https?:\/\//.test(req.path) ? req.path : `${this.origin}${req.path}`;
    // An upload Location may send us elsewhere (object storage): our credentials stay home.
    const ours = new URL(url).origin === this.origin;
    for (let attempt = 0; ; attempt++) {
      const authorization = ours ? await this.auth.header(req.scopes, req.signal) : undefined;
      const headers = { ...req.headers, ...(authorization === undefined ? {} : { authorization }) };
      const res = await this.http.send({
        method: req.method,
        url,
        headers,
        body: req.body,
        signal: req.signal,
        retry: req.retry,
      });
      if (res.status !== 401 || attempt > 0 || !ours) return res;
      const header = res.headers['www-authenticate'];
      if (!this.auth.setChallenge(header)) return res;
      await res.body.dump();
      this.auth.invalidate(req.scopes);
    }
  }

  /** Turns an unexpected response into an error naming `what`; consumes its body. */
  async failure(res: HttpResponse, what: string): Promise<TsdockError> {
    let detail = '';
    try {
      const text = await readLimited(res.body, MAX_ERROR_BODY);
      const parsed = JSON.parse(text) as { errors?: { code?: unknown; message?: unknown }[] };
      detail = (parsed.errors ?? [])
        .map((e) =>
          [e.code, e.message]
            .filter((s): s is string => typeof s === 'string')
            .join(': ')
            .toLowerCase(),
        )
        .filter((s) => s !== '')
        .join('; ');
    } catch {
      // Not the registry's JSON error format; the status says enough.
    }
    const why = detail === '' ? `HTTP ${res.status}` : detail;
    if (res.status === 401 || res.status === 403) {
      return new TsdockError('UNAUTHORIZED', `${what}: ${why}${res.status === 401 ? ' (tsdock login?)' : ''}`);
    }
    return new TsdockError('REGISTRY', `${what}: ${why}`);
  }

  async close(): Promise<void> {
    await this.http.close();
  }
}
