/**
 * The store lock: flock(2) on a lock file, shared for readers, exclusive for every mutation, so
 * that two tsdock processes (a `load` and an `rmi`, two `run`s unpacking the same layer) never
 * interleave their writes. flock(2) locks belong to an open file description, so each
 * acquisition opens the file anew, and closing it releases the lock — also when the process dies.
 *
 * Within one process, acquisitions are queued in front of flock: a waiting flock occupies a
 * libuv thread-pool thread, and enough of them would starve the very I/O the holder needs.
 */
import { open } from 'node:fs/promises';
import { native } from '../native.js';

export type LockMode = 'shared' | 'exclusive';

/** The tail of each lock file's in-process queue. */
const queues = new Map<string, Promise<void>>();

export class StoreLock {
  private readonly file: string;
  private readonly onExclusive: () => Promise<void>;

  /**
   * @param file the lock file (created when missing).
   * @param onExclusive runs first under every exclusive hold: the place to clear what an
   *   interrupted holder left (only a holder writes temporaries, so any found then are stale).
   */
  constructor(file: string, onExclusive: () => Promise<void>) {
    this.file = file;
    this.onExclusive = onExclusive;
  }

  /** Runs `fn` while holding the lock in `mode`. Do not nest: a nested call waits forever. */
  async run<T>(mode: LockMode, fn: () => Promise<T>): Promise<T> {
    const previous = queues.get(this.file) ?? Promise.resolve();
    let release = (): void => undefined;
    const mine = new Promise<void>((resolve) => (release = resolve));
    const tail = previous.then(() => mine);
    queues.set(this.file, tail);
    await previous;
    try {
      const handle = await open(this.file, 'a', 0o600);
      try {
        await native().flock(handle.fd, mode);
        if (mode === 'exclusive') await this.onExclusive();
        return await fn();
      } finally {
        await handle.close();
      }
    } finally {
      release();
      if (queues.get(this.file) === tail) queues.delete(this.file);
    }
  }
}
