/**
 * Registry authentication: what a `WWW-Authenticate` challenge asks for, and the header that
 * answers it. Basic sends the credentials with every request. Bearer (the distribution "token
 * authentication" spec) trades the credentials (or nothing, for anonymous pulls) at the realm for
 * a short-lived token per set of scopes (`repository:team/app:pull,push`); tokens are cached until
 * shortly before they expire.
 */
import { TsdockError } from '../../errors.js';
import type { HttpClient } from './http.js';

/** What the user has for a registry. */
export interface Credentials {
  username: string;
  password: string;
  /** An OAuth2 refresh token (`docker login` stores one as `identitytoken` for some registries). */
  identityToken?: string | undefined;
}

export interface Challenge {
  scheme: 'basic' | 'bearer';
  params: Record<string, string>;
}

/** A token may be refused a little before its stated expiry; stop using it this much earlier. */
const EXPIRY_MARGIN_MS = 10_000;
/** The spec's default lifetime when a token response gives none. */
const DEFAULT_TOKEN_SECONDS = 60;
const MAX_TOKEN_RESPONSE = 1024 * 1024;

/**
 * Parses a `WWW-Authenticate` header: `Bearer realm="https://auth/token",service="reg",scope="…"`.
 * Returns the first Basic or Bearer challenge, or `undefined`.
 */
export function parseChallenge(header: string | undefined): Challenge | undefined {
  if (header === undefined) return undefined;
  const match = /^\s*(basic|bearer)\b\s*(.*)$/is.exec(header);
  if (match === null) return undefined;
  const params: Record<string, string> = {};
  const pair = /([a-z_][a-z0-9_-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))\s*,?\s*/giy;
  const rest = match[2] ?? '';
  for (let m = pair.exec(rest); m !== null; m = pair.exec(rest)) {
    params[(m[1] ?? '').toLowerCase()] = m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : (m[3] ?? '');
  }
  return { scheme: (match[1] ?? '').toLowerCase() as Challenge['scheme'], params };
}

/** The scope that lets a client pull (and with `push`, push) a repository. */
export function repositoryScope(repository: string, push = false): string {
  return `repository:${repository}:${push ? 'pull,push' : 'pull'}`;
}

interface CachedToken {
  value: string;
  expires: number;
}

/** Answers one registry's challenges. */
export class Authorizer {
  private challenge: Challenge | undefined;
  private readonly tokens = new Map<string, CachedToken>();

  /**
   * @param host the registry, for messages (`127.0.0.1:5000`).
   * @param credentials what to log in with; `undefined` for anonymous access.
   */
  constructor(
    private readonly http: HttpClient,
    private readonly host: string,
    private readonly credentials: Credentials | undefined,
  ) {}

  /** Whether a challenge is known (the registry wants some authentication). */
  get challenged(): boolean {
    return this.challenge !== undefined;
  }

  /** Records the challenge of a 401 response. Returns whether it is one this client can answer. */
  setChallenge(header: string | undefined): boolean {
    const challenge = parseChallenge(header);
    if (challenge === undefined) return false;
    this.challenge = challenge;
    return true;
  }

  /** Forgets tokens for `scopes`: the registry refused them (revoked, or the scope was too narrow). */
  invalidate(scopes: string[]): void {
    this.tokens.delete(scopes.join(' '));
  }

  /**
   * The `Authorization` header value for a request needing `scopes`, or `undefined` when the
   * registry has asked for none.
   *
   * @throws TsdockError `UNAUTHORIZED` when the token service refuses the credentials.
   */
  async header(scopes: string[], signal?: AbortSignal): Promise<string | undefined> {
    const challenge = this.challenge;
    if (challenge === undefined) return undefined;
    if (challenge.scheme === 'basic') {
      if (this.credentials === undefined) return undefined;
      const { username, password } = this.credentials;
      return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
    }
    const key = scopes.join(' ');
    const cached = this.tokens.get(key);
    if (cached !== undefined && cached.expires > Date.now()) return `Bearer ${cached.value}`;
    const token = await this.fetchToken(challenge.params, scopes, signal);
    this.tokens.set(key, token);
    return `Bearer ${token.value}`;
  }

