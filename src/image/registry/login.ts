/**
 * `tsdock login` / `logout`: check credentials against the registry, then file them where
 * Docker would (see `credentials.ts`).
 */
import { TsdockError } from '../../errors.js';
import { parseReference } from '../reference.js';
import type { Credentials } from './auth.js';
import { RegistryClient, type RegistryOptions } from './client.js';
import { eraseCredentials, storeCredentials } from './credentials.js';

/**
 * The registry domain a `login` argument names: `127.0.0.1:5000`, `https://ghcr.io/`, or
 * nothing for Docker Hub.
 *
 * @throws TsdockError `INVALID_ARGUMENT` when it is not a host[:port].
 */
export function registryDomain(server: string | undefined): string {
  if (server === undefined || server === '') return 'docker.io';
  const host = server.replace(/^https?:\/\//, '').replace(/\/.*$/, '');
  if (host === 'index.docker.io' || host === 'registry-1.docker.io') return 'docker.io';
  // The reference grammar knows what a registry domain may look like.
  const ref = parseReference(`${host}/x`);
  if (ref.domain !== host) throw new TsdockError('INVALID_ARGUMENT', `invalid registry "${server}"`);
  return host;
}

/**
 * Logs in to `domain`: the credentials are tried (a token fetched, or `/v2/` asked with Basic),
 * and stored only when the registry accepts them.
 *
 * @throws TsdockError `UNAUTHORIZED` when refused: the message never contains the password.
 * @example await login('127.0.0.1:5001', { username: 'alice', password });
 */
export async function login(domain: string, credentials: Credentials, options: RegistryOptions = {}): Promise<void> {
  const client = await RegistryClient.connect(domain, { ...options, credentials });
  try {
    if (client.requiresAuth) {
      const res = await client.request({ method: 'GET', path: '/v2/', scopes: [], signal: undefined });
      if (res.status !== 200) {
        const err = await client.failure(res, `login to ${domain}`);
        throw err.code === 'UNAUTHORIZED'
          ? new TsdockError('UNAUTHORIZED', `login to ${domain} failed: incorrect username or password`)
          : err;
      }
      await res.body.dump();
    }
  } catch (err) {
    if (err instanceof TsdockError && err.code === 'UNAUTHORIZED' && !err.message.startsWith('login')) {
      throw new TsdockError('UNAUTHORIZED', `login to ${domain} failed: incorrect username or password`, {
        cause: err,
      });
    }
    throw err;
  } finally {
    await client.close();
  }
  await storeCredentials(domain, credentials, options.configDir);
}

/** Forgets the credentials for `domain`; returns whether there were any. */
export function logout(domain: string, configDir?: string): Promise<boolean> {
  return eraseCredentials(domain, configDir);
}
