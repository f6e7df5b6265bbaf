/** `tsdock events [--since T] [--until T] [--filter k=v]... [--format json]`. */
import { Runtime } from '../../index.js';
import { parseEventFilters, renderEvent, renderEventJson } from '../../runtime/events.js';
import type { GlobalOptions } from '../main.js';
import { parseSince } from './logs.js';

export interface EventsFlags {
  since?: string;
  until?: string;
  filter: string[];
  format?: string;
}

export async function events(globals: GlobalOptions, flags: EventsFlags): Promise<void> {
  const filters = parseEventFilters(flags.filter);
  const since = flags.since === undefined ? undefined : parseSince(flags.since);
  const until = flags.until === undefined ? undefined : parseSince(flags.until);
  const runtime = await Runtime.open({ root: globals.root });
  const stop = new AbortController();
  const onSignal = (): void => {
    stop.abort();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  // A reader that went away (`events | head`) ends the command, quietly.
  process.stdout.on('error', onSignal);
  try {
    for await (const event of runtime.events({ since, until, filters, signal: stop.signal })) {
      const line = flags.format === 'json' ? renderEventJson(event) : renderEvent(event);
      if (stop.signal.aborted) break;
      if (!process.stdout.write(line + '\n')) await new Promise((resolve) => process.stdout.once('drain', resolve));
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.stdout.off('error', onSignal);
  }
}
