/** `tsdock container prune`: removes every container that is not running. */
import { Runtime } from '../../index.js';
import type { GlobalOptions } from '../main.js';

export async function prune(globals: GlobalOptions): Promise<void> {
  const runtime = await Runtime.open({ root: globals.root });
  const removed = await runtime.prune();
  if (removed.length > 0) process.stdout.write(`Deleted Containers:\n${removed.map((id) => `${id}\n`).join('')}\n`);
  process.stdout.write(`Total reclaimed containers: ${removed.length}\n`);
}
