/**
 * tsdock's nftables table, rendered whole from the networks and endpoints and swapped in one
 * transaction (`nft -f`: add, delete, re-create). Declarative on purpose: there is no rule to
 * leak, since every change — and `network prune` after a crash — rewrites the table from state.
 *
 * Published ports are DNAT in the kernel, for traffic arriving from outside (prerouting) and
 * for traffic this host sends to one of its own addresses (output), 127.0.0.1 included. A packet
 * from 127.0.0.1 may leave through the bridge only with `route_localnet` set on it (bridge.ts),
 * and is masqueraded to the bridge's address so the container's reply finds its way back. A
 * container reaching a published port of its own network through a host address (hairpin) is
 * masqueraded too: else the server would answer it directly, from an address it never asked.
 *
 * Most container starts change nothing here (no published port, the network already there), so
 * the text last applied is kept under /run (it dies with the boot, as the table does) and an
 * unchanged table costs no `nft` run.
 */
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { TsdockError } from '../errors.js';
import { applyIptables } from './iptables.js';
import type { PortBinding } from './ports.js';
import { runTool } from './tool.js';

export interface NatNetwork {
  bridge: string;
  /** CIDR. */
  subnet: string;
}

export interface NatEndpoint {
  ip: string;
  ports: PortBinding[];
}

const quote = (name: string): string => `"${name}"`;

/** The table's text (without the delete that precedes it in a transaction). */
export function renderTable(table: string, networks: NatNetwork[], endpoints: NatEndpoint[]): string {
  const dnat: string[] = [];
  for (const ep of endpoints) {
    for (const p of ep.ports) {
      const daddr = p.hostIp === undefined || p.hostIp === '0.0.0.0' ? '' : `ip daddr ${p.hostIp} `;
      dnat.push(`${daddr}${p.protocol} dport ${String(p.hostPort)} dnat to ${ep.ip}:${String(p.containerPort)}`);
    }
  }
  const bridges = networks.map((n) => n.bridge);
  const post: string[] = [];
  const forward: string[] = [];
  for (const n of networks) {
    post.push(`ip saddr 127.0.0.0/8 oifname ${quote(n.bridge)} masquerade`);
    post.push(`ip saddr ${n.subnet} oifname != ${quote(n.bridge)} masquerade`);
    post.push(`ip saddr ${n.subnet} ip daddr ${n.subnet} oifname ${quote(n.bridge)} ct status dnat masquerade`);
    const others = bridges.filter((b) => b !== n.bridge);
    // Isolation: nothing is routed from one tsdock network into another.
    if (others.length > 0) forward.push(`iifname ${quote(n.bridge)} oifname { ${others.map(quote).join(', ')} } drop`);
  }
  const chain = (name: string, hook: string, rules: string[]): string =>
    [`\tchain ${name} {`, `\t\t${hook}`, ...rules.map((r) => `\t\t${r}`), '\t}'].join('\n');
  return [
    `table ip ${table} {`,
    chain('ports', '', dnat),
    chain('prerouting', 'type nat hook prerouting priority dstnat; policy accept;', [
      'fib daddr type local jump ports',
    ]),
    chain('output', 'type nat hook output priority -100; policy accept;', ['fib daddr type local jump ports']),
    chain('postrouting', 'type nat hook postrouting priority srcnat; policy accept;', post),
    chain('forward', 'type filter hook forward priority filter; policy accept;', forward),
    '}',
    '',
  ].join('\n');
}

type Firewall = 'nftables' | 'iptables';

function firewallOf(): Firewall {
  return process.env.TSDOCK_FIREWALL === 'iptables' ? 'iptables' : 'nftables';
}

function readApplied(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/**
 * Replaces the table atomically; with no network left, removes it. Without `nft` on the host
 * (or with `TSDOCK_FIREWALL=iptables`), the same rules go through iptables (iptables.ts). Skipped
 * when the result is what `appliedFile` says was last applied, unless `force` (prune); the rules
 * of the other firewall go when it was the one last used.
 */
export async function applyTable(
  table: string,
  networks: NatNetwork[],
  endpoints: NatEndpoint[],
  appliedFile: string,
  force = false,
): Promise<void> {
  const firewall = firewallOf();
  const wanted = `${firewall}\n${networks.length === 0 ? '' : renderTable(table, networks, endpoints)}`;
  const applied = readApplied(appliedFile);
  if (!force && applied === wanted) return;
  // What is on the host is unknown until the apply succeeds.
  rmSync(appliedFile, { force: true });
  const previous = applied?.slice(0, applied.indexOf('\n'));
  if (previous !== undefined && previous !== firewall) await replaceTable(previous as Firewall, table, [], []);
  await replaceTable(firewall, table, networks, endpoints);
  if (networks.length > 0) {
    writeFileSync(`${appliedFile}.tmp`, wanted, { mode: 0o600 });
    renameSync(`${appliedFile}.tmp`, appliedFile);
  }
}

async function replaceTable(
  firewall: Firewall,
  table: string,
  networks: NatNetwork[],
  endpoints: NatEndpoint[],
): Promise<void> {
  if (firewall === 'iptables') {
    await applyIptables(table, networks, endpoints);
    return;
  }
  // `table ip T` first makes the delete valid when the table does not exist yet.
  const head = `table ip ${table}\ndelete table ip ${table}\n`;
  try {
    await runTool('nft', ['-f', '-'], head + (networks.length === 0 ? '' : renderTable(table, networks, endpoints)));
  } catch (err) {
    if (!(err instanceof TsdockError) || err.code !== 'HOST_UNSUPPORTED') throw err;
    await applyIptables(table, networks, endpoints);
  }
}
