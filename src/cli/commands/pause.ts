/** `tsdock pause` / `tsdock unpause CONTAINER...`: the cgroup freezer. */
import { Runtime } from '../../index.js';
import type { GlobalOptions } from '../main.js';
import { forEachContainer } from './each.js';

export async function pause(globals: GlobalOptions, refs: string[], paused: boolean): Promise<number> {
  const runtime = await Runtime.open({ root: globals.root });
  return forEachContainer(refs, (ref) => runtime.pause(ref, paused));
}
