/** `tsdock load [-i FILE]`: an archive from a file, or from stdin as Docker reads it. */
import { Runtime, TsdockError } from '../../index.js';
import { parseLayerLimits } from '../layer-limits.js';
import type { GlobalOptions } from '../main.js';

export async function load(globals: GlobalOptions, flags: { input?: string; quiet?: boolean }): Promise<void> {
  if (flags.input === undefined && process.stdin.isTTY) {
    throw new TsdockError(
      'INVALID_ARGUMENT',
      'load reads an archive from stdin, which is a terminal (use -i FILE or < FILE)',
    );
  }
  const runtime = await Runtime.open({ root: globals.root, layerLimits: parseLayerLimits(globals.layerLimits) });
  const names = await runtime.loadImage(flags.input ?? { name: 'stdin', content: process.stdin });
  if (flags.quiet !== true) for (const name of names) process.stdout.write(`Loaded image: ${name}\n`);
}
