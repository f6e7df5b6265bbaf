/** `tsdock start CONTAINER...`: detached, from each container's saved plan. */
import { Runtime } from '../../index.js';
import type { GlobalOptions } from '../main.js';
import { forEachContainer } from './each.js';

export async function start(globals: GlobalOptions, refs: string[]): Promise<number> {
  const runtime = await Runtime.open({ root: globals.root });
  return forEachContainer(refs, (ref) => runtime.startContainer(ref));
}
