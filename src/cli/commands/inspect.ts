/** `tsdock inspect CONTAINER...`: a JSON array, like `docker inspect`. */
import { Runtime, type ContainerInspect } from '../../index.js';
import type { GlobalOptions } from '../main.js';
import { reportError } from '../render.js';

export async function inspect(globals: GlobalOptions, refs: string[]): Promise<number> {
  const runtime = await Runtime.open({ root: globals.root });
  const found: ContainerInspect[] = [];
  let status = 0;
  for (const ref of refs) {
    try {
      found.push(await runtime.inspect(ref));
    } catch (err) {
      reportError(err);
      status = 1;
    }
  }
  process.stdout.write(JSON.stringify(found, null, 4) + '\n');
  return status;
}
