/**
 * `tsdock attach [--no-stdin] [--sig-proxy=false] [--detach-keys KEYS] CONTAINER`: this terminal
 * on the container's terminal, or this process's stdio on its stdout, stderr and (`-i`) stdin.
 */
import { Runtime } from '../../index.js';
import { TsdockError } from '../../errors.js';
import { ContainerAttachment } from '../../runtime/attachment.js';
import type { GlobalOptions } from '../main.js';
import { parseBooleanFlag } from '../boolean-flag.js';
import { DEFAULT_DETACH_KEYS, parseDetachKeys } from '../detach-keys.js';
import { runStreamSession } from '../stream-session.js';
import { checkInputIsTerminal, runTerminalSession, statusOfEnd, type SessionEnd } from '../terminal-session.js';

export interface AttachFlags {
  stdin: boolean;
  detachKeys?: string;
  sigProxy?: string | boolean;
}

export async function attach(globals: GlobalOptions, ref: string, flags: AttachFlags): Promise<number> {
  const detachKeys = parseDetachKeys(flags.detachKeys ?? DEFAULT_DETACH_KEYS);
  const sigProxy = parseBooleanFlag('--sig-proxy', flags.sigProxy);
  const runtime = await Runtime.open({ root: globals.root });
  const { connection, stdin, tty } = await runtime.attach(ref);
  const typing = flags.stdin && stdin;
  let end: SessionEnd;
  if (tty) {
    try {
      if (typing) checkInputIsTerminal();
    } catch (err) {
      connection.destroy();
      throw err;
    }
    end = await runTerminalSession(connection, { stdin: typing, detachKeys, endOnSignal: true });
  } else {
    // As Docker's sig-proxy: the signals this process gets are the container's, and none of them
    // is a user's stop (the restart policy still applies).
    const forwardSignal = (signal: NodeJS.Signals): void => {
      runtime.kill(ref, signal, { proxied: true }).catch(() => undefined);
    };
    end = await runStreamSession(new ContainerAttachment(connection, false, { stdin: typing }), {
      stdin: typing,
      forwardSignal: sigProxy ? forwardSignal : undefined,
    });
  }
  if (end.kind === 'exited') return end.exitCode;
  const status = statusOfEnd(end);
  if (status === undefined) throw new TsdockError('STORE', `lost the connection to the monitor of ${ref}`);
  return status;
}
