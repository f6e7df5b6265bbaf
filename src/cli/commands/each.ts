/**
 * Commands that act on several containers (`rm`, `stop`, `kill`, …) the way Docker does: each
 * one in turn, its name printed on success, an error line for each failure, and a failing exit
 * status if any failed.
 */
import { reportError } from '../render.js';

export async function forEachContainer(refs: string[], act: (ref: string) => Promise<void>): Promise<number> {
  let status = 0;
  for (const ref of refs) {
    try {
      await act(ref);
      process.stdout.write(`${ref}\n`);
    } catch (err) {
      reportError(err);
      status = 1;
    }
  }
  return status;
}
