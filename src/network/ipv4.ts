/** IPv4 addresses and subnets as 32-bit numbers: all the arithmetic IPAM and the rules need. */
import { TsdockError } from '../errors.js';

export interface Subnet {
  /** The network address, as an unsigned 32-bit number. */
  base: number;
  prefix: number;
}

/**
 * tsdock's networks are IPv4-only, as Docker's default bridge is without `--ipv6`: an IPv6 flag,
 * address or subnet is refused by name rather than ignored or called malformed.
 */
export function ipv6Unsupported(what: string): TsdockError {
  return new TsdockError('INVALID_ARGUMENT', `${what}: IPv6 is not supported (tsdock networks are IPv4-only)`);
}

/** Refuses an IPv6 address or subnet (`fd00::1`, `[::1]`, `fd00::/64`); IPv4 text has no colon. */
export function refuseIPv6(what: string, text: string): void {
  if (text.includes(':')) throw ipv6Unsupported(`${what} "${text}"`);
}

export function parseAddress(text: string): number | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let value = 0;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part) || Number(part) > 255) return undefined;
    value = value * 256 + Number(part);
  }
  return value;
}

export function formatAddress(value: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256).join('.');
}

/** Parses `10.1.0.0/24`; host bits must be zero, as Docker requires. */
export function parseSubnet(text: string): Subnet {
  refuseIPv6('subnet', text);
  const [addr = '', bits = '', ...rest] = text.split('/');
  const base = parseAddress(addr);
  const prefix = Number(bits);
  if (base === undefined || rest.length > 0 || !/^\d{1,2}$/.test(bits) || prefix > 30 || prefix < 8) {
    throw new TsdockError('INVALID_ARGUMENT', `invalid subnet "${text}": expected an IPv4 CIDR from /8 to /30`);
  }
  if (base % size({ base, prefix }) !== 0) {
    throw new TsdockError('INVALID_ARGUMENT', `invalid subnet "${text}": host bits are set`);
  }
  return { base, prefix };
}

export function formatSubnet(subnet: Subnet): string {
  return `${formatAddress(subnet.base)}/${String(subnet.prefix)}`;
}

export function size(subnet: Subnet): number {
  return 2 ** (32 - subnet.prefix);
}

export function contains(subnet: Subnet, address: number): boolean {
  return address >= subnet.base && address < subnet.base + size(subnet);
}

export function overlaps(a: Subnet, b: Subnet): boolean {
  return a.base < b.base + size(b) && b.base < a.base + size(a);
}
