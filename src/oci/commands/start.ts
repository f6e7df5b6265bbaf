/**
 * `start ID`: connects to the start socket the waiting init accepts on. The init then execs; what
 * comes back on the connection is its verdict, as on the monitor's error pipe: EOF when execve
 * succeeded, one `struct tsd_child_error` (native/src/core/child.h) when it failed.
 */
import { rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { StartError } from '../../errors.js';
import { startError } from '../../runtime/spawn.js';
import { loadContainer, requireStatus } from '../container.js';
import type { Flags, Globals } from '../context.js';
import { runHooks } from '../hooks.js';
import { specState, START_SOCKET } from '../state.js';

/** struct tsd_child_error: char step[32]; int32_t err; char path[PATH_MAX]. */
const STEP_LEN = 32;
const ERROR_LEN = STEP_LEN + 4 + 4096;

function cString(b: Buffer): string {
  const end = b.indexOf(0);
  return b.subarray(0, end < 0 ? b.length : end).toString();
}

/** The child's verdict: undefined once it exec'd, else the error it sent. */
export function verdictOf(bytes: Buffer): StartError | undefined {
  if (bytes.length === 0) return undefined;
  const step = cString(bytes.subarray(0, STEP_LEN));
  const errno = bytes.length >= STEP_LEN + 4 ? bytes.readInt32LE(STEP_LEN) : 0;
  const path = cString(bytes.subarray(STEP_LEN + 4, ERROR_LEN));
  return startError({ type: 'error', step, errno, path, message: errnoMessage(errno) });
}

/** strerror's text for the errnos a failing exec reports; the number for the rest. */
function errnoMessage(errno: number): string {
  const known: Record<number, string> = {
    1: 'Operation not permitted',
    2: 'No such file or directory',
    8: 'Exec format error',
    13: 'Permission denied',
    20: 'Not a directory',
    22: 'Invalid argument',
  };
  return known[errno] ?? `errno ${String(errno)}`;
}

/** Connects (the init goes), removes the socket (no second start) and collects the verdict. */
function release(socket: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const conn = createConnection(socket);
    conn.on('connect', () => {
      rmSync(socket, { force: true });
    });
    conn.on('data', (d: Buffer) => chunks.push(d));
    conn.on('end', () => {
      resolve(Buffer.concat(chunks));
    });
    conn.on('error', reject);
  });
}

export async function start(g: Globals, _flags: Flags, args: string[]): Promise<void> {
  const c = await loadContainer(g.root, args[0] ?? '');
  requireStatus(c, ['created'], 'start');
  const failure = verdictOf(await release(join(c.dir, START_SOCKET)));
  if (failure !== undefined) throw failure;
  try {
    runHooks(c.state.hooks, 'poststart', specState(c.state, 'running'));
  } catch (err) {
    g.debugLog(`start ${c.state.id}: ${(err as Error).message}`);
  }
}
