/**
 * The iptables fallback for hosts without `nft`: the same rules as nat.ts, in chains of
 * tsdock's own (`TSDOCK…-PORTS`, `-POST`, `-FWD`) refilled whole by one `iptables-restore
 * --noflush` (declaring a chain there empties it), with one jump from each built-in chain,
 * added only when `iptables-save` does not show it. With no network left, jumps and chains go.
 */
import type { NatEndpoint, NatNetwork } from './nat.js';
import { runTool } from './tool.js';

interface Chains {
  ports: string;
  post: string;
  fwd: string;
}

function chainsOf(table: string): Chains {
  const base = table.toUpperCase();
  return { ports: `${base}-PORTS`, post: `${base}-POST`, fwd: `${base}-FWD` };
}

/** The jumps into tsdock's chains, as `iptables-save` prints them: [table, built-in chain, rule]. */
function hooksOf(c: Chains): [string, string, string][] {
  const local = '-m addrtype --dst-type LOCAL';
  return [
    ['nat', 'PREROUTING', `${local} -j ${c.ports}`],
    ['nat', 'OUTPUT', `${local} -j ${c.ports}`],
    ['nat', 'POSTROUTING', `-j ${c.post}`],
    ['filter', 'FORWARD', `-j ${c.fwd}`],
  ];
}

/** The `iptables-restore --noflush` input; `present` is the current `iptables-save` output. */
export function renderIptables(
  table: string,
  networks: NatNetwork[],
  endpoints: NatEndpoint[],
  present: string,
): string {
  const c = chainsOf(table);
  const has = (chain: string, rule: string): boolean => present.includes(`-A ${chain} ${rule}\n`);
  const hooks = hooksOf(c);
  const nat: string[] = [];
  const filter: string[] = [];
  const out = (t: string): string[] => (t === 'nat' ? nat : filter);
  if (networks.length === 0) {
    for (const [t, chain, rule] of hooks) if (has(chain, rule)) out(t).push(`-D ${chain} ${rule}`);
    const exists = (chain: string): boolean => present.includes(`:${chain} `);
    for (const chain of [c.ports, c.post]) if (exists(chain)) nat.push(`:${chain} - [0:0]`, `-X ${chain}`);
    if (exists(c.fwd)) filter.push(`:${c.fwd} - [0:0]`, `-X ${c.fwd}`);
  } else {
    nat.push(`:${c.ports} - [0:0]`, `:${c.post} - [0:0]`);
    filter.push(`:${c.fwd} - [0:0]`);
    for (const [t, chain, rule] of hooks) if (!has(chain, rule)) out(t).push(`-I ${chain} ${rule}`);
    for (const ep of endpoints) {
      for (const p of ep.ports) {
        const daddr = p.hostIp === undefined || p.hostIp === '0.0.0.0' ? '' : `-d ${p.hostIp}/32 `;
        nat.push(
          `-A ${c.ports} ${daddr}-p ${p.protocol} -m ${p.protocol} --dport ${String(p.hostPort)} -j DNAT --to-destination ${ep.ip}:${String(p.containerPort)}`,
        );
      }
    }
    const bridges = networks.map((n) => n.bridge);
    for (const n of networks) {
      nat.push(`-A ${c.post} -s 127.0.0.0/8 -o ${n.bridge} -j MASQUERADE`);
      nat.push(`-A ${c.post} -s ${n.subnet} ! -o ${n.bridge} -j MASQUERADE`);
      nat.push(`-A ${c.post} -s ${n.subnet} -d ${n.subnet} -o ${n.bridge} -m conntrack --ctstate DNAT -j MASQUERADE`);
      for (const other of bridges)
        if (other !== n.bridge) filter.push(`-A ${c.fwd} -i ${n.bridge} -o ${other} -j DROP`);
    }
  }
  return ['*nat', ...nat, 'COMMIT', '*filter', ...filter, 'COMMIT', ''].join('\n');
}

export async function applyIptables(table: string, networks: NatNetwork[], endpoints: NatEndpoint[]): Promise<void> {
  const present = await runTool('iptables-save', []);
  await runTool('iptables-restore', ['--noflush'], renderIptables(table, networks, endpoints, present));
}
