/**
 * Network operations for one tsdock root: user networks (create, list, inspect, remove),
 * attaching a starting container (pinned netns, address, veth, ports, hosts entries), connect,
 * disconnect, release and prune. Each runs under the host-wide lock and ends by rewriting the
 * nftables table from the resulting state.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, rmdirSync, writeFileSync } from 'node:fs';
import { TsdockError } from '../errors.js';
import { deleteBridge, ensureBridge, removeVeth, vethCommands, type VethRequest } from './bridge.js';
import { renderHosts, type HostEntry } from './hosts.js';
import { allocateAddress, checkSubnet, chooseSubnet, gatewayOf, macOf, type HostRoute } from './ipam.js';
import { formatAddress, formatSubnet, ipv6Unsupported, parseAddress, parseSubnet, refuseIPv6 } from './ipv4.js';
import { applyTable } from './nat.js';
import { applySocketLb } from './socket-lb.js';
import { createPinnedNetns, ipInNetns, ipOnHost, pinExisting, pinPath, removePinnedNetns } from './netns.js';
import { bindPorts, type PortSpec } from './ports.js';
import {
  networkHostOf,
  readState,
  withNetworkLock,
  writeState,
  type EndpointRecord,
  type NetworkHost,
  type NetworkRecord,
  type NetworkState,
} from './store.js';
import { runTool } from './tool.js';

/** Docker's name for the default network. */
export const DEFAULT_NETWORK = 'bridge';

export interface CreateNetworkOptions {
  /** CIDR; default: the first free one of Docker's pools. */
  subnet?: string;
  /** Default: the subnet's first address. */
  gateway?: string;
  /** Docker's `--ipv6`: refused when true, since tsdock networks are IPv4-only. */
  enableIPv6?: boolean;
}

/** A container joining a network: who it is and what it asks for. */
export interface AttachRequest {
  containerId: string;
  /** Container name, hostname, `--network-alias`es. */
  names: string[];
  hostsFile: string;
  extraHosts: HostEntry[];
  ip?: string;
  mac?: string;
  publish?: PortSpec[];
}

export interface NetworkSummary extends NetworkRecord {
  containers: { id: string; ip: string; mac: string; names: string[] }[];
}

const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

/** The modes that are not a network to attach to. */
export function isNetworkName(mode: string): boolean {
  return !['none', 'host'].includes(mode) && !mode.startsWith('container:') && !mode.startsWith('/');
}

async function hostRoutes(): Promise<HostRoute[]> {
  return JSON.parse(await runTool('ip', ['-j', '-4', 'route', 'show', 'table', 'all'])) as HostRoute[];
}

export class Networks {
  readonly host: NetworkHost;

  constructor(root: string) {
    this.host = networkHostOf(root);
  }

  /** Where a container's namespace is pinned while it has networks. */
  netnsOf(containerId: string): string {
    return pinPath(this.host.netnsDir, containerId);
  }

  async create(name: string, options: CreateNetworkOptions = {}): Promise<NetworkRecord> {
    if (!NAME_RE.test(name) || !isNetworkName(name) || name === DEFAULT_NETWORK) {
      throw new TsdockError('INVALID_ARGUMENT', `invalid network name "${name}"`);
    }
    if (options.enableIPv6 === true) throw ipv6Unsupported('--ipv6');
    return this.locked(async (state) => {
      if (state.networks.some((n) => n.name === name)) {
        throw new TsdockError('CONFLICT', `network with name ${name} already exists`);
      }
      const id = randomBytes(32).toString('hex');
      return this.addNetwork(state, { id, name, bridge: `tsbr-${id.slice(0, 10)}`, isDefault: false }, options);
    });
  }

  list(): NetworkSummary[] {
    const state = readState(this.host);
    return state.networks.map((n) => this.summary(state, n));
  }

  inspect(ref: string): NetworkSummary {
    const state = readState(this.host);
    return this.summary(state, this.find(state, ref));
  }

