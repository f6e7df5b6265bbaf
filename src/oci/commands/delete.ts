/**
 * `delete [--force] ID`: a stopped or created container is removed (its init killed, its cgroup
 * emptied and removed, its state dir deleted, then the poststop hooks); a running or paused one
 * only with --force. --force on an id that does not exist succeeds, as runc's does.
 */
import { rmSync } from 'node:fs';
import { TsdockError } from '../../errors.js';
import { initAlive, loadContainer, type Container } from '../container.js';
import type { Flags, Globals } from '../context.js';
import { runHooks } from '../hooks.js';
import { specState } from '../state.js';

/** SIGKILLs the init and waits until it is gone (a zombie counts: the shim reaps it). */
async function killInit(c: Container): Promise<void> {
  try {
    process.kill(c.state.pid, 'SIGKILL');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
  while (initAlive(c.state)) await new Promise((r) => setTimeout(r, 2));
}

function poststop(g: Globals, c: Container): void {
  try {
    runHooks(c.state.hooks, 'poststop', specState(c.state, 'stopped'));
  } catch (err) {
    g.debugLog(`delete ${c.state.id}: ${(err as Error).message}`);
  }
}

export async function del(g: Globals, flags: Flags, args: string[]): Promise<void> {
  let c: Container;
  try {
    c = await loadContainer(g.root, args[0] ?? '');
  } catch (err) {
    if (flags.force === true && err instanceof TsdockError && err.code === 'CONTAINER_NOT_FOUND') return;
    throw err;
  }
  if ((c.status === 'running' || c.status === 'paused') && flags.force !== true) {
    throw new TsdockError('CONFLICT', `cannot delete container "${c.state.id}" that is not stopped: ${c.status}`);
  }
  // A frozen task would take the SIGKILL only once thawed.
  if (c.status === 'paused') await c.cgroup.thaw();
  if (c.status !== 'stopped') await killInit(c);
  // Kills what is left (a container without its own pid namespace) and removes the directories.
  await c.cgroup.destroy();
  rmSync(c.dir, { recursive: true, force: true });
  poststop(g, c);
}
