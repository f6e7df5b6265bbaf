/** `tsdock kill [-s SIGNAL] CONTAINER...`. */
import { Runtime } from '../../index.js';
import type { GlobalOptions } from '../main.js';
import { forEachContainer } from './each.js';

export async function kill(globals: GlobalOptions, refs: string[], flags: { signal: string }): Promise<number> {
  const runtime = await Runtime.open({ root: globals.root });
  return forEachContainer(refs, (ref) => runtime.kill(ref, flags.signal));
}
