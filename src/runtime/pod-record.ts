/**
 * The pods of one tsdock root: `pods/<id>/pod.json` records (written atomically, like a
 * container's), finding one by name, id or id prefix, and the lock that serialises pod changes.
 * A pod's members are not listed here: each member's record names its pod (`options.pod`).
 */
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { TsdockError } from '../errors.js';
import { native } from '../native.js';
import type { PortSpec } from '../network/ports.js';
import { readJsonFile, writeFileAtomic } from './record-file.js';

/** A namespace the pod's containers share, by its `/proc/<pid>/ns/` name. */
export type PodNamespace = 'net' | 'ipc' | 'uts' | 'pid';

export const POD_NAMESPACES: readonly PodNamespace[] = ['net', 'ipc', 'uts', 'pid'];

/** Shared unless `--share` says otherwise (podman's default; the pid namespace is opt-in). */
export const DEFAULT_SHARE: readonly PodNamespace[] = ['net', 'ipc', 'uts'];

export interface PodRecord {
  id: string;
  name: string;
  created: string;
  /** Namespaces the members join; the infra container's pause process holds them. */
  share: PodNamespace[];
  /** The host name of the shared uts namespace. */
  hostname: string;
  /** `none`, `host`, `bridge` or a user network: the infra container's network. */
  network: string;
  /** Ports published for the whole pod (on the infra container's endpoint). */
  publish: PortSpec[];
  cgroupParent?: string;
  /** The container that runs tsdock-pause. */
  infraId: string;
}

const RECORD_FILE = 'pod.json';

export function podsRootOf(root: string): string {
  return join(root, 'pods');
}

export function writePodRecord(podsRoot: string, pod: PodRecord): void {
  const dir = join(podsRoot, pod.id);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeFileAtomic(join(dir, RECORD_FILE), JSON.stringify(pod, null, 2) + '\n');
}

export function removePodRecord(podsRoot: string, id: string): void {
  rmSync(join(podsRoot, id), { recursive: true, force: true });
}

function readPodRecord(dir: string): PodRecord | undefined {
  return readJsonFile<PodRecord>(join(dir, RECORD_FILE));
}

/** Every pod with a record, oldest first. */
export function listPodRecords(podsRoot: string): PodRecord[] {
  let names: string[];
  try {
    names = readdirSync(podsRoot);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  return names
    .filter((n) => /^[0-9a-f]{64}$/.test(n))
    .flatMap((n) => readPodRecord(join(podsRoot, n)) ?? [])
    .sort((a, b) => a.created.localeCompare(b.created));
}

/**
 * A full id, then an exact name, then a unique id prefix (as for containers).
 *
 * @throws TsdockError `POD_NOT_FOUND` when nothing (or more than one id) matches.
 */
export function findPodRecord(podsRoot: string, ref: string): PodRecord {
  const all = listPodRecords(podsRoot);
  const exact = all.find((p) => p.id === ref) ?? all.find((p) => p.name === ref);
  if (exact !== undefined) return exact;
  const prefixed = ref.length > 0 ? all.filter((p) => p.id.startsWith(ref)) : [];
  if (prefixed.length === 1 && prefixed[0] !== undefined) return prefixed[0];
  if (prefixed.length > 1) throw new TsdockError('POD_NOT_FOUND', `multiple pods match the id prefix "${ref}"`);
  throw new TsdockError('POD_NOT_FOUND', `no such pod: ${ref}`);
}

/** Runs `fn` holding the root's pod lock (flock(2): released if this process dies). */
export async function withPodsLock<T>(podsRoot: string, fn: () => T | Promise<T>): Promise<T> {
  mkdirSync(podsRoot, { recursive: true, mode: 0o711 });
  const file = await open(`${podsRoot}.lock`, 'a', 0o600);
  try {
    await native().flock(file.fd, 'exclusive');
    return await fn();
  } finally {
    await file.close();
  }
}
