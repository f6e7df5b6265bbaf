/** Bridges and veth pairs, as `ip -batch` commands; sysctls written directly. */
import { readFileSync, writeFileSync } from 'node:fs';
import { TsdockError } from '../errors.js';
import { ipInNetns, ipOnHost } from './netns.js';

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

/** The interface's alias: on a tsdock bridge, the root that owns it (store.ts `owner`). */
export function aliasOf(name: string): string {
  return readFileSync(`/sys/class/net/${name}/ifalias`, 'utf8').trimEnd();
}

/**
 * An existing bridge of that name is this root's when its alias names this root, or names none
 * (made before bridges carried their owner). Another root's (a copied `networks.json` names the
 * same user-network bridge) is neither joined nor deleted.
 */
function ownedBy(name: string, owner: string): boolean {
  const alias = aliasOf(name);
  return alias === '' || alias === owner;
}

/**
 * Makes sure the bridge exists, is marked with its owner root, has the gateway address and is up;
 * turns on forwarding (for NAT out) and `route_localnet` on the bridge (for 127.0.0.1 ->
 * published port, see nat.ts).
 *
 * @throws TsdockError `CONFLICT` when a bridge of that name belongs to another root.
 */
export async function ensureBridge(name: string, gatewayCidr: string, owner: string): Promise<void> {
  if (!linkExists(name)) {
    await ipOnHost([`link add ${name} type bridge`, `addr add ${gatewayCidr} dev ${name}`, `link set ${name} up`]);
    // sysfs takes the alias verbatim: no quoting of the root's path for `ip -batch`.
    writeFileSync(`/sys/class/net/${name}/ifalias`, owner);
  } else if (!ownedBy(name, owner)) {
    throw new TsdockError(
      'CONFLICT',
      `bridge ${name} belongs to another ${aliasOf(name)}: remove and re-create this root's network`,
    );
  }
  sysctl('/proc/sys/net/ipv4/ip_forward', '1');
  sysctl(`/proc/sys/net/ipv4/conf/${name}/route_localnet`, '1');
}

/** Deletes the bridge if it is this root's (`owner`); another root's is left alone. */
export async function deleteBridge(name: string, owner: string): Promise<void> {
  if (linkExists(name) && ownedBy(name, owner)) await ipOnHost([`link delete ${name} type bridge`]);
}

export interface VethRequest {
  hostName: string;
  /** Inside the container: eth0, eth1… */
  ifName: string;
  bridge: string;
  addressCidr: string;
  mac: string;
  /** Only the first network gives the default route. */
  gateway?: string;
}

/**
 * A veth pair as two `ip` batches. The pair is made from inside the container's namespace with
 * the host end sent out to ours (`netns /proc/PID/ns/net`), so that a new namespace is created,
 * pinned and fully configured by one process (`unshare --net=PIN ip -batch -`, netns.ts); the
 * host batch then enslaves the host end to the bridge.
 */
export function vethCommands(req: VethRequest): { inside: string[]; host: string[] } {
  return {
    inside: [
      `link add ${req.ifName} type veth peer name ${req.hostName} netns /proc/${String(process.pid)}/ns/net`,
      `link set ${req.ifName} address ${req.mac}`,
      `addr add ${req.addressCidr} dev ${req.ifName}`,
      `link set ${req.ifName} up`,
      ...(req.gateway === undefined ? [] : [`route add default via ${req.gateway}`]),
    ],
    // Hairpin: with br_netfilter, a container's packet to its own published port is DNATed
    // on the bridge and must leave through the port it came in by.
    host: [
      `link set ${req.hostName} master ${req.bridge}`,
      `link set ${req.hostName} type bridge_slave hairpin on`,
      `link set ${req.hostName} up`,
    ],
  };
}

/** Removes a container's interface from its namespace (disconnect); the host end goes with it. */
export async function removeVeth(netns: string, ifName: string): Promise<void> {
  await ipInNetns(netns, [`link delete ${ifName}`]);
}
