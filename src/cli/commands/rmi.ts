/** `tsdock rmi IMAGE...`. */
import { Runtime } from '../../index.js';
import type { GlobalOptions } from '../main.js';

export async function rmi(globals: GlobalOptions, refs: string[], flags: { force?: boolean }): Promise<void> {
  const runtime = await Runtime.open({ root: globals.root });
  for (const ref of refs) {
    for (const line of await runtime.removeImage(ref, { force: flags.force ?? false })) {
      process.stdout.write(`${line}\n`);
    }
  }
}
