/** `kill [--all] ID [SIGNAL]`: to the init, or with --all to every process of the cgroup. */
import { TsdockError } from '../../errors.js';
import { cgroupPids, loadContainer } from '../container.js';
import type { Flags, Globals } from '../context.js';
import { parseSignal } from '../signals.js';

function send(pid: number, signal: number): void {
  try {
    process.kill(pid, signal);
  } catch (err) {
    // Gone between the check and the signal: nothing left to signal.
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

export async function kill(g: Globals, flags: Flags, args: string[]): Promise<void> {
  const signal = parseSignal(args[1]);
  const c = await loadContainer(g.root, args[0] ?? '');
  if (flags.all === true) {
    // The shim kills --all after the init exited too (a container sharing the host's pid namespace).
    if (c.status === 'paused') await c.cgroup.thaw();
    for (const pid of cgroupPids(c.cgroup)) send(pid, signal);
    return;
  }
  // containerd's shim reads "container not running" as "already finished".
  if (c.status === 'stopped') throw new TsdockError('CONFLICT', `cannot kill "${c.state.id}": container not running`);
  send(c.state.pid, signal);
}
