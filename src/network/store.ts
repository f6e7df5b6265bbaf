/**
 * The networks of one tsdock root and their endpoints, in `$ROOT/networks.json` (written to a
 * temp file and renamed). Every change happens under one host-wide lock, since bridges, subnets,
 * host ports and the nftables hooks are shared by every root on the host.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { native } from '../native.js';
import type { HostEntry } from './hosts.js';
import type { PortBinding } from './ports.js';

export interface NetworkRecord {
  id: string;
  name: string;
  bridge: string;
  /** CIDR. */
  subnet: string;
  gateway: string;
  created: string;
  /** The default network (`bridge`): no name resolution between its members, like Docker's. */
  isDefault: boolean;
}

/** One container's interface on one network. */
export interface EndpointRecord {
  containerId: string;
  network: string;
  /** Inside the container. */
  ifName: string;
  hostVeth: string;
  ip: string;
  mac: string;
  /** Container name, hostname and `--network-alias`es: what peers resolve. */
  names: string[];
  ports: PortBinding[];
  netns: string;
  /** The container's hosts file and its `--add-host` entries, to rewrite it when peers change. */
  hostsFile: string;
  extraHosts: HostEntry[];
}

export interface NetworkState {
  networks: NetworkRecord[];
  endpoints: EndpointRecord[];
}

/** Where one root's network state lives on the host, and the names its host objects carry. */
export interface NetworkHost {
  stateFile: string;
  /** nftables table (`ip` family). */
  table: string;
  /** Pinned namespaces of this root's containers. */
  netnsDir: string;
  defaultBridge: string;
  /** The table text last applied (nat.ts), under /run: it dies with the boot, as the table does. */
  appliedRules: string;
  /** bpffs directory of the socket-level published ports (socket-lb.ts). */
  socketLbPins: string;
  /** Which path this host's clients take to published ports: "socket" or "nat: <why>". */
  publishedPathFile: string;
  /** The alias this root's bridges carry (`ip link` shows it), naming the root that owns them. */
  owner: string;
}

const DEFAULT_ROOT = '/var/lib/tsdock';
const RUN_DIR = '/run/tsdock';

/** '' for the default root, else a short hash of the root's path: names host objects per root. */
export function rootTag(root: string): string {
  const abs = resolve(root);
  return abs === DEFAULT_ROOT ? '' : createHash('sha256').update(abs).digest('hex').slice(0, 8);
}

/**
 * The default root owns `tsdock0` and the `tsdock` table; another root (tests, a second user)
 * gets its own bridge, table and pin directory, tagged with a hash of its path, so two roots on
 * one host neither share nor clean up each other's objects.
 */
export function networkHostOf(root: string): NetworkHost {
  const abs = resolve(root);
  const tag = rootTag(root);
  const table = tag === '' ? 'tsdock' : `tsdock_${tag}`;
  return {
    stateFile: join(abs, 'networks.json'),
    table,
    netnsDir: join(RUN_DIR, tag === '' ? 'netns' : `netns-${tag}`),
    defaultBridge: tag === '' ? 'tsdock0' : `tsd${tag}`,
    appliedRules: join(RUN_DIR, `${table}.rules`),
    socketLbPins: `/sys/fs/bpf/${table}`,
    publishedPathFile: join(RUN_DIR, `${table}.published`),
    owner: ownerAlias(abs),
  };
}

const OWNER_PREFIX = 'tsdock root ';
/** An interface alias holds 255 bytes: a longer root path is named by its hash. */
const ALIAS_MAX = 255;

function ownerAlias(absRoot: string): string {
  const alias = OWNER_PREFIX + absRoot;
  return Buffer.byteLength(alias) <= ALIAS_MAX
    ? alias
    : `${OWNER_PREFIX}sha256:${createHash('sha256').update(absRoot).digest('hex')}`;
}

/** The root path a bridge's alias names, if it is a tsdock owner alias with a path in it. */
export function ownerRootOf(alias: string): string | undefined {
  if (!alias.startsWith(OWNER_PREFIX) || alias.startsWith(`${OWNER_PREFIX}sha256:`)) return undefined;
  return alias.slice(OWNER_PREFIX.length);
}

export function readState(host: NetworkHost): NetworkState {
  try {
    return JSON.parse(readFileSync(host.stateFile, 'utf8')) as NetworkState;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { networks: [], endpoints: [] };
    throw err;
  }
}

export function writeState(host: NetworkHost, state: NetworkState): void {
  const temp = `${host.stateFile}.tmp`;
  writeFileSync(temp, JSON.stringify(state, null, 2), { mode: 0o600 });
  renameSync(temp, host.stateFile);
}

/** Runs `fn` under the host-wide network lock (flock: released if this process dies). */
export async function withNetworkLock<T>(host: NetworkHost, fn: () => Promise<T>): Promise<T> {
  mkdirSync(join(host.stateFile, '..'), { recursive: true, mode: 0o711 });
  return withHostNetworkLock(fn);
}

/** The host-wide lock alone, for what looks at every root's host objects (a test run's clean-up). */
export async function withHostNetworkLock<T>(fn: () => Promise<T>): Promise<T> {
  mkdirSync(RUN_DIR, { recursive: true, mode: 0o755 });
  const file = await open(join(RUN_DIR, 'network.lock'), 'a', 0o600);
  try {
    await native().flock(file.fd, 'exclusive');
    return await fn();
  } finally {
    await file.close();
  }
}
