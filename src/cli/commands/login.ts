/** `tsdock login [-u USER] [-p PASS | --password-stdin] [REGISTRY]`. */
import { Runtime } from '../../index.js';
import { TsdockError } from '../../errors.js';
import type { GlobalOptions } from '../main.js';
import { parseBooleanFlag } from '../boolean-flag.js';

export interface LoginFlags {
  username?: string;
  password?: string;
  passwordStdin?: boolean;
  tlsVerify?: string | boolean;
}

/** `--tls-verify`, `--tls-verify=false`. */
export function parseTlsVerify(value: string | boolean | undefined): boolean {
  return parseBooleanFlag('--tls-verify', value);
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** Reads a line from the terminal; with `hidden`, without echoing it. */
async function prompt(question: string, hidden: boolean): Promise<string> {
  const { createInterface } = await import('node:readline/promises');
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  if (hidden) {
    // readline echoes through _writeToOutput; silence it while the password is typed.
    const internals = rl as unknown as { _writeToOutput: (s: string) => void };
    const write = internals._writeToOutput.bind(rl);
    internals._writeToOutput = (s: string): void => {
      if (s.startsWith(question)) write(s);
    };
  }
  try {
    return await rl.question(question);
  } finally {
    if (hidden) process.stderr.write('\n');
    rl.close();
  }
}

export async function login(globals: GlobalOptions, server: string | undefined, flags: LoginFlags): Promise<void> {
  let password = flags.password;
  if (flags.passwordStdin === true) {
    if (password !== undefined)
      throw new TsdockError('INVALID_ARGUMENT', '--password and --password-stdin are mutually exclusive');
    if (flags.username === undefined)
      throw new TsdockError('INVALID_ARGUMENT', 'must provide --username with --password-stdin');
    password = (await readStdin()).replace(/\r?\n$/, '');
  } else if (password !== undefined) {
    process.stderr.write('WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n');
  }
  const interactive = process.stdin.isTTY;
  const username = flags.username ?? (interactive ? await prompt('Username: ', false) : undefined);
  password ??= interactive ? await prompt('Password: ', true) : undefined;
  if (username === undefined || username === '' || password === undefined || password === '') {
    throw new TsdockError('INVALID_ARGUMENT', 'username and password required (-u USER --password-stdin)');
  }
  const runtime = await Runtime.open({ root: globals.root });
  await runtime.login(server, { username, password }, { tlsVerify: parseTlsVerify(flags.tlsVerify) });
  process.stdout.write('Login Succeeded\n');
}
