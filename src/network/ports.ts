/**
 * Published ports: the `-p` forms, `-P` over the image's EXPOSE, and the host-side checks that a
 * port is free. The forwarding itself is kernel DNAT (see nat.ts): no process holds the port.
 */
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import { TsdockError } from '../errors.js';
import { ipv6Unsupported, parseAddress } from './ipv4.js';

export type Protocol = 'tcp' | 'udp';

/** One `-p` request; `hostPort` 0 means "pick a free one". */
export interface PortSpec {
  /** Host address to listen on; absent: every address of the host. */
  hostIp?: string;
  hostPort: number;
  /** `-p 8000-8010:80`: the first free host port from `hostPort` to this one. */
  hostPortEnd?: number;
  containerPort: number;
  protocol: Protocol;
}

/** A published port with its host port decided. */
export type PortBinding = Omit<PortSpec, 'hostPortEnd'>;

function port(text: string, spec: string): number {
  const n = Number(text);
  if (!/^\d{1,5}$/.test(text) || n > 65535 || n === 0) {
    throw new TsdockError('INVALID_ARGUMENT', `invalid port "${text}" in -p "${spec}"`);
  }
  return n;
}

/** `80` or `8000-8010`, as [first, last]. */
function portRange(text: string, spec: string): [number, number] {
  const dash = text.indexOf('-');
  if (dash < 0) {
    const n = port(text, spec);
    return [n, n];
  }
  const [first, last] = [port(text.slice(0, dash), spec), port(text.slice(dash + 1), spec)];
  if (last < first) throw new TsdockError('INVALID_ARGUMENT', `invalid port range "${text}" in -p "${spec}"`);
  return [first, last];
}

/**
 * Parses `-p [ip:][hostPort:]containerPort[/tcp|udp]` (`ip::ctr` asks for a random host port),
 * each port also a range: `8000-8001:80-81` publishes two, pairwise; `8000-8010:80` the first
 * free host port of the range; `80-81` both on random host ports.
 */
export function parsePublish(spec: string): PortSpec[] {
  const slash = spec.lastIndexOf('/');
  const proto = slash < 0 ? 'tcp' : spec.slice(slash + 1);
  if (proto !== 'tcp' && proto !== 'udp') {
    throw new TsdockError('INVALID_ARGUMENT', `invalid protocol "${proto}" in -p "${spec}": expected tcp or udp`);
  }
  const parts = (slash < 0 ? spec : spec.slice(0, slash)).split(':');
  // `[::1]:8080:80`, `::1:8080:80`: an IPv6 host address.
  if (spec.startsWith('[') || parts.length > 3) throw ipv6Unsupported(`-p "${spec}"`);
  if (parts.length > 3 || parts.some((p, i) => p === '' && !(parts.length === 3 && i === 1))) {
    throw new TsdockError('INVALID_ARGUMENT', `invalid -p "${spec}": expected [ip:][hostPort:]containerPort[/tcp|udp]`);
  }
  const [ctrFirst, ctrLast] = portRange(parts.at(-1) ?? '', spec);
  const hostText = parts.length === 1 ? '' : (parts.at(-2) ?? '');
  const hostIp = parts.length === 3 ? parts[0] : undefined;
  if (hostIp !== undefined && parseAddress(hostIp) === undefined) {
    throw new TsdockError('INVALID_ARGUMENT', `invalid host address "${hostIp}" in -p "${spec}" (IPv4 only)`);
  }
  const base = { ...(hostIp === undefined ? {} : { hostIp }), protocol: proto } as const;
  const count = ctrLast - ctrFirst + 1;
  if (hostText === '') {
    return Array.from({ length: count }, (_, i) => ({ ...base, hostPort: 0, containerPort: ctrFirst + i }));
  }
  const [hostFirst, hostLast] = portRange(hostText, spec);
  if (count === 1 && hostLast > hostFirst) {
    return [{ ...base, hostPort: hostFirst, hostPortEnd: hostLast, containerPort: ctrFirst }];
  }
  if (hostLast - hostFirst + 1 !== count) {
    throw new TsdockError('INVALID_ARGUMENT', `invalid -p "${spec}": the host and container ranges differ in length`);
  }
  return Array.from({ length: count }, (_, i) => ({ ...base, hostPort: hostFirst + i, containerPort: ctrFirst + i }));
}

/** `-P`: every port of the image's EXPOSE (`80/tcp`, `53/udp`, `8080`) on a random host port. */
export function exposedPorts(exposed: Record<string, unknown> | undefined): PortSpec[] {
  return Object.keys(exposed ?? {}).flatMap((key) => parsePublish(key));
}

/** Binds and releases the port: EADDRINUSE means a host process (or another container) has it. */
async function probe(protocol: Protocol, host: string, hostPort: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const fail = (err: NodeJS.ErrnoException): void => {
      reject(
        err.code === 'EADDRINUSE'
          ? new TsdockError('CONFLICT', `host port ${host}:${String(hostPort)}/${protocol} is already in use`)
          : new TsdockError('INVALID_ARGUMENT', `cannot bind ${host}:${String(hostPort)}/${protocol}: ${err.message}`),
      );
    };
    if (protocol === 'udp') {
      const socket = createSocket('udp4');
      socket.once('error', fail);
      socket.bind({ address: host, port: hostPort, exclusive: true }, () => {
        const chosen = socket.address().port;
        socket.close(() => {
          resolve(chosen);
        });
      });
      return;
    }
    const server = createServer();
    server.once('error', fail);
    server.listen({ host, port: hostPort, exclusive: true }, () => {
      const address = server.address();
      const chosen = typeof address === 'object' && address !== null ? address.port : hostPort;
      server.close(() => {
        resolve(chosen);
      });
    });
  });
}

/**
 * Decides every host port: a given one must be free on the host and among the other containers'
 * bindings (`taken`, `proto:port`); of a range, the first such one; a random one is one the
 * kernel finds free.
 *
 * @throws TsdockError `CONFLICT` for a port in use (or a range with no free port).
 */
export async function bindPorts(specs: PortSpec[], taken: Set<string>): Promise<PortBinding[]> {
  const out: PortBinding[] = [];
  for (const { hostPortEnd, ...spec } of specs) {
    const host = spec.hostIp ?? '0.0.0.0';
    const key = (p: number): string => `${spec.protocol}:${String(p)}`;
    let hostPort: number;
    if (hostPortEnd !== undefined) hostPort = await firstFree(spec, hostPortEnd, taken);
    else {
      if (spec.hostPort !== 0 && taken.has(key(spec.hostPort))) {
        throw new TsdockError(
          'CONFLICT',
          `host port ${host}:${String(spec.hostPort)}/${spec.protocol} is already published by another container`,
        );
      }
      hostPort = await probe(spec.protocol, host, spec.hostPort);
      while (taken.has(key(hostPort))) hostPort = await probe(spec.protocol, host, 0);
    }
    taken.add(key(hostPort));
    out.push({ ...spec, hostPort });
  }
  return out;
}

async function firstFree(spec: PortBinding, last: number, taken: Set<string>): Promise<number> {
  const host = spec.hostIp ?? '0.0.0.0';
  for (let p = spec.hostPort; p <= last; p++) {
    if (taken.has(`${spec.protocol}:${String(p)}`)) continue;
    try {
      return await probe(spec.protocol, host, p);
    } catch (err) {
      if (!(err instanceof TsdockError) || err.code !== 'CONFLICT') throw err;
    }
  }
  throw new TsdockError(
    'CONFLICT',
    `no free host port in ${host}:${String(spec.hostPort)}-${String(last)}/${spec.protocol}`,
  );
}
