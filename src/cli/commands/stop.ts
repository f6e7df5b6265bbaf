/** `tsdock stop [-t N] CONTAINER...`. */
import { Runtime } from '../../index.js';
import type { GlobalOptions } from '../main.js';
import { forEachContainer } from './each.js';
import { parseTimeout } from './timeout.js';

export async function stop(globals: GlobalOptions, refs: string[], flags: { time?: string }): Promise<number> {
  const timeout = parseTimeout(flags.time);
  const runtime = await Runtime.open({ root: globals.root });
  return forEachContainer(refs, async (ref) => {
    await runtime.stop(ref, { timeout });
  });
}
