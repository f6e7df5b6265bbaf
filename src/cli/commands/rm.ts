/** `tsdock rm [-f] [-v] CONTAINER...`. */
import { Runtime } from '../../index.js';
import type { GlobalOptions } from '../main.js';
import { forEachContainer } from './each.js';

export async function rm(
  globals: GlobalOptions,
  refs: string[],
  flags: { force?: boolean; volumes?: boolean },
): Promise<number> {
  const runtime = await Runtime.open({ root: globals.root });
  return forEachContainer(refs, (ref) => runtime.remove(ref, { force: flags.force, volumes: flags.volumes }));
}
