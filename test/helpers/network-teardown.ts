/**
 * vitest globalSetup: after the whole run, removes the tsdock bridges this run left behind (a
 * root's default bridge stays once made, until `network prune`; a test that removes its root
 * without a prune leaves it), with their root's nftables table, pin directory and bpffs pins.
 *
 * Other test runs, and other roots, share the host: only bridges made during this run (absent at
 * setup) whose owner root (their alias, store.ts) is gone are touched — nobody can use those any
 * more — and only idle ones (no port, no pin), under the host-wide network lock, so no tsdock
 * network operation of any run is midway.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmdirSync, rmSync } from 'node:fs';
import { networkHostOf, ownerRootOf, withHostNetworkLock } from '../../src/network/store.js';

interface OwnedBridge {
  name: string;
  ifindex: string;
  root: string;
}

function read(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return '';
  }
}

function tsdockBridges(): OwnedBridge[] {
  return readdirSync('/sys/class/net').flatMap((name) => {
    const root = ownerRootOf(read(`/sys/class/net/${name}/ifalias`));
    if (root === undefined || !existsSync(`/sys/class/net/${name}/bridge`)) return [];
    return [{ name, ifindex: read(`/sys/class/net/${name}/ifindex`), root }];
  });
}

const isEmptyDir = (dir: string): boolean => !existsSync(dir) || readdirSync(dir).length === 0;

function removeOrphans(madeBefore: Set<string>): void {
  const orphans = tsdockBridges().filter((b) => !madeBefore.has(b.ifindex) && !existsSync(b.root));
  for (const root of new Set(orphans.map((b) => b.root))) {
    const host = networkHostOf(root);
    const bridges = orphans.filter((b) => b.root === root);
    if (!isEmptyDir(host.netnsDir) || bridges.some((b) => !isEmptyDir(`/sys/class/net/${b.name}/brif`))) continue;
    for (const b of bridges) execFileSync('ip', ['link', 'delete', b.name]);
    execFileSync('nft', ['-f', '-'], { input: `table ip ${host.table}\ndelete table ip ${host.table}\n` });
    rmSync(host.appliedRules, { force: true });
    rmSync(host.socketLbPins, { recursive: true, force: true });
    rmSync(host.publishedPathFile, { force: true });
    if (existsSync(host.netnsDir)) rmdirSync(host.netnsDir);
  }
}

export function setup(): () => Promise<void> {
  const madeBefore = new Set(tsdockBridges().map((b) => b.ifindex));
  return () =>
    withHostNetworkLock(() => {
      removeOrphans(madeBefore);
      return Promise.resolve();
    });
}
