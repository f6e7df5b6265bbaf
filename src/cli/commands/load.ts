/** `tsdock load -i FILE`. */
import { Runtime } from '../../index.js';
import { parseLayerLimits } from '../layer-limits.js';
import type { GlobalOptions } from '../main.js';

export async function load(globals: GlobalOptions, flags: { input: string; quiet?: boolean }): Promise<void> {
  const runtime = await Runtime.open({ root: globals.root, layerLimits: parseLayerLimits(globals.layerLimits) });
  const names = await runtime.loadImage(flags.input);
  if (!flags.quiet) for (const name of names) process.stdout.write(`Loaded image: ${name}\n`);
}
