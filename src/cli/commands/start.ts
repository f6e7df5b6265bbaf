/**
 * `tsdock start [-a [-i]] CONTAINER...`: detached from each container's saved plan, or attached
 * to one: its terminal (a container created with -t), else its output (and input with -i).
 */
import { TsdockError } from '../../errors.js';
import { Runtime } from '../../index.js';
import type { GlobalOptions } from '../main.js';
import { DEFAULT_DETACH_KEYS, parseDetachKeys } from '../detach-keys.js';
import { checkInputIsTerminal, sessionWithStarted } from '../terminal-session.js';
import { streamsWithStarted } from '../stream-session.js';
import type { StartedContainer } from '../../runtime/container.js';
import { forEachContainer } from './each.js';

export interface StartFlags {
  attach?: boolean;
  interactive?: boolean;
  detachKeys?: string;
}

const FORWARDED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];

export async function start(globals: GlobalOptions, refs: string[], flags: StartFlags = {}): Promise<number> {
  const runtime = await Runtime.open({ root: globals.root });
  if (flags.attach !== true && flags.interactive !== true) {
    return forEachContainer(refs, (ref) => runtime.startContainer(ref));
  }
  const [ref, ...others] = refs;
  if (ref === undefined || others.length > 0) {
    throw new TsdockError('INVALID_ARGUMENT', 'start -a and -i take exactly one container');
  }
  const detachKeys = parseDetachKeys(flags.detachKeys ?? DEFAULT_DETACH_KEYS);
  const { Config, HostConfig } = await runtime.inspect(ref);
  const tty = Config.Tty;
  // As Docker: input goes only to a container created to take it.
  const stdin = flags.interactive === true && Config.OpenStdin;
  if (tty && stdin) checkInputIsTerminal();
  // As `run`: signals sent to us reach the container, once it runs.
  let started: StartedContainer | undefined;
  const forward = (signal: NodeJS.Signals): void => started?.monitor.signal(signal);
  for (const signal of FORWARDED) process.on(signal, forward);
  try {
    started = await runtime.startAttached(ref, 'attach');
    if (tty) return await sessionWithStarted(started, { stdin, detachKeys, endOnSignal: false }, HostConfig.AutoRemove);
    return await streamsWithStarted(started, { stdin }, HostConfig.AutoRemove);
  } finally {
    for (const signal of FORWARDED) process.off(signal, forward);
  }
}
