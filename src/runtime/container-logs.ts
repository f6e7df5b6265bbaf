/**
 * Reading a container's json-file log (written by its monitor, native/src/monitor/log.c): the
 * rotated files oldest first, then the current one; with `follow`, new lines as they come, across
 * rotations (the current file is renamed away and a new one takes its name: a changed inode),
 * until the container stops. Reading never affects the writer: the monitor only appends.
 */
import { closeSync, fstatSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { TsdockError } from '../errors.js';

/** One line (or one piece of a very long line) the container wrote. */
export interface LogEntry {
  stream: 'stdout' | 'stderr';
  /** RFC 3339 with nanoseconds, UTC. */
  time: string;
  /** As written, with its newline when it ended one. */
  log: string;
}

export interface ReadLogsOptions {
  /** Keep reading new lines until `running()` turns false. */
  follow?: boolean;
  /** Only the last N entries of what is there already. */
  tail?: number;
  /** Only entries at or after this time (ms since the epoch). */
  since?: number;
  /** Whether the container may still write; checked when following and idle. */
  running?: () => boolean;
  /** Stops following. */
  signal?: AbortSignal;
}

/** A JSON-lines record with an RFC 3339 `time`: a log entry, or an event (`events.ts`). */
export interface TimedEntry {
  time: string;
}

/** Splits complete lines off `buffer`; returns the entries and the bytes consumed. */
// eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- the caller names the JSON it reads
export function parseLogLines<T extends TimedEntry = LogEntry>(buffer: Buffer): { entries: T[]; used: number } {
  const entries: T[] = [];
  let start = 0;
  for (let nl = buffer.indexOf(10, start); nl >= 0; nl = buffer.indexOf(10, start)) {
    const line = buffer.subarray(start, nl).toString('utf8');
    start = nl + 1;
    if (line === '') continue;
    try {
      entries.push(JSON.parse(line) as T);
    } catch {
      // A line cut short by a full disk: skip it, like Docker's reader.
    }
  }
  return { entries, used: start };
}

function readEntries<T extends TimedEntry>(path: string): T[] {
  try {
    return parseLogLines<T>(readFileSync(path)).entries;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new TsdockError('STORE', `cannot read ${path}: ${(err as Error).message}`, { cause: err });
  }
}

/** `time` strings carry nanoseconds, which Date cannot; milliseconds are enough to compare. */
function timeOf(entry: TimedEntry): number {
  return Date.parse(entry.time.replace(/(\.\d{3})\d*Z$/, '$1Z'));
}

/** Inode of a path, or undefined when it is missing. */
function inodeOf(path: string): number | undefined {
  try {
    return statSync(path).ino;
  } catch {
    return undefined;
  }
}

/** The current log file read from `position` on, remembering its inode to notice rotation. */
class Follower<T extends TimedEntry> {
  private fd: number;
  private ino: number;
  private position: number;
  private pending = Buffer.alloc(0);

  constructor(
    private readonly path: string,
    private readonly maxFile: number,
    fd: number,
    position: number,
  ) {
    this.fd = fd;
    this.ino = fstatSync(fd).ino;
    this.position = position;
  }

  /**
   * New complete entries: the rest of the file we were reading (renamed away or not), then any
   * rotated files written since (several rotations may pass between two reads), then the new
   * current file.
   */
  read(): T[] {
    // The name is checked before our file is drained: once it names another file, ours is
    // complete, so draining it now misses nothing written just before the rotation.
    const ino = inodeOf(this.path);
    let out = this.drain();
    if (ino === undefined || ino === this.ino) return out;
    // path.1 is the newest rotated file; ours is path.k, or gone when all of them are newer.
    const rotated = Array.from({ length: this.maxFile - 1 }, (_, i) => `${this.path}.${i + 1}`);
    const ours = rotated.findIndex((p) => inodeOf(p) === this.ino);
    const unread = (ours < 0 ? rotated : rotated.slice(0, ours)).reverse();
    // concat, not push(...): a log holds more entries than a call may take arguments.
    for (const file of unread) out = out.concat(readEntries<T>(file));
    closeSync(this.fd);
    this.fd = openSync(this.path, 'r');
    this.ino = fstatSync(this.fd).ino;
    this.position = 0;
    this.pending = Buffer.alloc(0);
    return out.concat(this.drain());
  }

  close(): void {
    closeSync(this.fd);
  }

  private drain(): T[] {
    const chunks: Buffer[] = [this.pending];
    const buf = Buffer.alloc(1 << 16);
    for (let n = readSync(this.fd, buf, 0, buf.length, this.position); n > 0;) {
      chunks.push(Buffer.from(buf.subarray(0, n)));
      this.position += n;
      n = readSync(this.fd, buf, 0, buf.length, this.position);
    }
    const all = Buffer.concat(chunks);
    const { entries, used } = parseLogLines<T>(all);
    this.pending = all.subarray(used);
    return entries;
  }
}

/**
 * The entries of the log at `path` (kept with `maxFile` files in all), oldest first.
 *
 * @example for await (const e of readLogs(file, 3, { follow: true, running })) process.stdout.write(e.log);
 */
export async function* readLogs<T extends TimedEntry = LogEntry>(
  path: string,
  maxFile: number,
  options: ReadLogsOptions = {},
): AsyncGenerator<T> {
  // The current file is opened first: a rotation from now on is seen by the follower.
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const rotated = Array.from({ length: Math.max(0, maxFile - 1) }, (_, i) => `${path}.${maxFile - 1 - i}`);
  let entries = rotated.flatMap((file) => readEntries<T>(file));
  let position = 0;
  if (fd !== undefined) {
    const { size } = fstatSync(fd);
    const buf = Buffer.alloc(size);
    const n = readSync(fd, buf, 0, size, 0);
    const parsed = parseLogLines<T>(buf.subarray(0, n));
    entries = entries.concat(parsed.entries);
    position = parsed.used;
  }
  const since = options.since;
  if (since !== undefined) entries = entries.filter((e) => timeOf(e) >= since);
  if (options.tail !== undefined) entries = options.tail === 0 ? [] : entries.slice(-options.tail);
  yield* entries;
  if (options.follow !== true) {
    if (fd !== undefined) closeSync(fd);
    return;
  }
  while (fd === undefined) {
    if (options.signal?.aborted === true || options.running?.() === false) return;
    await sleep(50);
    try {
      fd = openSync(path, 'r');
    } catch {
      fd = undefined;
    }
  }
  const follower = new Follower<T>(path, Math.max(1, maxFile), fd, position);
  try {
    for (;;) {
      // Asked before the read: a container that stopped has written everything we then read.
      const alive = options.running?.() ?? true;
      const fresh = follower.read();
      yield* fresh;
      if (!alive || options.signal?.aborted === true) return;
      if (fresh.length === 0) await sleep(50);
    }
  } finally {
    follower.close();
  }
}
