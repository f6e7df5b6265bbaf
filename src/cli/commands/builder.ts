/** `tsdock builder prune [-a] [-f] [--filter until=DURATION]`: removes build cache, as Docker's. */
import { Runtime } from '../../index.js';
import { TsdockError } from '../../errors.js';
import { parseGoDuration } from '../../build/dockerfile/duration.js';
import { humanSize } from '../render.js';
import type { GlobalOptions } from '../main.js';
import { confirmPrune } from '../confirm-prune.js';

export interface BuilderPruneFlags {
  all?: boolean;
  force?: boolean;
  filter?: string[];
}

/** `until=24h` (a Go duration, as Docker takes it): the cut-off time in ms; the only filter. */
export function parseUntilFilters(filters: readonly string[], now = Date.now()): number | undefined {
  let usedBefore: number | undefined;
  for (const filter of filters) {
    const [key = '', value = ''] = filter.split(/=(.*)/s, 2);
    const ns = key === 'until' ? parseGoDuration(value) : undefined;
    if (ns === undefined || ns < 0) {
      throw new TsdockError(
        'INVALID_ARGUMENT',
        `invalid --filter "${filter}": builder prune takes until=DURATION (e.g. until=24h)`,
      );
    }
    usedBefore = now - ns / 1e6;
  }
  return usedBefore;
}

export async function builderPrune(globals: GlobalOptions, flags: BuilderPruneFlags): Promise<void> {
  const all = flags.all === true;
  const usedBefore = parseUntilFilters(flags.filter ?? []);
  if (flags.force !== true && !(await confirmPrune(all ? 'all build cache' : 'all dangling build cache'))) return;
  const runtime = await Runtime.open({ root: globals.root });
  const { removed, reclaimed } = await runtime.pruneBuildCache({
    all,
    ...(usedBefore === undefined ? {} : { usedBefore }),
  });
  const deleted =
    removed.length > 0 ? `Deleted build cache objects:\n${removed.map((k) => `${k.slice(0, 25)}\n`).join('')}\n` : '';
  process.stdout.write(`${deleted}Total reclaimed space: ${humanSize(reclaimed)}\n`);
}