  /**
   * Removes a user network and its bridge.
   *
   * @throws TsdockError `CONFLICT` while containers are attached.
   */
  async remove(ref: string): Promise<string> {
    return this.locked(async (state) => {
      const net = this.find(state, ref);
      const users = state.endpoints.filter((e) => e.network === net.id);
      if (users.length > 0) {
        throw new TsdockError(
          'CONFLICT',
          `network ${net.name} has active endpoints (${users.map((e) => e.names[0] ?? e.containerId).join(', ')})`,
        );
      }
      state.networks = state.networks.filter((n) => n.id !== net.id);
      await deleteBridge(net.bridge, this.host.owner);
      return net.name;
    });
  }

  /**
   * Creates the container's pinned namespace and attaches it to `networks` (the first one gives
   * the default route and the published ports). Returns the pin to join.
   */
  async attach(req: AttachRequest, networks: string[]): Promise<string> {
    return this.locked(async (state) => {
      const netns = this.netnsOf(req.containerId);
      this.dropEndpoints(state, req.containerId);
      try {
        for (const [i, ref] of networks.entries()) {
          const own = i === 0 ? req : { ...req, ip: undefined, mac: undefined, publish: [] };
          const { endpoint, veth } = await this.planEndpoint(state, own, ref, netns, i === 0);
          const commands = vethCommands(veth);
          if (i === 0) await createPinnedNetns(netns, this.host.netnsDir, commands.inside);
          else await ipInNetns(netns, commands.inside);
          await ipOnHost(commands.host);
          state.endpoints.push(endpoint);
        }
      } catch (err) {
        this.dropEndpoints(state, req.containerId);
        removePinnedNetns(netns);
        throw err;
      }
      return netns;
    });
  }

  /**
   * Pins another process's namespace for a container (`container:` of a `none` container), so
   * its plan joins a path that stays valid, released like any pin.
   */
  async pin(containerId: string, source: string): Promise<void> {
    await this.locked(() => {
      pinExisting(source, this.netnsOf(containerId), this.host.netnsDir);
      return Promise.resolve();
    });
  }

  /** Attaches a running container (one with a pinned namespace) to one more network. */
  async connect(req: AttachRequest, ref: string): Promise<void> {
    await this.locked(async (state) => {
      const netns = this.netnsOf(req.containerId);
      if (!existsSync(netns)) {
        throw new TsdockError('CONFLICT', 'the container must be running on a bridge or user network to connect it');
      }
      const net = this.find(state, ref);
      if (state.endpoints.some((e) => e.containerId === req.containerId && e.network === net.id)) {
        throw new TsdockError('CONFLICT', `the container is already connected to network ${net.name}`);
      }
      const { endpoint, veth } = await this.planEndpoint(
        state,
        { ...req, mac: undefined, publish: [] },
        ref,
        netns,
        false,
      );
      const commands = vethCommands(veth);
      await ipInNetns(netns, commands.inside);
      try {
        await ipOnHost(commands.host);
      } catch (err) {
        await removeVeth(netns, veth.ifName);
        throw err;
      }
      state.endpoints.push(endpoint);
    });
  }

  async disconnect(containerId: string, ref: string): Promise<void> {
    await this.locked(async (state) => {
      const net = this.find(state, ref);
      const ep = state.endpoints.find((e) => e.containerId === containerId && e.network === net.id);
      if (ep === undefined) throw new TsdockError('CONFLICT', `the container is not connected to network ${net.name}`);
      if (existsSync(ep.netns)) await removeVeth(ep.netns, ep.ifName);
      state.endpoints = state.endpoints.filter((e) => e !== ep);
    });
  }

  /** Removes a container's endpoints, ports and pinned namespace (rm, failed start, exit). */
  async release(containerId: string): Promise<void> {
    const state = readState(this.host);
    if (!state.endpoints.some((e) => e.containerId === containerId) && !existsSync(this.netnsOf(containerId))) return;
    await this.locked((s) => {
      this.dropEndpoints(s, containerId);
      return Promise.resolve();
    });
  }

