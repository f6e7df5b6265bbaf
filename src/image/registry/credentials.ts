/**
 * Registry credentials in Docker's own file, `~/.docker/config.json` (or `$DOCKER_CONFIG/config.json`),
 * so that `docker login` and `tsdock login` share them: `auths` holds base64 `user:password` per
 * registry; `credHelpers` (per registry) and `credsStore` (default) name a
 * `docker-credential-<helper>` program that keeps them instead, spoken to over stdin/stdout.
 * Other keys in the file are kept as they are.
 */
import { spawn } from 'node:child_process';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { TsdockError } from '../../errors.js';
import { tempName } from '../fs-util.js';
import type { Credentials } from './auth.js';

/** The key Docker Hub's credentials are filed under, for historical reasons. */
const DOCKER_HUB_KEY = 'https://index.docker.io/v1/';

interface AuthEntry {
  auth?: string;
  username?: string;
  password?: string;
  identitytoken?: string;
}

interface ConfigFile {
  auths?: Record<string, AuthEntry>;
  credsStore?: string;
  credHelpers?: Record<string, string>;
  [other: string]: unknown;
}

/** The directory of Docker's client config. */
export function dockerConfigDir(): string {
  return process.env.DOCKER_CONFIG ?? join(homedir(), '.docker');
}

/** The key a registry's credentials are filed under: `docker.io` is Docker Hub's legacy URL. */
export function credentialKey(registry: string): string {
  return registry === 'docker.io' || registry === 'index.docker.io' ? DOCKER_HUB_KEY : registry;
}

/** The host part of an `auths` key, which may be `host`, `https://host` or `https://host/v1/`. */
function keyHost(key: string): string {
  return key.replace(/^https?:\/\//, '').replace(/\/.*$/, '');
}

async function readConfig(dir: string): Promise<ConfigFile> {
  const path = join(dir, 'config.json');
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new TsdockError('INVALID_ARGUMENT', `${path}: ${(err as Error).message}`, { cause: err });
  }
  try {
    const data = JSON.parse(text) as unknown;
    if (typeof data !== 'object' || data === null || Array.isArray(data)) throw new Error('not an object');
    return data as ConfigFile;
  } catch (err) {
    throw new TsdockError('INVALID_ARGUMENT', `${path}: malformed JSON`, { cause: err });
  }
}

/** Runs `docker-credential-<helper> <action>` with `input` on stdin; resolves to its stdout. */
function runHelper(helper: string, action: 'get' | 'store' | 'erase', input: string): Promise<string> {
  if (!/^[A-Za-z0-9_.-]+$/.test(helper)) {
    return Promise.reject(new TsdockError('INVALID_ARGUMENT', `invalid credential helper name "${helper}"`));
  }
  const program = `docker-credential-${helper}`;
  return new Promise((resolve, reject) => {
    const child = spawn(program, [action], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.resume();
    child.on('error', (err) => {
      reject(new TsdockError('INVALID_ARGUMENT', `credential helper ${program}: ${err.message}`, { cause: err }));
    });
    child.on('close', (code) => {
      // Helpers report "credentials not found" on stdout with a non-zero status.
      if (code === 0) resolve(out);
      else if (action === 'get' && /credentials not found/i.test(out)) resolve('');
      else reject(new TsdockError('INVALID_ARGUMENT', `credential helper ${program} ${action} failed: ${out.trim()}`));
    });
    child.stdin.end(input);
  });
}

function helperFor(config: ConfigFile, registry: string): string | undefined {
  return config.credHelpers?.[registry] ?? config.credHelpers?.[credentialKey(registry)] ?? config.credsStore;
}

/**
 * The stored credentials for `registry` (`docker.io`, `127.0.0.1:5000`), or `undefined`.
 *
 * @throws TsdockError `INVALID_ARGUMENT` for a malformed config file or a failing helper.
 */
export async function loadCredentials(registry: string, dir = dockerConfigDir()): Promise<Credentials | undefined> {
  const config = await readConfig(dir);
  const helper = helperFor(config, registry);
  if (helper !== undefined) {
    const out = await runHelper(helper, 'get', credentialKey(registry));
    if (out.trim() === '') return undefined;
    const { Username, Secret } = JSON.parse(out) as { Username?: string; Secret?: string };
    if (typeof Secret !== 'string') return undefined;
    // A helper marks an identity (refresh) token with the user name "<token>".
    if (Username === '<token>') return { username: '', password: '', identityToken: Secret };
    return { username: Username ?? '', password: Secret };
  }
  const key = credentialKey(registry);
  const entry =
    config.auths?.[key] ?? Object.entries(config.auths ?? {}).find(([k]) => keyHost(k) === keyHost(key))?.[1];
  if (entry === undefined) return undefined;
  let { username = '', password = '' } = entry;
  if (entry.auth !== undefined && entry.auth !== '') {
    const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon === -1)
      throw new TsdockError('INVALID_ARGUMENT', `${join(dir, 'config.json')}: malformed auth for ${key}`);
    username = decoded.slice(0, colon);
    password = decoded.slice(colon + 1);
  }
  const identityToken = entry.identitytoken;
  if (username === '' && password === '' && (identityToken ?? '') === '') return undefined;
  return { username, password, identityToken };
}

/**
 * Stores credentials for `registry`, through its helper when one is configured, else in
 * `auths` (the file is written atomically, mode 0600).
 */
export async function storeCredentials(registry: string, creds: Credentials, dir = dockerConfigDir()): Promise<void> {
  const config = await readConfig(dir);
  const key = credentialKey(registry);
  const helper = helperFor(config, registry);
  if (helper !== undefined) {
    await runHelper(
      helper,
      'store',
      JSON.stringify({ ServerURL: key, Username: creds.username, Secret: creds.password }),
    );
    return;
  }
  config.auths = {
    ...config.auths,
    [key]: { auth: Buffer.from(`${creds.username}:${creds.password}`).toString('base64') },
  };
  await writeConfig(dir, config);
}

/** Removes the credentials for `registry`; returns whether there were any. */
export async function eraseCredentials(registry: string, dir = dockerConfigDir()): Promise<boolean> {
  const config = await readConfig(dir);
  const key = credentialKey(registry);
  const helper = helperFor(config, registry);
  if (helper !== undefined) {
    await runHelper(helper, 'erase', key);
    return true;
  }
  const keys = Object.keys(config.auths ?? {}).filter((k) => keyHost(k) === keyHost(key));
  if (keys.length === 0) return false;
  config.auths = Object.fromEntries(Object.entries(config.auths ?? {}).filter(([k]) => !keys.includes(k)));
  await writeConfig(dir, config);
  return true;
}

async function writeConfig(dir: string, config: ConfigFile): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  // Our own temp-and-rename rather than the store's helper: this file holds secrets, so 0600.
  const temp = join(dir, tempName('config.json.'));
  try {
    const handle = await open(temp, 'wx', 0o600);
    try {
      await handle.writeFile(`${JSON.stringify(config, null, '\t')}\n`);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, join(dir, 'config.json'));
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
}
