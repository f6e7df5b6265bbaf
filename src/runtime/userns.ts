/**
 * Host id ranges for user namespaces. `--userns private` maps every container's root to the
 * same 100000:65536; `auto` gives each container a range of its own, so two containers never
 * share a host id (a process escaping one would own nothing of another). Ranges come from the
 * entries for `tsdock`, else for root, in /etc/subuid and /etc/subgid (subuid(5)), else from a
 * pool just above the private range. The allocations are a JSON table beside the containers,
 * rewritten atomically under an flock(2), so concurrent creates never pick the same block.
 */
import { existsSync } from 'node:fs';
import { open, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { TsdockError } from '../errors.js';
import { native } from '../native.js';
import type { UsernsMode } from './options.js';
import type { IdMapping } from './plan.js';

/** Host ids [start, start + count). */
export interface IdRange {
  start: number;
  count: number;
}

/** A user namespace's mappings: container ids 0..size-1 at these host ids. */
export interface UserNamespaceIds {
  uid: IdMapping;
  gid: IdMapping;
}

/** Host ids a private user namespace maps container ids 0..65535 to. */
export const PRIVATE_RANGE: IdRange = { start: 100000, count: 65536 };
/** Where `auto` allocates without /etc/subuid entries: after `private`'s 100000:65536. */
export const AUTO_POOL: IdRange = { start: 165536, count: 65536 * 1024 };
/** One container's ids: 65536, as Docker and Podman give by default. */
export const AUTO_SIZE = 65536;

/** The subordinate-id entries `auto` draws from, first found wins (Podman reads `containers`). */
const POOL_OWNERS = [
  { name: 'tsdock', id: -1 },
  { name: 'root', id: 0 },
];

/**
 * The ranges subuid(5)/subgid(5) grant `user` (by name or numeric id), in file order. Malformed
 * lines are skipped, as shadow-utils does.
 */
export function parseSubordinateIds(text: string, user: { name: string; id: number }): IdRange[] {
  const ranges: IdRange[] = [];
  for (const line of text.split('\n')) {
    const [who, start, count] = line.trim().split(':');
    if (who !== user.name && who !== String(user.id)) continue;
    const s = Number(start);
    const c = Number(count);
    if (!Number.isSafeInteger(s) || !Number.isSafeInteger(c) || s < 0 || c <= 0 || s + c > 2 ** 32) continue;
    ranges.push({ start: s, count: c });
  }
  return ranges;
}

const overlaps = (a: IdRange, b: IdRange): boolean => a.start < b.start + b.count && b.start < a.start + a.count;

/** The first block of `size` ids inside `pool` that overlaps nothing `taken`. Pure. */
export function pickRange(pool: readonly IdRange[], taken: readonly IdRange[], size: number): IdRange | undefined {
  for (const range of pool) {
    let start = range.start;
    while (start + size <= range.start + range.count) {
      const candidate = { start, count: size };
      const clash = taken.find((t) => overlaps(t, candidate));
      if (clash === undefined) return candidate;
      start = clash.start + clash.count;
    }
  }
  return undefined;
}

/**
 * The pool for `auto` from one subordinate-id file: the `tsdock` user's entries, else root's,
 * else {@link AUTO_POOL}.
 */
export async function autoPool(file: string): Promise<IdRange[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [AUTO_POOL];
    throw err;
  }
  for (const owner of POOL_OWNERS) {
    const ranges = parseSubordinateIds(text, owner);
    if (ranges.length > 0) return ranges;
  }
  return [AUTO_POOL];
}

/** Where `auto` draws uids and gids from. */
export interface AutoPools {
  uid: readonly IdRange[];
  gid: readonly IdRange[];
}

/** The host's pools: /etc/subuid for uids, /etc/subgid for gids. */
export async function hostAutoPools(): Promise<AutoPools> {
  const [uid, gid] = await Promise.all([autoPool('/etc/subuid'), autoPool('/etc/subgid')]);
  return { uid, gid };
}

/** One container's allocation; `pid` made it (a create in flight has no directory yet). */
interface Allocation {
  uid: IdRange;
  gid: IdRange;
  pid: number;
}

type Table = Record<string, Allocation>;

