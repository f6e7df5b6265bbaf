/**
 * Address management, pure: which subnet a new network gets (one that overlaps neither a host
 * route nor another network, so a container's traffic is never mis-routed), and which address in
 * it a container gets. The caller holds the network lock and passes in what is taken.
 */
import { TsdockError } from '../errors.js';
import {
  contains,
  formatAddress,
  formatSubnet,
  overlaps,
  parseAddress,
  refuseIPv6,
  size,
  type Subnet,
} from './ipv4.js';

/** A host route, as `ip -j route show table all` reports it. */
export interface HostRoute {
  dst: string;
  dev?: string;
}

/** Docker's default pools: 172.17-31.0.0/16 for the first networks, then 192.168.x.0/20. */
export function candidateSubnets(): Subnet[] {
  const out: Subnet[] = [];
  for (let b = 17; b <= 31; b++) out.push({ base: (172 * 256 + b) * 65536, prefix: 16 });
  for (let c = 0; c < 256; c += 16) out.push({ base: (192 * 256 + 168) * 65536 + c * 256, prefix: 20 });
  return out;
}

/** The host routes that claim addresses: not the default route, which overlaps everything. */
export function routeSubnets(routes: HostRoute[]): { subnet: Subnet; route: HostRoute }[] {
  const out: { subnet: Subnet; route: HostRoute }[] = [];
  for (const route of routes) {
    if (route.dst === 'default') continue;
    const [addr = '', bits = '32'] = route.dst.split('/');
    const base = parseAddress(addr);
    if (base === undefined) continue;
    const prefix = Number(bits);
    const block = 2 ** (32 - prefix);
    out.push({ subnet: { base: base - (base % block), prefix }, route });
  }
  return out;
}

function describe(route: HostRoute): string {
  return route.dev === undefined ? route.dst : `${route.dst} dev ${route.dev}`;
}

/**
 * Checks a requested subnet against the host's routes and the other networks.
 *
 * @throws TsdockError `CONFLICT` naming the route or network it overlaps.
 */
export function checkSubnet(subnet: Subnet, routes: HostRoute[], taken: { name: string; subnet: Subnet }[]): void {
  for (const { subnet: used, route } of routeSubnets(routes)) {
    if (overlaps(subnet, used)) {
      throw new TsdockError(
        'CONFLICT',
        `subnet ${formatSubnet(subnet)} overlaps the host route ${describe(route)}: choose another --subnet`,
      );
    }
  }
  for (const other of taken) {
    if (overlaps(subnet, other.subnet)) {
      throw new TsdockError(
        'CONFLICT',
        `subnet ${formatSubnet(subnet)} overlaps network "${other.name}" (${formatSubnet(other.subnet)})`,
      );
    }
  }
}

/** The first candidate subnet that overlaps nothing. */
export function chooseSubnet(routes: HostRoute[], taken: Subnet[]): Subnet {
  const used = [...routeSubnets(routes).map((r) => r.subnet), ...taken];
  const free = candidateSubnets().find((c) => !used.some((u) => overlaps(c, u)));
  if (free === undefined) throw new TsdockError('CONFLICT', 'no free subnet left in the default pools: pass --subnet');
  return free;
}

/** The gateway (the bridge's own address): the subnet's first host address. */
export function gatewayOf(subnet: Subnet): number {
  return subnet.base + 1;
}

/**
 * A container's address: `wanted` if it is a free host address of the subnet, else the lowest
 * free one after the gateway.
 */
export function allocateAddress(subnet: Subnet, used: Set<number>, wanted?: string): number {
  const first = subnet.base + 1;
  const last = subnet.base + size(subnet) - 2;
  if (wanted !== undefined) {
    refuseIPv6('--ip', wanted);
    const addr = parseAddress(wanted);
    if (addr === undefined) throw new TsdockError('INVALID_ARGUMENT', `invalid --ip "${wanted}"`);
    if (!contains(subnet, addr) || addr < first || addr > last || addr === gatewayOf(subnet)) {
      throw new TsdockError('INVALID_ARGUMENT', `--ip ${wanted} is not a free host address of ${formatSubnet(subnet)}`);
    }
    if (used.has(addr)) throw new TsdockError('CONFLICT', `address ${wanted} is already in use`);
    return addr;
  }
  for (let a = gatewayOf(subnet) + 1; a <= last; a++) if (!used.has(a)) return a;
  throw new TsdockError('CONFLICT', `no free address left in ${formatSubnet(subnet)}`);
}

/** Docker's scheme: 02:42 and the four bytes of the address, so a MAC is stable per address. */
export function macOf(address: number): string {
  return [
    '02',
    '42',
    ...formatAddress(address)
      .split('.')
      .map((b) => Number(b).toString(16).padStart(2, '0')),
  ].join(':');
}
