/**
 * A container's side of networking: which namespace its plan joins (decided at create), its
 * /etc/hosts and /etc/resolv.conf, attaching it to its networks before its monitor starts, and
 * releasing them when it exits or is removed. The network work itself is in network/.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { TsdockError } from '../errors.js';
import { renderHosts, renderResolvConf } from '../network/hosts.js';
import { DEFAULT_NETWORK, isNetworkName, Networks } from '../network/networks.js';
import { exposedPorts } from '../network/ports.js';
import type { ContainerDir } from './container-dir.js';
import { findContainer } from './container-store.js';
import type { ContainerRecord } from './container-record.js';
import type { ContainerOptions } from './options.js';
import type { ImageRuntimeConfig } from './plan-builder.js';

/** The networks of the root that holds `containersRoot` (`$ROOT/containers`). */
export function networksOf(containersRoot: string): Networks {
  return new Networks(dirname(containersRoot));
}

/** The options as recorded: `-P` resolved against the image's EXPOSE, once, at create. */
export function withExposedPorts(options: ContainerOptions, config: ImageRuntimeConfig): ContainerOptions {
  if (options.publishAll !== true) return options;
  return { ...options, publish: [...(options.publish ?? []), ...exposedPorts(config.ExposedPorts)] };
}

/**
 * The network namespace the plan joins: the container's own pinned one for a network,
 * another container's for `container:<ref>`, a given path; none for `none` and `host`.
 *
 * @throws TsdockError for a `container:` target that has no namespace to share.
 */
export function networkNamespaceFor(containersRoot: string, id: string, options: ContainerOptions): string | undefined {
  const mode = options.network ?? 'none';
  const networks = networksOf(containersRoot);
  if (mode.startsWith('/')) return mode;
  if (mode.startsWith('container:')) {
    const target = findContainer(containersRoot, mode.slice('container:'.length)).record;
    const targetMode = target.options.network ?? 'none';
    if (targetMode.startsWith('container:') || targetMode.startsWith('/')) {
      return networkNamespaceFor(containersRoot, target.id, target.options);
    }
    if (!isNetworkName(targetMode)) {
      throw new TsdockError(
        'CONFLICT',
        `cannot join the network of container ${target.name}: it uses --network ${targetMode}, which tsdock cannot share`,
      );
    }
    return networks.netnsOf(target.id);
  }
  return isNetworkName(mode) ? networks.netnsOf(id) : undefined;
}

/** What a publish or DNS flag needs that the mode lacks: refused before anything is made. */
export function checkNetworkOptions(options: ContainerOptions): void {
  const mode = options.network ?? 'none';
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
  const mode = options.network ?? 'none';
  if (isNetworkName(mode) && mode !== DEFAULT_NETWORK) networksOf(containersRoot).inspect(mode);
}

/** /etc/hosts and /etc/resolv.conf as the flags ask, for a container that does not use the host's. */
export function writeNetworkFiles(paths: ContainerDir, options: ContainerOptions): void {
  if (options.network === 'host') return;
  const extra = (options.addHosts ?? []).map((h) => ({ ip: h.ip, names: [h.name] }));
  writeFileSync(paths.hosts, renderHosts([], [], extra));
  let host = '';
  try {
    host = readFileSync('/etc/resolv.conf', 'utf8');
  } catch {
    // No host resolver configuration: the container gets only what the flags give.
  }
  writeFileSync(paths.resolvConf, renderResolvConf(host, options.dns ?? [], options.dnsSearch ?? []));
}

/** Before the monitor starts: the pinned namespace, veth, address, ports and hosts entries. */
export async function attachNetwork(
  containersRoot: string,
  record: ContainerRecord,
  paths: ContainerDir,
): Promise<void> {
  const { options } = record;
  const mode = options.network ?? 'none';
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

/** After the container exits or is removed: its endpoints, ports and pinned namespace go. */
export async function releaseNetwork(containersRoot: string, id: string): Promise<void> {
  await networksOf(containersRoot).release(id);
}
