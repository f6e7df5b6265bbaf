/** `tsdock top CONTAINER [ps OPTIONS]`: the host's `ps` over the container's processes. */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Runtime } from '../../index.js';
import type { GlobalOptions } from '../main.js';

export async function top(globals: GlobalOptions, ref: string, psArgs: string[]): Promise<void> {
  const runtime = await Runtime.open({ root: globals.root });
  const pids = await runtime.top(ref);
  const args = psArgs.length > 0 ? psArgs : ['-o', 'uid,pid,ppid,stime,tty,time,args'];
  if (pids.length === 0) return;
  const { stdout } = await promisify(execFile)('ps', [...args, '-p', pids.join(',')]);
  process.stdout.write(stdout);
}
