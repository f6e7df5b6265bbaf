/**
 * A pod's shared namespaces, pinned. The pause process owns them; each is also bind-mounted from
 * `/proc/<pause>/ns/<kind>` to `/run/tsdock/pods[-<tag>]/<pod>/<kind>`, so the members' spawn
 * plans (built once, at create) name paths that stay valid across pod restarts and never point
 * at a recycled pid. A pin is a mount in the host's mount namespace: Node can make it itself.
 */
import { existsSync, mkdirSync, readdirSync, rmdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { native } from '../native.js';
import { removePinnedNetns } from '../network/netns.js';
import { rootTag } from '../network/store.js';
import { MS } from './mount-flags.js';
import type { PodNamespace } from './pod-record.js';

/** Where one pod's namespaces are pinned. */
export function podPinsDir(root: string, podId: string): string {
  const tag = rootTag(root);
  return join('/run/tsdock', tag === '' ? 'pods' : `pods-${tag}`, podId);
}

/** Pins `kinds` of the namespaces of process `pid` (a stale pin is replaced). */
export function pinNamespaces(dir: string, pid: number, kinds: readonly PodNamespace[]): void {
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  for (const kind of kinds) {
    const pin = join(dir, kind);
    removePinnedNetns(pin);
    writeFileSync(pin, '', { mode: 0o444 });
    native().mount(`/proc/${String(pid)}/ns/${kind}`, pin, '', MS.BIND, '');
  }
}

export function arePinned(dir: string, kinds: readonly PodNamespace[]): boolean {
  return kinds.every((kind) => existsSync(join(dir, kind)));
}

/**
 * Unpins every namespace of a pod. A namespace lives on while a member still runs in it; once
 * the last process has left, the kernel frees it (a network namespace with its veths).
 */
export function unpinNamespaces(dir: string): void {
  if (!existsSync(dir)) return;
  for (const pin of readdirSync(dir)) removePinnedNetns(join(dir, pin));
  rmdirSync(dir);
  const parent = dirname(dir);
  if (readdirSync(parent).length === 0) rmdirSync(parent);
}
