/** `tsdock exec [-d] [-i] [-e K=V] [-u USER] [-w DIR] CONTAINER COMMAND...`. */
import { TsdockError } from '../../errors.js';
import { Runtime, type StartedExec } from '../../index.js';
import { parseEnv } from '../../runtime/options.js';
import type { GlobalOptions } from '../main.js';

export interface ExecFlags {
  detach?: boolean;
  interactive?: boolean;
  tty?: boolean;
  env: string[];
  user?: string;
  workdir?: string;
}

const FORWARDED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];

export async function exec(globals: GlobalOptions, ref: string, command: string[], flags: ExecFlags): Promise<number> {
  if (flags.tty === true) throw new TsdockError('INVALID_ARGUMENT', 'exec -t is not supported yet');
  const runtime = await Runtime.open({ root: globals.root });
  const options = {
    command,
    env: flags.env.flatMap((e) => parseEnv(e)),
    user: flags.user,
    workdir: flags.workdir,
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
    return (await started.exited).exitCode;
  } finally {
    for (const signal of FORWARDED) process.off(signal, forward);
  }
}
