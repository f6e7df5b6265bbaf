/**
 * Host id ranges for user namespaces. `--userns private` maps every container's root to the
 * same 100000:65536; `auto` gives each container a range of its own, so two containers never
 * share a host id (a process escaping one would own nothing of another). Ranges come from the
 * entries for root in /etc/subuid and /etc/subgid (subuid(5)) when there are any, else from a
 * pool just above the private range; the allocations are a JSON table rewritten atomically
 * under an flock(2), so concurrent starts never pick the same block.
 */
import { open, readFile, rename, writeFile } from 'node:fs/promises';
import { TsdockError } from '../errors.js';
import { native } from '../native.js';

/** Host ids [start, start + count). */
export interface IdRange {
  start: number;
  count: number;
}

/** Where `auto` allocates without /etc/subuid entries: after `private`'s 100000:65536. */
export const AUTO_POOL: IdRange = { start: 165536, count: 65536 * 1024 };
/** One container's ids: 65536, as Docker and Podman give by default. */
export const AUTO_SIZE = 65536;

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

/** The pool for `auto`: root's subordinate ids when /etc/subuid lists any, else {@link AUTO_POOL}. */
export async function autoPool(subuidFile = '/etc/subuid'): Promise<IdRange[]> {
  let text: string;
  try {
    text = await readFile(subuidFile, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [AUTO_POOL];
    throw err;
  }
  const ranges = parseSubordinateIds(text, { name: 'root', id: 0 });
  return ranges.length > 0 ? ranges : [AUTO_POOL];
}

type Table = Record<string, IdRange>;

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

/**
 * The range of container `id` (the same one again when it was already given one).
 *
 * @throws TsdockError `HOST_UNSUPPORTED` when the pool has no free block left.
 */
export function allocateIdRange(
  file: string,
  id: string,
  pool: readonly IdRange[],
  size = AUTO_SIZE,
): Promise<IdRange> {
  return withTable(file, (table) => {
    const mine = table[id];
    if (mine !== undefined) return { table, result: mine };
    const picked = pickRange(pool, Object.values(table), size);
    if (picked === undefined) {
      throw new TsdockError(
        'HOST_UNSUPPORTED',
        `no free range of ${String(size)} host ids left for --userns auto (add ranges for root to /etc/subuid)`,
      );
    }
    return { table: { ...table, [id]: picked }, result: picked };
  });
}

/** Gives container `id`'s range back; nothing when it had none. */
export function releaseIdRange(file: string, id: string): Promise<void> {
  return withTable(file, (table) => {
    const rest = Object.fromEntries(Object.entries(table).filter(([key]) => key !== id));
    return { table: rest, result: undefined };
  });
}
