/** `tsdock attach [--no-stdin] [--detach-keys KEYS] CONTAINER`: this terminal on the container's. */
import { Runtime } from '../../index.js';
import { TsdockError } from '../../errors.js';
import type { GlobalOptions } from '../main.js';
import { DEFAULT_DETACH_KEYS, parseDetachKeys } from '../detach-keys.js';
import { checkInputIsTerminal, runTerminalSession, statusOfEnd } from '../terminal-session.js';

export async function attach(
  globals: GlobalOptions,
  ref: string,
  flags: { stdin: boolean; detachKeys?: string },
): Promise<number> {
  const detachKeys = parseDetachKeys(flags.detachKeys ?? DEFAULT_DETACH_KEYS);
  const runtime = await Runtime.open({ root: globals.root });
  const { connection, stdin } = await runtime.attach(ref);
  const typing = flags.stdin && stdin;
  try {
    if (typing) checkInputIsTerminal();
  } catch (err) {
    connection.destroy();
    throw err;
  }
  const end = await runTerminalSession(connection, { stdin: typing, detachKeys, endOnSignal: true });
  if (end.kind === 'exited') return end.exitCode;
  const status = statusOfEnd(end);
  if (status === undefined) throw new TsdockError('STORE', `lost the connection to the monitor of ${ref}`);
  return status;
}
