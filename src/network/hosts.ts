/**
 * A container's /etc/hosts and /etc/resolv.conf, pure. Names on a user network resolve through
 * hosts entries that tsdock keeps current in every member's file (rather than an embedded DNS
 * server): they work with every resolver, static binaries included, need no process per
 * container, and `cat /etc/hosts` shows the user exactly what resolves.
 */

export interface HostEntry {
  ip: string;
  names: string[];
}

const BASE = [
  '127.0.0.1\tlocalhost',
  '::1\tlocalhost ip6-localhost ip6-loopback',
  'fe00::0\tip6-localnet',
  'ff00::0\tip6-mcastprefix',
  'ff02::1\tip6-allnodes',
  'ff02::2\tip6-allrouters',
];

/** The container's own entries first (so its hostname is its address), then peers, then --add-host. */
export function renderHosts(self: HostEntry[], peers: HostEntry[], extra: HostEntry[]): string {
  const line = (e: HostEntry): string => `${e.ip}\t${[...new Set(e.names)].join(' ')}`;
  return [...BASE, ...self.map(line), ...peers.map(line), ...extra.map(line), ''].join('\n');
}

/** Parses `--add-host name:ip` (Docker's form; `name=ip` too). */
export function parseAddHost(spec: string): HostEntry | undefined {
  const match = /^([^:=\s]+)[:=](\S+)$/.exec(spec);
  if (match === null) return undefined;
  return { names: [match[1] ?? ''], ip: match[2] ?? '' };
}

/**
 * resolv.conf: the host's, minus loopback nameservers (they would be the container's own
 * loopback), with --dns / --dns-search replacing the host's lists when given.
 */
export function renderResolvConf(host: string, dns: string[], search: string[], options: string[] = []): string {
  const lines = host.split('\n');
  const hostServers = lines
    .map((l) => /^\s*nameserver\s+(\S+)/.exec(l)?.[1])
    .filter((s): s is string => s !== undefined && !s.startsWith('127.') && s !== '::1');
  const hostSearch = lines.flatMap((l) => /^\s*(?:search|domain)\s+(.+)$/.exec(l)?.[1]?.trim().split(/\s+/) ?? []);
  const hostOptions = lines.flatMap((l) => /^\s*options\s+(.+)$/.exec(l)?.[1]?.trim().split(/\s+/) ?? []);
  const servers = dns.length > 0 ? dns : hostServers;
  const domains = search.length > 0 ? search : hostSearch;
  const opts = options.length > 0 ? options : hostOptions;
  return [
    ...(domains.length > 0 ? [`search ${domains.join(' ')}`] : []),
    ...servers.map((s) => `nameserver ${s}`),
    ...(opts.length > 0 ? [`options ${opts.join(' ')}`] : []),
    '',
  ].join('\n');
}
