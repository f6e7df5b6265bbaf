/** `tsdock exec [-d] [-i] [-t] [-e K=V] [-u USER] [-w DIR] CONTAINER COMMAND...`. */
import { TsdockError } from '../../errors.js';
import { Runtime, type StartedExec } from '../../index.js';
import { parseEnv } from '../../runtime/options.js';
import type { GlobalOptions } from '../main.js';
import { DEFAULT_DETACH_KEYS, parseDetachKeys } from '../detach-keys.js';
import { checkInputIsTerminal, localTerminalSize, runTerminalSession, statusOfEnd } from '../terminal-session.js';

export interface ExecFlags {
  detach?: boolean;
  interactive?: boolean;
  tty?: boolean;
  detachKeys?: string;
  env: string[];
  user?: string;
  workdir?: string;
}

const FORWARDED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];

export async function exec(globals: GlobalOptions, ref: string, command: string[], flags: ExecFlags): Promise<number> {
  const detachKeys = parseDetachKeys(flags.detachKeys ?? DEFAULT_DETACH_KEYS);
  const tty = flags.tty === true;
  const typing = tty && flags.interactive === true && flags.detach !== true;
  if (typing) checkInputIsTerminal();
  const runtime = await Runtime.open({ root: globals.root });
  const options = {
    command,
    env: flags.env.flatMap((e) => parseEnv(e)),
    user: flags.user,
    workdir: flags.workdir,
    tty,
    consoleSize: tty && flags.detach !== true ? localTerminalSize() : undefined,
  };
  if (flags.detach === true) {
    const started = await runtime.exec(ref, { ...options, stdio: { stdin: 'ignore', output: 'ignore' } });
    started.monitor.detach();
    return 0;
  }
  // As with run: signals that arrive while the process starts are passed on once it runs.
  let started: StartedExec | undefined;
  const pending: NodeJS.Signals[] = [];
  const forward = (signal: NodeJS.Signals): void => {
    if (started === undefined) pending.push(signal);
    else started.monitor.signal(signal);
  };
  for (const signal of FORWARDED) process.on(signal, forward);
  try {
    started = await runtime.exec(ref, {
      ...options,
      stdio: { stdin: flags.interactive === true ? 'inherit' : 'ignore', output: 'inherit' },
    });
    for (const signal of pending.splice(0)) started.monitor.signal(signal);
    if (tty) return await execSession(started, typing, detachKeys);
    return (await started.exited).exitCode;
  } finally {
    for (const signal of FORWARDED) process.off(signal, forward);
  }
}

/** `exec -t`: the session with the process's terminal; its exit code, 0 after a detach (it runs on). */
async function execSession(started: StartedExec, stdin: boolean, detachKeys: Buffer): Promise<number> {
  const connection = started.monitor.attach;
  if (connection === null) throw new TsdockError('START_FAILED', 'the monitor offered no terminal connection');
  const end = await runTerminalSession(connection, { stdin, detachKeys, endOnSignal: false });
  if (end.kind !== 'exited') {
    const status = statusOfEnd(end);
    if (status !== undefined) {
      started.monitor.detach();
      return status;
    }
  }
  return (await started.exited).exitCode;
}
