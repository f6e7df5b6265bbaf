/** `tsdock container prune [-f]`: removes every container that is not running. */
import { Runtime } from '../../index.js';
import { confirmPrune } from '../confirm-prune.js';
import type { GlobalOptions } from '../main.js';

export async function prune(globals: GlobalOptions, flags: { force?: boolean }): Promise<void> {
  if (flags.force !== true && !(await confirmPrune('all stopped containers'))) return;
  const runtime = await Runtime.open({ root: globals.root });
  const removed = await runtime.prune();
  if (removed.length > 0) process.stdout.write(`Deleted Containers:\n${removed.map((id) => `${id}\n`).join('')}\n`);
  process.stdout.write(`Total reclaimed containers: ${removed.length}\n`);
}