async function readTable(file: string): Promise<Table> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as Table;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new TsdockError('STORE', `cannot read user namespace allocations ${file}: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

/**
 * Callers in this process queue here first: flock(2) waits on the thread pool, and enough
 * waiters there would starve the holder's own file I/O.
 */
const queues = new Map<string, Promise<unknown>>();

/** Runs fn on the table under an exclusive flock of `file.lock`, writing back what it returns. */
function withTable<T>(file: string, fn: (table: Table) => { table: Table; result: T }): Promise<T> {
  const run = (queues.get(file) ?? Promise.resolve()).catch(() => undefined).then(() => lockedTable(file, fn));
  queues.set(file, run);
  return run;
}

async function lockedTable<T>(file: string, fn: (table: Table) => { table: Table; result: T }): Promise<T> {
  const lock = await open(`${file}.lock`, 'a', 0o600);
  try {
    await native().flock(lock.fd, 'exclusive');
    const { table, result } = fn(await readTable(file));
    await writeFile(`${file}.tmp`, JSON.stringify(table), { mode: 0o600 });
    await rename(`${file}.tmp`, file);
    return result;
  } finally {
    await lock.close();
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * The ranges of container `id` (the same ones again when it was already given some). An
 * allocation whose container is gone (`exists` says no) and whose creating process has exited
 * was left by a crash: its ids are free again.
 *
 * @throws TsdockError `HOST_UNSUPPORTED` when a pool has no free block left.
 */
export function allocateIdRanges(
  file: string,
  id: string,
  pools: AutoPools,
  exists: (id: string) => boolean,
  size = AUTO_SIZE,
): Promise<{ uid: IdRange; gid: IdRange }> {
  return withTable(file, (stored) => {
    const mine = stored[id];
    if (mine !== undefined) return { table: stored, result: { uid: mine.uid, gid: mine.gid } };
    const table: Table = Object.fromEntries(
      Object.entries(stored).filter(([key, a]) => exists(key) || processAlive(a.pid)),
    );
    const pick = (kind: 'uid' | 'gid'): IdRange => {
      const taken = [PRIVATE_RANGE, ...Object.values(table).map((a) => a[kind])];
      const picked = pickRange(pools[kind], taken, size);
      if (picked === undefined) {
        throw new TsdockError(
          'HOST_UNSUPPORTED',
          `no free range of ${String(size)} host ${kind}s left for --userns auto (add ranges for tsdock to /etc/sub${kind})`,
        );
      }
      return picked;
    };
    const allocation = { uid: pick('uid'), gid: pick('gid'), pid: process.pid };
    return { table: { ...table, [id]: allocation }, result: { uid: allocation.uid, gid: allocation.gid } };
  });
}

/** Gives container `id`'s ranges back; nothing when it had none. */
export function releaseIdRanges(file: string, id: string): Promise<void> {
  return withTable(file, (table) => {
    const rest = Object.fromEntries(Object.entries(table).filter(([key]) => key !== id));
    return { table: rest, result: undefined };
  });
}

/** Every range allocated in a root (its containers' `auto` user namespaces). */
export async function allocatedUserNamespaces(containersRoot: string): Promise<{ uid: IdRange; gid: IdRange }[]> {
  return Object.values(await readTable(idRangesFileOf(containersRoot))).map(({ uid, gid }) => ({ uid, gid }));
}

/** The allocation table of a root, beside its `containers/` directory. */
export function idRangesFileOf(containersRoot: string): string {
  return join(dirname(containersRoot), 'userns-ranges.json');
}

const mappingOf = (range: IdRange): IdMapping => ({ containerID: 0, hostID: range.start, size: range.count });

/**
 * The user namespace container `id` gets under `mode`: none for `host`, the shared
 * {@link PRIVATE_RANGE} for `private`, a range of its own for `auto` (recorded until
 * {@link releaseUserNamespace}).
 */
export async function userNamespaceFor(
  containersRoot: string,
  id: string,
  mode: UsernsMode | undefined,
  pools: () => Promise<AutoPools> = hostAutoPools,
): Promise<UserNamespaceIds | undefined> {
  if (mode === undefined || mode === 'host') return undefined;
  if (mode === 'private') return { uid: mappingOf(PRIVATE_RANGE), gid: mappingOf(PRIVATE_RANGE) };
  const exists = (key: string): boolean => existsSync(join(containersRoot, key));
  const ranges = await allocateIdRanges(idRangesFileOf(containersRoot), id, await pools(), exists);
  return { uid: mappingOf(ranges.uid), gid: mappingOf(ranges.gid) };
}

/** Frees what {@link userNamespaceFor} allocated for container `id` (nothing for other modes). */
export async function releaseUserNamespace(containersRoot: string, id: string): Promise<void> {
  const file = idRangesFileOf(containersRoot);
  if (existsSync(file)) await releaseIdRanges(file, id);
}
