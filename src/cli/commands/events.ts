/** `tsdock events [--since T] [--until T] [--filter k=v]... [--format json]`. */
import { Runtime } from '../../index.js';
import { parseEventFilters, renderEvent, renderEventJson } from '../../runtime/events.js';
import type { GlobalOptions } from '../main.js';
import { interruptible } from '../interruptible.js';
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
  // A reader that went away (`events | head`) ends the command, quietly.
  const readerGone = new AbortController();
  const onReaderGone = (): void => {
    readerGone.abort();
  };
  process.stdout.on('error', onReaderGone);
  try {
    await interruptible(async (interrupted) => {
      const stop = AbortSignal.any([interrupted, readerGone.signal]);
      for await (const event of runtime.events({ since, until, filters, signal: stop })) {
        const line = flags.format === 'json' ? renderEventJson(event) : renderEvent(event);
        if (stop.aborted) break;
        if (!process.stdout.write(line + '\n')) await new Promise((resolve) => process.stdout.once('drain', resolve));
      }
    });
  } finally {
    process.stdout.off('error', onReaderGone);
  }
}
