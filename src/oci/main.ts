/**
 * tsdock-runtime: a runc-compatible OCI runtime command line, the way containerd's shim drives
 * runc (`--root`, `--log`, `--log-format json`; create, start, state, kill, delete, exec, ps,
 * pause, resume, update, list, features). Each verb is loaded only when called: Node's start-up is
 * paid on every call, so the less it compiles the better.
 */
import { readFileSync } from 'node:fs';
import { TsdockError } from '../errors.js';
import { GLOBAL_FLAGS, parseFlags, VERB_FLAGS } from './args.js';
import { flagString, type Flags, type Globals } from './context.js';
import { Logger, type LogFormat } from './log.js';
import { SPEC_VERSION } from './state.js';

type Verb = (g: Globals, flags: Flags, args: string[]) => Promise<void>;

const VERBS: Record<string, () => Promise<Verb>> = {
  create: async () => (await import('./commands/create.js')).create,
  start: async () => (await import('./commands/start.js')).start,
  state: async () => (await import('./commands/state.js')).state,
  kill: async () => (await import('./commands/kill.js')).kill,
  delete: async () => (await import('./commands/delete.js')).del,
  exec: async () => (await import('./commands/exec.js')).exec,
  ps: async () => (await import('./commands/ps.js')).ps,
  list: async () => (await import('./commands/list.js')).list,
  pause: async () => (await import('./commands/pause.js')).pause,
  resume: async () => (await import('./commands/pause.js')).resume,
  update: async () => (await import('./commands/update.js')).update,
  features: async () => (await import('./commands/features.js')).features,
};

const DEFAULT_ROOT = '/run/tsdock-runtime';

const USAGE = `usage: tsdock-runtime [--root DIR] [--log FILE] [--log-format text|json] [--debug] COMMAND [FLAGS] ID
commands: ${Object.keys(VERBS).join(', ')}
`;

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return `tsdock-runtime version ${pkg.version}\nspec: ${SPEC_VERSION}\n`;
}

function logFormatOf(flags: Flags): LogFormat {
  const format = flagString(flags, 'log-format') ?? 'text';
  if (format !== 'text' && format !== 'json') {
    throw new TsdockError('INVALID_ARGUMENT', `invalid --log-format "${format}": use text or json`);
  }
  return format;
}

async function run(argv: string[], setLogger: (l: Logger) => void): Promise<void> {
  const global = parseFlags(argv, GLOBAL_FLAGS, 'tsdock-runtime', true);
  const logger = new Logger(flagString(global.flags, 'log'), logFormatOf(global.flags));
  setLogger(logger);
  if (global.flags.version === true) {
    process.stdout.write(version());
    return;
  }
  const [verb, ...rest] = global.rest;
  if (global.flags.help === true || verb === undefined || verb === 'help') {
    process.stdout.write(USAGE);
    return;
  }
  if (global.flags['systemd-cgroup'] === true) {
    throw new TsdockError(
      'HOST_UNSUPPORTED',
      '--systemd-cgroup is not supported: tsdock-runtime manages cgroupfs directly (drop the flag, or SystemdCgroup = false in containerd)',
    );
  }
  const load = VERBS[verb];
  const specs = VERB_FLAGS[verb];
  if (load === undefined || specs === undefined) {
    throw new TsdockError(
      'INVALID_ARGUMENT',
      `unknown command "${verb}": expected one of ${Object.keys(VERBS).join(', ')}`,
    );
  }
  // exec's command keeps its own flags (`exec ID sh -c …`), as runc's exec skips arg reordering.
  const { flags, rest: args } = parseFlags(rest, specs, verb, verb === 'exec');
  const debug = global.flags.debug === true;
  const g: Globals = {
    root: flagString(global.flags, 'root') ?? DEFAULT_ROOT,
    debug,
    debugLog: (message) => {
      if (debug) logger.write('debug', message);
    },
  };
  await (
    await load()
  )(g, flags, args);
}

/** Runs one command; errors become a log line, one stderr line and exit status 1. */
export async function main(argv: string[]): Promise<void> {
  let logger = new Logger(undefined, 'text');
  try {
    await run(argv, (l) => {
      logger = l;
    });
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    logger.write('error', message);
    process.stderr.write(`tsdock-runtime: ${message}\n`);
    process.exitCode = 1;
  }
}
