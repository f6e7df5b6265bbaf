/** `tsdock network create|ls|inspect|rm|connect|disconnect|prune`. */
import { Runtime } from '../../index.js';
import { confirmPrune } from '../confirm-prune.js';
import type { GlobalOptions } from '../main.js';
import { ipv6Unsupported } from '../../network/ipv4.js';
import { reportError, table } from '../render.js';

export async function networkCreate(
  globals: GlobalOptions,
  name: string,
  flags: { subnet?: string; gateway?: string; ipv6?: boolean },
): Promise<void> {
  const { ipv6, ...options } = flags;
  const runtime = await Runtime.open({ root: globals.root });
  process.stdout.write(`${(await runtime.createNetwork(name, { ...options, enableIPv6: ipv6 })).id}\n`);
}

export async function networkLs(globals: GlobalOptions, flags: { quiet?: boolean }): Promise<void> {
  const runtime = await Runtime.open({ root: globals.root });
  const networks = await runtime.listNetworks();
  if (flags.quiet === true) {
    process.stdout.write(networks.map((n) => `${n.id.slice(0, 12)}\n`).join(''));
    return;
  }
  const rows = networks.map((n) => [n.id.slice(0, 12), n.name, n.bridge, n.subnet, String(n.containers.length)]);
  process.stdout.write(table(['NETWORK ID', 'NAME', 'BRIDGE', 'SUBNET', 'CONTAINERS'], rows));
}

/** Runs `fn` per argument; an error is reported and the rest still run (Docker's behaviour). */
async function each(refs: string[], fn: (ref: string) => Promise<void>): Promise<void> {
  for (const ref of refs) {
    try {
      await fn(ref);
    } catch (err) {
      reportError(err);
      process.exitCode = 1;
    }
  }
}

export async function networkInspect(globals: GlobalOptions, refs: string[]): Promise<void> {
  const runtime = await Runtime.open({ root: globals.root });
  const found: unknown[] = [];
  await each(refs, async (ref) => {
    found.push(await runtime.inspectNetwork(ref));
  });
  process.stdout.write(JSON.stringify(found, null, 4) + '\n');
}

export async function networkRm(globals: GlobalOptions, refs: string[]): Promise<void> {
  const runtime = await Runtime.open({ root: globals.root });
  await each(refs, async (ref) => {
    process.stdout.write(`${await runtime.removeNetwork(ref)}\n`);
  });
}

export async function networkConnect(
  globals: GlobalOptions,
  network: string,
  container: string,
  flags: { alias: string[]; ip?: string; ip6?: string },
): Promise<void> {
  if (flags.ip6 !== undefined) throw ipv6Unsupported('--ip6');
  const runtime = await Runtime.open({ root: globals.root });
  await runtime.connectNetwork(network, container, { aliases: flags.alias, ip: flags.ip });
}

export async function networkDisconnect(globals: GlobalOptions, network: string, container: string): Promise<void> {
  const runtime = await Runtime.open({ root: globals.root });
  await runtime.disconnectNetwork(network, container);
}

export async function networkPrune(globals: GlobalOptions, flags: { force?: boolean }): Promise<void> {
  if (flags.force !== true && !(await confirmPrune('all custom networks not used by at least one container'))) return;
  const runtime = await Runtime.open({ root: globals.root });
  const removed = await runtime.pruneNetworks();
  if (removed.length > 0) process.stdout.write(`Deleted Networks:\n${removed.map((n) => `${n}\n`).join('')}`);
}
