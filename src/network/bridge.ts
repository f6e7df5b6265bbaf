/** Bridges and veth pairs, as `ip -batch` commands; sysctls written directly. */
import { readFileSync, writeFileSync } from 'node:fs';
import { TsdockError } from '../errors.js';
import { ipInNetns, ipOnHost } from './netns.js';
import { runTool } from './tool.js';

function linkExists(name: string): boolean {
  try {
    readFileSync(`/sys/class/net/${name}/ifindex`);
    return true;
  } catch {
    return false;
  }
}

function sysctl(path: string, value: string): void {
  try {
    if (readFileSync(path, 'utf8').trim() !== value) writeFileSync(path, value);
  } catch (err) {
    throw new TsdockError('HOST_UNSUPPORTED', `cannot set ${path} to ${value}: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

/**
 * Makes sure the bridge exists, has the gateway address and is up; turns on forwarding (for
 * NAT out) and `route_localnet` on the bridge (for 127.0.0.1 -> published port, see nat.ts).
 */
export async function ensureBridge(name: string, gatewayCidr: string): Promise<void> {
  if (!linkExists(name)) {
    await ipOnHost([`link add ${name} type bridge`, `addr add ${gatewayCidr} dev ${name}`, `link set ${name} up`]);
  }
  sysctl('/proc/sys/net/ipv4/ip_forward', '1');
  sysctl(`/proc/sys/net/ipv4/conf/${name}/route_localnet`, '1');
}

export async function deleteBridge(name: string): Promise<void> {
  if (linkExists(name)) await ipOnHost([`link delete ${name} type bridge`]);
}

export async function deleteLink(name: string): Promise<void> {
  if (linkExists(name)) await runTool('ip', ['link', 'delete', name]);
}

export interface VethRequest {
  netns: string;
  hostName: string;
  /** Inside the container: eth0, eth1… */
  ifName: string;
  bridge: string;
  addressCidr: string;
  mac: string;
  /** Only the first network gives the default route. */
  gateway?: string;
}

/** Creates a veth pair with one end in the container's namespace, addressed and routed. */
export async function addVeth(req: VethRequest): Promise<void> {
  await ipOnHost([
    `link add ${req.hostName} type veth peer name ${req.ifName} netns ${req.netns}`,
    `link set ${req.hostName} master ${req.bridge}`,
    `link set ${req.hostName} up`,
  ]);
  await ipInNetns(req.netns, [
    'link set lo up',
    `link set ${req.ifName} address ${req.mac}`,
    `addr add ${req.addressCidr} dev ${req.ifName}`,
    `link set ${req.ifName} up`,
    ...(req.gateway === undefined ? [] : [`route add default via ${req.gateway}`]),
  ]);
}

/** Removes a container's interface from its namespace (disconnect); the host end goes with it. */
export async function removeVeth(netns: string, ifName: string): Promise<void> {
  await ipInNetns(netns, [`link delete ${ifName}`]);
}
