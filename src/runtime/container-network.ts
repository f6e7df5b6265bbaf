/**
 * A container's side of networking: which namespace its plan joins (decided at create), its
 * /etc/hosts and /etc/resolv.conf, attaching it to its networks before its monitor starts, and
 * releasing them when it exits or is removed. The network work itself is in network/.
 */
import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { TsdockError } from '../errors.js';
import { renderHosts, renderResolvConf } from '../network/hosts.js';
import { DEFAULT_NETWORK, isNetworkName, Networks } from '../network/networks.js';
import { exposedPorts } from '../network/ports.js';
import type { ContainerDir } from './container-dir.js';
import { findContainer } from './container-store.js';
import { isAlive } from './proc-stat.js';
import type { ContainerRecord } from './container-record.js';
import type { ContainerOptions } from './options.js';
import type { ImageRuntimeConfig } from './plan-builder.js';

/** The networks of the root that holds `containersRoot` (`$ROOT/containers`). */
export function networksOf(containersRoot: string): Networks {
  return new Networks(dirname(containersRoot));
}

/** `--network` as given, else Docker's default: the `bridge` network. */
export function networkModeOf(options: ContainerOptions): string {
  return options.network ?? DEFAULT_NETWORK;
}

/** The options as recorded: `-P` resolved against the image's EXPOSE, once, at create. */
export function withExposedPorts(options: ContainerOptions, config: ImageRuntimeConfig): ContainerOptions {
  if (options.publishAll !== true) return options;
  return { ...options, publish: [...(options.publish ?? []), ...exposedPorts(config.ExposedPorts)] };
}

/**
 * Where a container's network comes from, `container:` chains followed: the host's (`host`, or
 * sharing a host-network container), one the clone makes (`none`), a pinned one (made by
 * network/ for a network, or given as a path), or one borrowed from a running `none` container
 * (its init's namespace, pinned afresh at each start: a pid is no stable name).
 */
type NetworkSource =
  { kind: 'host' } | { kind: 'own' } | { kind: 'pinned'; path: string } | { kind: 'borrowed'; from: ContainerRecord };

function networkSourceOf(containersRoot: string, id: string, options: ContainerOptions): NetworkSource {
  const mode = networkModeOf(options);
  if (mode === 'host') return { kind: 'host' };
  if (mode === 'none') return { kind: 'own' };
  if (mode.startsWith('/')) return { kind: 'pinned', path: mode };
  if (!mode.startsWith('container:')) return { kind: 'pinned', path: networksOf(containersRoot).netnsOf(id) };
  const target = findContainer(containersRoot, mode.slice('container:'.length)).record;
  if (target.id === id) throw new TsdockError('INVALID_ARGUMENT', 'a container cannot join its own network');
  const source = networkSourceOf(containersRoot, target.id, target.options);
  return source.kind === 'own' ? { kind: 'borrowed', from: target } : source;
}

/**
 * The network namespace the plan joins: the container's own pinned one for a network or a
 * borrowed one, another container's for `container:<ref>`, a given path; none for `none` and
 * `host`.
 */
export function networkNamespaceFor(containersRoot: string, id: string, options: ContainerOptions): string | undefined {
  const source = networkSourceOf(containersRoot, id, options);
  if (source.kind === 'pinned') return source.path;
  return source.kind === 'borrowed' ? networksOf(containersRoot).netnsOf(id) : undefined;
}

/** Whether the container sees the host's network: `host`, or `container:` of such a container. */
export function usesHostNetwork(containersRoot: string, id: string, options: ContainerOptions): boolean {
  return networkSourceOf(containersRoot, id, options).kind === 'host';
}

/** What a publish or DNS flag needs that the mode lacks: refused before anything is made. */
export function checkNetworkOptions(options: ContainerOptions): void {
  const mode = networkModeOf(options);
  const published = (options.publish?.length ?? 0) > 0 || options.publishAll === true;
  if (!isNetworkName(mode) && (published || options.ip !== undefined || options.macAddress !== undefined)) {
    throw new TsdockError(
      'INVALID_ARGUMENT',
      `-p, -P, --ip and --mac-address need a bridge or user network, not --network ${mode}`,
    );
  }
  if (mode === DEFAULT_NETWORK && (options.ip !== undefined || (options.networkAliases?.length ?? 0) > 0)) {
    throw new TsdockError('INVALID_ARGUMENT', '--ip and --network-alias need a user network (network create)');
  }
}

/**
 * A user network must exist before a container names it (the default one is made on first use).
 *
 * @throws TsdockError `NETWORK_NOT_FOUND`.
 */
export function checkNetworkExists(containersRoot: string, options: ContainerOptions): void {
  const mode = networkModeOf(options);
  if (isNetworkName(mode) && mode !== DEFAULT_NETWORK) networksOf(containersRoot).inspect(mode);
}

function readHostFile(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    // None on the host: the container gets only what the flags give.
    return '';
  }
}

/** /etc/hosts and /etc/resolv.conf: the host's for its network, else as the flags ask. */
export function networkFiles(options: ContainerOptions, hostNetwork: boolean): { hosts: string; resolvConf: string } {
  const resolvConf = readHostFile('/etc/resolv.conf');
  if (hostNetwork) return { hosts: readFileSync('/etc/hosts', 'utf8'), resolvConf };
  const extra = (options.addHosts ?? []).map((h) => ({ ip: h.ip, names: [h.name] }));
  return {
    hosts: renderHosts([], [], extra),
    resolvConf: renderResolvConf(resolvConf, options.dns ?? [], options.dnsSearch ?? []),
  };
}

/**
 * Before the monitor starts: the pinned namespace, veth, address, ports and hosts entries; or,
 * for `container:` of a `none` container, that container's namespace pinned for this one.
 *
 * @throws TsdockError `CONFLICT` when the container to share with is not running.
 */
export async function attachNetwork(
  containersRoot: string,
  record: ContainerRecord,
  paths: ContainerDir,
): Promise<void> {
  const { options } = record;
  const mode = networkModeOf(options);
  const source = networkSourceOf(containersRoot, record.id, options);
  if (source.kind === 'borrowed') {
    const init = source.from.state.init;
    if (init === undefined || !isAlive(init)) {
      throw new TsdockError('CONFLICT', `cannot join the network of container ${source.from.name}: it is not running`);
    }
    await networksOf(containersRoot).pin(record.id, `/proc/${String(init.pid)}/ns/net`);
    return;
  }
  if (!isNetworkName(mode)) return;
  const hostname = readFileSync(paths.hostname, 'utf8').trim();
  await networksOf(containersRoot).attach(
    {
      containerId: record.id,
      names: [record.name, hostname, ...(options.networkAliases ?? [])],
      hostsFile: paths.hosts,
      extraHosts: (options.addHosts ?? []).map((h) => ({ ip: h.ip, names: [h.name] })),
      ip: options.ip,
      mac: options.macAddress,
      publish: options.publish,
    },
    [mode],
  );
}

/**
 * After the container exits or is removed: its endpoints, ports and pinned namespace go. One of
 * `--network none` or `host` has none of them (`network connect` refuses it): nothing to look up.
 */
export async function releaseNetwork(containersRoot: string, record: ContainerRecord): Promise<void> {
  const mode = networkModeOf(record.options);
  if (mode !== 'none' && mode !== 'host') await networksOf(containersRoot).release(record.id);
}
