/** `tsdock logs [-f] [--tail N] [-t] [--since T] CONTAINER`. */
import { TsdockError } from '../../errors.js';
import { Runtime } from '../../index.js';
import type { GlobalOptions } from '../main.js';
import { interruptible } from '../interruptible.js';

export interface LogsFlags {
  follow?: boolean;
  tail?: string;
  timestamps?: boolean;
  since?: string;
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Docker's `--since`: an RFC 3339 time, Unix seconds, or a duration back from now (`10m`, `1h30m`). */
export function parseSince(value: string, now = Date.now()): number {
  if (/^\d+(\.\d+)?$/.test(value)) return Number(value) * 1000;
  if (/^(\d+(\.\d+)?(ms|s|m|h))+$/.test(value)) {
    let ms = 0;
    for (const [, n = '0', unit = 's'] of value.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g))
      ms += Number(n) * (UNITS[unit] ?? 0);
    return now - ms;
  }
  const time = Date.parse(value);
  if (Number.isNaN(time)) {
    throw new TsdockError(
      'INVALID_ARGUMENT',
      `invalid --since "${value}": expected a time, Unix seconds or a duration like 10m`,
    );
  }
  return time;
}

function parseTail(value: string | undefined): number | undefined {
  if (value === undefined || value === 'all') return undefined;
  if (!/^\d+$/.test(value))
    throw new TsdockError('INVALID_ARGUMENT', `invalid --tail "${value}": expected a number or all`);
  return Number(value);
}

export async function logs(globals: GlobalOptions, ref: string, flags: LogsFlags): Promise<void> {
  const tail = parseTail(flags.tail);
  const since = flags.since === undefined ? undefined : parseSince(flags.since);
  const runtime = await Runtime.open({ root: globals.root });
  await interruptible(async (signal) => {
    for await (const entry of runtime.logs(ref, { follow: flags.follow, tail, since, signal })) {
      const out = entry.stream === 'stderr' ? process.stderr : process.stdout;
      const text = flags.timestamps === true ? `${entry.time} ${entry.log}` : entry.log;
      // Wait for a slow terminal or pipe instead of buffering the whole log in memory.
      if (!out.write(text)) await new Promise((resolve) => out.once('drain', resolve));
    }
  });
}
