/** Docker's question before a prune without -f. */
import { createInterface } from 'node:readline/promises';

/** Asks whether to remove `what`; anything but y or yes, or stdin closing first, is no. */
export async function confirmPrune(what: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    const answer = await rl.question(`WARNING! This will remove ${what}.\nAre you sure you want to continue? [y/N] `);
    return /^y(es)?$/i.test(answer.trim());
  } catch {
    return false;
  } finally {
    rl.close();
  }
}