  private async fetchToken(
    params: Record<string, string>,
    scopes: string[],
    signal?: AbortSignal,
  ): Promise<CachedToken> {
    const realm = params.realm;
    if (realm === undefined || !/^https?:\/\//i.test(realm)) {
      throw new TsdockError('REGISTRY', `${this.host}: bearer challenge without a usable realm`);
    }
    const refresh = this.credentials?.identityToken;
    const url = new URL(realm);
    if (this.credentials !== undefined) refuseCleartextElsewhere(url, this.host);
    const headers: Record<string, string> = { accept: 'application/json' };
    let res;
    if (refresh !== undefined && refresh !== '') {
      // OAuth2 refresh-token grant, as the token spec describes for identity tokens.
      const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refresh, client_id: 'tsdock' });
      if (params.service !== undefined) form.set('service', params.service);
      if (scopes.length > 0) form.set('scope', scopes.join(' '));
      headers['content-type'] = 'application/x-www-form-urlencoded';
      res = await this.http.send({
        method: 'POST',
        url: url.toString(),
        headers,
        body: Buffer.from(form.toString()),
        signal,
      });
    } else {
      if (params.service !== undefined) url.searchParams.set('service', params.service);
      for (const scope of scopes) url.searchParams.append('scope', scope);
      if (this.credentials !== undefined) {
        const { username, password } = this.credentials;
        url.searchParams.set('account', username);
        headers.authorization = `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
      }
      res = await this.http.send({ method: 'GET', url: url.toString(), headers, signal });
    }
    const text = await readLimited(res.body, MAX_TOKEN_RESPONSE);
    if (res.status === 401 || res.status === 403) {
      throw new TsdockError('UNAUTHORIZED', `${this.host}: unauthorized: the token service refused the credentials`);
    }
    if (res.status !== 200) {
      throw new TsdockError('REGISTRY', `${this.host}: token service answered HTTP ${res.status}`);
    }
    let body: { token?: unknown; access_token?: unknown; expires_in?: unknown; issued_at?: unknown };
    try {
      body = JSON.parse(text) as typeof body;
    } catch (err) {
      throw new TsdockError('REGISTRY', `${this.host}: token service answered with malformed JSON`, { cause: err });
    }
    const value = typeof body.token === 'string' && body.token !== '' ? body.token : body.access_token;
    if (typeof value !== 'string' || value === '') {
      throw new TsdockError('REGISTRY', `${this.host}: token service answered without a token`);
    }
    const seconds =
      typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : DEFAULT_TOKEN_SECONDS;
    const issued = typeof body.issued_at === 'string' ? Date.parse(body.issued_at) : NaN;
    // Trust our clock over the issuer's when they disagree by much: skew must not make a token look fresh.
    const start = Number.isNaN(issued) || Math.abs(issued - Date.now()) > 60_000 ? Date.now() : issued;
    return { value, expires: start + seconds * 1000 - EXPIRY_MARGIN_MS };
  }
}

/**
 * Credentials go to a token realm on another host only over HTTPS: a registry (or whoever
 * answers for it) must not be able to have them sent in clear text across the network.
 *
 * @throws TsdockError `REGISTRY` for a plain-HTTP realm on a host other than the registry's.
 */
function refuseCleartextElsewhere(realm: URL, registryHost: string): void {
  if (realm.protocol === 'https:') return;
  if (realm.hostname === new URL(`http://${registryHost}`).hostname) return;
  throw new TsdockError(
    'REGISTRY',
    `${registryHost}: refusing to send credentials to the token service ${realm.origin} over plain HTTP`,
  );
}

/**
 * Reads a response body as text, refusing more than `limit` bytes.
 *
 * @throws TsdockError `REGISTRY` when the body is larger.
 */
export async function readLimited(body: AsyncIterable<Buffer>, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > limit) throw new TsdockError('REGISTRY', `response larger than ${limit} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}
