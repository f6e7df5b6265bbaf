/**
 * Published ports for clients on this host, at connect(2) instead of per packet: the cgroup
 * sock_addr programs of `socket-lb-program.ts`, attached to the root of the cgroup2 hierarchy
 * (so every process's sockets meet them) through BPF links pinned in bpffs with their maps
 * (`/sys/fs/bpf/<table>/`), so they outlive the CLI. Like the nftables table, the services map
 * is a function of the state, synced whole under the network lock; with no published TCP port
 * left the pins go, and with them the links and programs.
 *
 * The DNAT rules stay (nat.ts): other hosts, containers (hairpin), UDP and hosts where the
 * programs cannot be loaded (no cgroup2, an old kernel, no CAP_BPF) use them. Which path this
 * host's clients take is written to `publishedPathFile` ("socket" or "nat: <why>").
 * `TSDOCK_SOCKET_LB=off` keeps them on the DNAT path (to compare the two, or should a program
 * misbehave).
 */
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { encodeEbpf } from '../ebpf.js';
import { native } from '../native.js';
import type { NatEndpoint } from './nat.js';
import { connectProgram, encodeServices, getpeernameProgram, type SocketService } from './socket-lb-program.js';

const BPFFS = '/sys/fs/bpf';

/**
 * The published TCP addresses a host client dials: 127.0.0.1 for a port published on every
 * address, else the address it is published on. UDP keeps the DNAT path: a redirected
 * unconnected socket would also need sendmsg4/recvmsg4 programs.
 */
export function socketServices(endpoints: readonly NatEndpoint[]): SocketService[] {
  return endpoints.flatMap((ep) =>
    ep.ports
      .filter((p) => p.protocol === 'tcp')
      .map((p) => ({
        ip: p.hostIp === undefined || p.hostIp === '0.0.0.0' ? '127.0.0.1' : p.hostIp,
        port: p.hostPort,
        protocol: p.protocol,
        backendIp: ep.ip,
        backendPort: p.containerPort,
      })),
  );
}

/** The mount point of the cgroup2 hierarchy's root: /sys/fs/cgroup on v2, …/unified on hybrid. */
export function cgroup2Root(mountinfo: string): string | undefined {
  const roots = mountinfo
    .split('\n')
    .map((line) => line.split(' '))
    .filter((f) => f[3] === '/' && f[f.indexOf('-') + 1] === 'cgroup2')
    .map((f) => f[4] ?? '');
  return roots.find((r) => r === '/sys/fs/cgroup') ?? roots[0];
}

function ensureBpffs(mountinfo: string): void {
  const mounted = mountinfo.split('\n').some((l) => {
    const f = l.split(' ');
    return f[4] === BPFFS && f[f.indexOf('-') + 1] === 'bpf';
  });
  if (!mounted) native().mount('bpf', BPFFS, 'bpf', 0n, 'mode=0700');
}

function writeRecord(file: string, path: string): void {
  writeFileSync(`${file}.tmp`, `${path}\n`, { mode: 0o644 });
  renameSync(`${file}.tmp`, file);
}

/** Loads, links and fills the pins: "socket", or "nat: <why>" with nothing left pinned. */
function syncPins(pins: string, services: readonly SocketService[]): string {
  const mountinfo = readFileSync('/proc/self/mountinfo', 'utf8');
  const cgroup = cgroup2Root(mountinfo);
  if (cgroup === undefined) return 'nat: no cgroup2 hierarchy is mounted';
  try {
    ensureBpffs(mountinfo);
    mkdirSync(pins, { recursive: true, mode: 0o700 });
    native().socketLbSync(
      pins,
      cgroup,
      encodeEbpf(connectProgram()),
      encodeEbpf(getpeernameProgram()),
      encodeServices(services),
    );
    return 'socket';
  } catch (err) {
    // Half-made pins would keep a program attached that no later run can trust.
    rmSync(pins, { recursive: true, force: true });
    const { message, verifierLog } = err as { message?: string; verifierLog?: string };
    const verdict = verifierLog?.trim().split('\n').at(-1);
    return `nat: ${message ?? String(err)}${verdict === undefined || verdict === '' ? '' : ` (verifier: ${verdict})`}`;
  }
}

/**
 * Makes the pinned programs and services map under `pins` match `endpoints`' published ports,
 * or removes them when there are none. Never fails a network operation: where the programs
 * cannot be loaded the DNAT rules serve, and `publishedPathFile` says why.
 */
export function applySocketLb(pins: string, endpoints: readonly NatEndpoint[], publishedPathFile: string): void {
  const services = socketServices(endpoints);
  if (services.length === 0) {
    rmSync(pins, { recursive: true, force: true });
    rmSync(publishedPathFile, { force: true });
  } else if (process.env.TSDOCK_SOCKET_LB === 'off') {
    rmSync(pins, { recursive: true, force: true });
    writeRecord(publishedPathFile, 'nat: TSDOCK_SOCKET_LB=off');
  } else {
    writeRecord(publishedPathFile, syncPins(pins, services));
  }
}