  /**
   * After crashes: releases every container not in `active`, removes pins nobody owns and user
   * networks nobody uses (Docker's `network prune`). Returns the removed networks' names.
   */
  async prune(active: Set<string>): Promise<string[]> {
    return this.locked(async (state) => {
      for (const id of new Set(state.endpoints.map((e) => e.containerId))) {
        if (!active.has(id)) this.dropEndpoints(state, id);
      }
      for (const id of existsSync(this.host.netnsDir) ? readdirSync(this.host.netnsDir) : []) {
        if (!active.has(id)) removePinnedNetns(this.netnsOf(id));
      }
      if (existsSync(this.host.netnsDir) && readdirSync(this.host.netnsDir).length === 0) rmdirSync(this.host.netnsDir);
      const removed: string[] = [];
      for (const net of [...state.networks]) {
        if (state.endpoints.some((e) => e.network === net.id)) continue;
        if (!net.isDefault) removed.push(net.name);
        state.networks = state.networks.filter((n) => n !== net);
        await deleteBridge(net.bridge, this.host.owner);
      }
      return removed;
    }, true);
  }

  /** A container's address on its first network. */
  addressOf(containerId: string): string | undefined {
    return readState(this.host).endpoints.find((e) => e.containerId === containerId)?.ip;
  }

  endpointsOf(containerId: string): (EndpointRecord & { networkName: string })[] {
    const state = readState(this.host);
    return state.endpoints
      .filter((e) => e.containerId === containerId)
      .map((e) => ({ ...e, networkName: state.networks.find((n) => n.id === e.network)?.name ?? e.network }));
  }

  /**
   * Runs `fn` on the current state under the lock, then saves the state, rewrites the table and
   * the members' hosts files. Endpoints whose pin is gone (a reboot emptied /run) are dropped
   * first: that is the start-up reconciliation. So are endpoints pinned outside this root's pin
   * directory (a `networks.json` copied from another root): their containers are another root's.
   */
  private async locked<T>(fn: (state: NetworkState) => Promise<T>, force = false): Promise<T> {
    return withNetworkLock(this.host, async () => {
      const state = readState(this.host);
      state.endpoints = state.endpoints.filter((e) => e.netns === this.netnsOf(e.containerId) && existsSync(e.netns));
      try {
        return await fn(state);
      } finally {
        writeState(this.host, state);
        await applyTable(
          this.host.table,
          state.networks.map((n) => ({ bridge: n.bridge, subnet: n.subnet })),
          state.endpoints,
          this.host.appliedRules,
          force,
        );
        applySocketLb(this.host.socketLbPins, state.endpoints, this.host.publishedPathFile);
        this.writeHostsFiles(state);
      }
    });
  }

  private dropEndpoints(state: NetworkState, containerId: string): void {
    state.endpoints = state.endpoints.filter((e) => e.containerId !== containerId);
    removePinnedNetns(this.netnsOf(containerId));
  }

  private find(state: NetworkState, ref: string): NetworkRecord {
    const found =
      state.networks.find((n) => n.name === ref || n.id === ref) ??
      (ref.length >= 4 ? state.networks.find((n) => n.id.startsWith(ref)) : undefined);
    if (found === undefined) {
      if (ref === DEFAULT_NETWORK) {
        throw new TsdockError('NETWORK_NOT_FOUND', 'the default network has not been created yet');
      }
      throw new TsdockError('NETWORK_NOT_FOUND', `network ${ref} not found`);
    }
    return found;
  }

  /** Finds a network, creating the default one on first use. */
  private async resolve(state: NetworkState, ref: string): Promise<NetworkRecord> {
    const found = state.networks.find((n) => n.name === ref || n.id === ref);
    if (found !== undefined) return found;
    if (ref !== DEFAULT_NETWORK) return this.find(state, ref);
    const id = createHash('sha256').update(`default:${this.host.defaultBridge}`).digest('hex');
    return this.addNetwork(state, { id, name: DEFAULT_NETWORK, bridge: this.host.defaultBridge, isDefault: true }, {});
  }

