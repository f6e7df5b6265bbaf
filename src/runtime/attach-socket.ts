/**
 * The attach socket of a container's monitor: where it lives, and connecting to it. A unix
 * socket's path holds at most 107 bytes, which a deep `--root` passes; then, as the monitor does
 * when it binds (native/src/monitor/attach.c), the path goes through an fd of its directory.
 */
import { closeSync, openSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { basename, dirname, join } from 'node:path';
import { TsdockError } from '../errors.js';

const SUN_PATH_MAX = 107;

export function attachSocketOf(containerDir: string): string {
  return join(containerDir, 'attach.sock');
}

function connected(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    socket.once('connect', () => {
      socket.off('error', reject);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

/**
 * Connects to the monitor of a running container.
 *
 * @throws TsdockError `CONFLICT` when nothing listens there: the container is not running, or a
 *   library caller started it on its own stdio fds (`StdioMode`), which no one else can join.
 */
export async function connectAttachSocket(path: string, name: string): Promise<Socket> {
  let dirFd: number | undefined;
  try {
    if (Buffer.byteLength(path) <= SUN_PATH_MAX) return await connected(path);
    dirFd = openSync(dirname(path), 'r');
    return await connected(`/proc/self/fd/${dirFd}/${basename(path)}`);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ECONNREFUSED') {
      throw new TsdockError(
        'CONFLICT',
        `container ${name} takes no attach clients: it is not running, or runs on its starter's own stdio`,
        { cause: err },
      );
    }
    throw new TsdockError('STORE', `cannot attach to container ${name}: ${(err as Error).message}`, { cause: err });
  } finally {
    if (dirFd !== undefined) closeSync(dirFd);
  }
}
