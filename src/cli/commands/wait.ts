/** `tsdock wait CONTAINER...`: prints each exit code once the container has stopped. */
import { Runtime } from '../../index.js';
import type { GlobalOptions } from '../main.js';
import { reportError } from '../render.js';

export async function wait(globals: GlobalOptions, refs: string[]): Promise<number> {
  const runtime = await Runtime.open({ root: globals.root });
  let status = 0;
  for (const ref of refs) {
    try {
      process.stdout.write(`${await runtime.wait(ref)}\n`);
    } catch (err) {
      reportError(err);
      status = 1;
    }
  }
  return status;
}