  private async addNetwork(
    state: NetworkState,
    base: Pick<NetworkRecord, 'id' | 'name' | 'bridge' | 'isDefault'>,
    options: CreateNetworkOptions,
  ): Promise<NetworkRecord> {
    const routes = (await hostRoutes()).filter((r) => !state.networks.some((n) => r.dev === n.bridge));
    const taken = state.networks.map((n) => ({ name: n.name, subnet: parseSubnet(n.subnet) }));
    let subnet;
    if (options.subnet === undefined)
      subnet = chooseSubnet(
        routes,
        taken.map((t) => t.subnet),
      );
    else {
      subnet = parseSubnet(options.subnet);
      checkSubnet(subnet, routes, taken);
    }
    let gateway = gatewayOf(subnet);
    if (options.gateway !== undefined) {
      refuseIPv6('--gateway', options.gateway);
      const parsed = parseAddress(options.gateway);
      if (parsed === undefined || parsed <= subnet.base || parsed >= subnet.base + 2 ** (32 - subnet.prefix) - 1) {
        throw new TsdockError('INVALID_ARGUMENT', `gateway ${options.gateway} is not a host address of the subnet`);
      }
      gateway = parsed;
    }
    const record: NetworkRecord = {
      ...base,
      subnet: formatSubnet(subnet),
      gateway: formatAddress(gateway),
      created: new Date().toISOString(),
    };
    await ensureBridge(record.bridge, `${record.gateway}/${String(subnet.prefix)}`, this.host.owner);
    state.networks.push(record);
    return record;
  }

  /** Decides a container's endpoint on one network (address, MAC, host ports) and its veth. */
  private async planEndpoint(
    state: NetworkState,
    req: AttachRequest,
    ref: string,
    netns: string,
    first: boolean,
  ): Promise<{ endpoint: EndpointRecord; veth: VethRequest }> {
    const net = await this.resolve(state, ref);
    await ensureBridge(net.bridge, `${net.gateway}/${net.subnet.split('/')[1] ?? ''}`, this.host.owner);
    const subnet = parseSubnet(net.subnet);
    const used = new Set(
      [net.gateway, ...state.endpoints.filter((e) => e.network === net.id).map((e) => e.ip)].map(
        (ip) => parseAddress(ip) ?? 0,
      ),
    );
    const ip = allocateAddress(subnet, used, req.ip);
    const taken = new Set(state.endpoints.flatMap((e) => e.ports.map((p) => `${p.protocol}:${String(p.hostPort)}`)));
    const ports = await bindPorts(req.publish ?? [], taken);
    const mine = state.endpoints.filter((e) => e.containerId === req.containerId).length;
    const endpoint: EndpointRecord = {
      containerId: req.containerId,
      network: net.id,
      ifName: `eth${String(mine)}`,
      hostVeth: `tsv${createHash('sha256').update(`${req.containerId}/${net.id}`).digest('hex').slice(0, 11)}`,
      ip: formatAddress(ip),
      mac: req.mac ?? macOf(ip),
      names: req.names,
      ports,
      netns,
      hostsFile: req.hostsFile,
      extraHosts: req.extraHosts,
    };
    const veth: VethRequest = {
      hostName: endpoint.hostVeth,
      ifName: endpoint.ifName,
      bridge: net.bridge,
      addressCidr: `${endpoint.ip}/${String(subnet.prefix)}`,
      mac: endpoint.mac,
      gateway: first ? net.gateway : undefined,
    };
    return { endpoint, veth };
  }

  /**
   * Every member's hosts file: its own addresses, then its peers on user networks. Written in
   * place, never renamed: the container sees the file through a bind mount of this very inode.
   */
  private writeHostsFiles(state: NetworkState): void {
    const byContainer = new Map<string, EndpointRecord[]>();
    for (const e of state.endpoints) byContainer.set(e.containerId, [...(byContainer.get(e.containerId) ?? []), e]);
    for (const [id, mine] of byContainer) {
      const first = mine[0];
      if (first === undefined || !existsSync(first.hostsFile)) continue;
      const nets = new Set(
        mine.filter((e) => state.networks.find((n) => n.id === e.network)?.isDefault === false).map((e) => e.network),
      );
      const peers = state.endpoints
        .filter((e) => e.containerId !== id && nets.has(e.network))
        .map((e) => ({ ip: e.ip, names: e.names }));
      writeFileSync(first.hostsFile, renderHosts([{ ip: first.ip, names: first.names }], peers, first.extraHosts));
    }
  }

  private summary(state: NetworkState, n: NetworkRecord): NetworkSummary {
    return {
      ...n,
      containers: state.endpoints
        .filter((e) => e.network === n.id)
        .map((e) => ({ id: e.containerId, ip: e.ip, mac: e.mac, names: e.names })),
    };
  }
}
