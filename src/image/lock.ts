/**
 * The store lock: flock(2) on a lock file, shared for readers, exclusive for every mutation, so
 * that two tsdock processes (a `load` and an `rmi`, two `run`s unpacking the same layer) never
 * interleave their writes. Closing the file releases the lock, also when the process dies.
 *
 * Within one process, requests are ordered in front of flock: flock(2) locks belong to an open
 * file description, so two descriptors of one process would block each other like two
 * processes, and every waiting flock occupies a libuv thread-pool thread — enough of them
 * starve the very I/O the holder needs. So a process holds at most one flock on the file at a
 * time: concurrent shared requests join one group that shares one descriptor, an exclusive
 * request waits for the groups before it, and shared requests that come after an exclusive one
 * wait for it (no writer starves).
 */
import { open, type FileHandle } from 'node:fs/promises';
import { native } from '../native.js';

export type LockMode = 'shared' | 'exclusive';

/** Shared holders that came in together and share one flocked descriptor. */
interface SharedGroup {
  members: number;
  /** Settles once the group holds the flock. */
  ready: Promise<void>;
  /** Releases the flock and lets the next in line go; called by the last member. */
  end(): Promise<void>;
}

/** One lock file's in-process order. */
interface FileState {
  /** Settles when everything queued so far has finished. */
  tail: Promise<void>;
  /** The shared group new shared requests may still join (none once an exclusive one queues). */
  joinable: SharedGroup | undefined;
}

const files = new Map<string, FileState>();

export class StoreLock {
  private readonly file: string;
  private readonly onExclusive: () => Promise<void>;
  private readonly state: FileState;

  /**
   * @param file the lock file (created when missing).
   * @param onExclusive runs first under every exclusive hold: the place to clear what an
   *   interrupted holder left (only holders write temporaries, so any found then are stale).
   */
  constructor(file: string, onExclusive: () => Promise<void>) {
    this.file = file;
    this.onExclusive = onExclusive;
    const state = files.get(file) ?? { tail: Promise.resolve(), joinable: undefined };
    files.set(file, state);
    this.state = state;
  }

  /**
   * Runs `fn` while holding the lock in `mode`. Do not nest: a request made while holding the
   * lock waits for that very hold to end, forever.
   */
  async run<T>(mode: LockMode, fn: () => Promise<T>): Promise<T> {
    return mode === 'shared' ? this.runShared(fn) : this.runExclusive(fn);
  }

  /** Appends a turn to the queue: `start` settles when it is ours, `done` ends it. */
  private queueTurn(): { start: Promise<void>; done: () => void } {
    const previous = this.state.tail;
    let done = (): void => undefined;
    const mine = new Promise<void>((resolve) => (done = resolve));
    this.state.tail = previous.then(() => mine);
    return { start: previous, done };
  }

  private async flock(mode: LockMode): Promise<FileHandle> {
    const handle = await open(this.file, 'a', 0o600);
    try {
      await native().flock(handle.fd, mode);
      return handle;
    } catch (err) {
      await handle.close();
      throw err;
    }
  }

  private async runExclusive<T>(fn: () => Promise<T>): Promise<T> {
    this.state.joinable = undefined;
    const turn = this.queueTurn();
    await turn.start;
    try {
      const handle = await this.flock('exclusive');
      try {
        await this.onExclusive();
        return await fn();
      } finally {
        await handle.close();
      }
    } finally {
      turn.done();
    }
  }

  private async runShared<T>(fn: () => Promise<T>): Promise<T> {
    const group = this.state.joinable ?? this.startGroup();
    group.members++;
    try {
      await group.ready;
      return await fn();
    } finally {
      if (--group.members === 0) await group.end();
    }
  }

  private startGroup(): SharedGroup {
    const turn = this.queueTurn();
    let handle: FileHandle | undefined;
    const group: SharedGroup = {
      members: 0,
      ready: turn.start.then(async () => {
        handle = await this.flock('shared');
      }),
      end: async () => {
        if (this.state.joinable === group) this.state.joinable = undefined;
        try {
          await handle?.close();
        } finally {
          turn.done();
        }
      },
    };
    // Members see a failure through `await group.ready`; this only keeps it from being unhandled.
    group.ready.catch(() => undefined);
    this.state.joinable = group;
    return group;
  }
}
