/**
 * Published ports: the `-p` forms, `-P` over the image's EXPOSE, and the host-side checks that a
 * port is free. The forwarding itself is kernel DNAT (see nat.ts): no process holds the port.
 */
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import { TsdockError } from '../errors.js';
import { parseAddress } from './ipv4.js';

export type Protocol = 'tcp' | 'udp';

/** One `-p` request; `hostPort` 0 means "pick a free one". */
export interface PortSpec {
  /** Host address to listen on; absent: every address of the host. */
  hostIp?: string;
  hostPort: number;
  containerPort: number;
  protocol: Protocol;
}

/** A published port with its host port decided. */
export interface PortBinding extends PortSpec {
  hostPort: number;
}

function port(text: string, spec: string, allowZero: boolean): number {
  const n = Number(text);
  if (!/^\d{1,5}$/.test(text) || n > 65535 || (n === 0 && !allowZero)) {
    throw new TsdockError('INVALID_ARGUMENT', `invalid port "${text}" in -p "${spec}"`);
  }
  return n;
}

/** Parses `-p [ip:][hostPort:]containerPort[/tcp|udp]` (`ip::ctr` asks for a random host port). */
export function parsePublish(spec: string): PortSpec {
  const slash = spec.lastIndexOf('/');
  const proto = slash < 0 ? 'tcp' : spec.slice(slash + 1);
  if (proto !== 'tcp' && proto !== 'udp') {
    throw new TsdockError('INVALID_ARGUMENT', `invalid protocol "${proto}" in -p "${spec}": expected tcp or udp`);
  }
  const parts = (slash < 0 ? spec : spec.slice(0, slash)).split(':');
  if (parts.length > 3 || parts.some((p, i) => p === '' && !(parts.length === 3 && i === 1))) {
    throw new TsdockError('INVALID_ARGUMENT', `invalid -p "${spec}": expected [ip:][hostPort:]containerPort[/tcp|udp]`);
  }
  const [a = '', b] = parts;
  const containerPort = port(parts.at(-1) ?? '', spec, false);
  if (parts.length === 1) return { hostPort: 0, containerPort, protocol: proto };
  if (parts.length === 2) return { hostPort: port(a, spec, false), containerPort, protocol: proto };
  if (parseAddress(a) === undefined) {
    throw new TsdockError('INVALID_ARGUMENT', `invalid host address "${a}" in -p "${spec}" (IPv4 only)`);
  }
  return {
    hostIp: a,
    hostPort: b === '' || b === undefined ? 0 : port(b, spec, false),
    containerPort,
    protocol: proto,
  };
}

/** `-P`: every port of the image's EXPOSE (`80/tcp`, `53/udp`, `8080`) on a random host port. */
export function exposedPorts(exposed: Record<string, unknown> | undefined): PortSpec[] {
  return Object.keys(exposed ?? {}).map((key) => parsePublish(key));
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
 * bindings (`taken`, `proto:port`); a random one is one the kernel finds free.
 *
 * @throws TsdockError `CONFLICT` for a port in use.
 */
export async function bindPorts(specs: PortSpec[], taken: Set<string>): Promise<PortBinding[]> {
  const out: PortBinding[] = [];
  for (const spec of specs) {
    const host = spec.hostIp ?? '0.0.0.0';
    const key = (p: number): string => `${spec.protocol}:${String(p)}`;
    if (spec.hostPort !== 0 && taken.has(key(spec.hostPort))) {
      throw new TsdockError(
        'CONFLICT',
        `host port ${host}:${String(spec.hostPort)}/${spec.protocol} is already published by another container`,
      );
    }
    let hostPort = await probe(spec.protocol, host, spec.hostPort);
    while (taken.has(key(hostPort))) hostPort = await probe(spec.protocol, host, 0);
    taken.add(key(hostPort));
    out.push({ ...spec, hostPort });
  }
  return out;
}

export function formatBinding(b: PortBinding): string {
  return `${String(b.containerPort)}/${b.protocol} -> ${b.hostIp ?? '0.0.0.0'}:${String(b.hostPort)}`;
}
