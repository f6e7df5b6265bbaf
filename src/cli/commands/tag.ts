/** `tsdock tag SOURCE TARGET`. */
import { Runtime } from '../../index.js';
import type { GlobalOptions } from '../main.js';

export async function tag(globals: GlobalOptions, source: string, target: string): Promise<void> {
  const runtime = await Runtime.open({ root: globals.root });
  await runtime.tagImage(source, target);
}
