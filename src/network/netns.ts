/**
 * Pinned network namespaces. A container's netns is made before its monitor starts, so its
 * links and addresses are in place when the command runs, and it is kept alive by a bind mount
 * of its nsfs file (`/run/tsdock/netns/<id>`) rather than by a process. Node cannot unshare
 * safely (it is multithreaded), so util-linux's `unshare --net=FILE` — a single-threaded process
 * that does exactly unshare + bind mount — makes it; a native mode of the monitor would be the
 * same syscalls for the same ~2 ms of process start.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { native } from '../native.js';
import { runTool } from './tool.js';

const MNT_DETACH = 2;
const MS_BIND = 4096n;

export function pinPath(netnsDir: string, id: string): string {
  return join(netnsDir, id);
}

/**
 * Creates a new network namespace pinned at `path` (a stale pin there is removed first) and runs
 * `ip -batch` inside it: `unshare --net=FILE` pins the namespace, then execs `ip` in it, so one
 * process start makes and configures it.
 */
export async function createPinnedNetns(path: string, netnsDir: string, commands: string[]): Promise<void> {
  mkdirSync(netnsDir, { recursive: true, mode: 0o755 });
  removePinnedNetns(path);
  writeFileSync(path, '', { mode: 0o444 });
  await runTool('unshare', [`--net=${path}`, 'ip', '-batch', '-'], ['link set lo up', ...commands].join('\n') + '\n');
}

/** Pins an existing namespace (`/proc/PID/ns/net`) at `path` too: a bind mount of its nsfs file. */
export function pinExisting(source: string, path: string, netnsDir: string): void {
  mkdirSync(netnsDir, { recursive: true, mode: 0o755 });
  removePinnedNetns(path);
  writeFileSync(path, '', { mode: 0o444 });
  native().mount(source, path, '', MS_BIND, '');
}

/**
 * Unmounts and removes a pin. The namespace (and the container end of every veth in it, which
 * takes the host end with it) goes once no process is left inside.
 */
export function removePinnedNetns(path: string): void {
  try {
    native().umount2(path, MNT_DETACH);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // EINVAL: not a mount point (a pin whose unshare never ran); ENOENT: already gone.
    if (code !== 'EINVAL' && code !== 'ENOENT') throw err;
  }
  rmSync(path, { force: true });
}

/** Runs `ip -batch -` inside a pinned namespace (`ip -n` only knows /run/netns names). */
export async function ipInNetns(path: string, commands: string[]): Promise<void> {
  await runTool('nsenter', [`--net=${path}`, 'ip', '-batch', '-'], commands.join('\n') + '\n');
}

export async function ipOnHost(commands: string[]): Promise<void> {
  await runTool('ip', ['-batch', '-'], commands.join('\n') + '\n');
}
