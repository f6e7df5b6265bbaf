/**
 * The command line of tsdock-runtime, runc's shape: global flags, a verb, the verb's flags and its
 * arguments. Flags take `--name value`, `--name=value` or a one-letter alias; a flag after the
 * first argument is still a flag, as urfave/cli (runc's parser) takes them. Pure.
 */
import { TsdockError } from '../errors.js';
import type { Flags } from './context.js';

/** A flag: whether it takes a value, and its one-letter alias. */
export interface FlagSpec {
  value: boolean;
  alias?: string;
}

export type FlagSpecs = Record<string, FlagSpec>;

const s = (alias?: string): FlagSpec => ({ value: true, alias });
const b = (alias?: string): FlagSpec => ({ value: false, alias });

export const GLOBAL_FLAGS: FlagSpecs = {
  root: s(),
  log: s(),
  'log-format': s(),
  debug: b(),
  'systemd-cgroup': b(),
  rootless: s(),
  criu: s(),
  version: b('v'),
  help: b('h'),
};

export const VERB_FLAGS: Record<string, FlagSpecs> = {
  create: {
    bundle: s('b'),
    'pid-file': s(),
    'console-socket': s(),
    'preserve-fds': s(),
    'no-pivot': b(),
    'no-new-keyring': b(),
  },
  start: {},
  state: {},
  kill: { all: b('a') },
  delete: { force: b('f') },
  exec: {
    process: s('p'),
    detach: b('d'),
    'pid-file': s(),
    'console-socket': s(),
    tty: b('t'),
    'preserve-fds': s(),
  },
  ps: { format: s('f') },
  list: { format: s('f'), quiet: b('q') },
  pause: {},
  resume: {},
  update: { resources: s('r') },
  features: {},
};

export interface Parsed {
  flags: Flags;
  rest: string[];
}

/**
 * Parses flags off the front of `argv` (`stopAtFirst`: the global flags end at the verb) or from
 * anywhere in it (a verb's flags), leaving the other words in order.
 */
export function parseFlags(argv: readonly string[], specs: FlagSpecs, where: string, stopAtFirst: boolean): Parsed {
  const flags: Flags = {};
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i] ?? '';
    if (word === '--') {
      rest.push(...argv.slice(i + 1));
      break;
    }
    if (!word.startsWith('-') || word === '-') {
      if (stopAtFirst) {
        rest.push(...argv.slice(i));
        break;
      }
      rest.push(word);
      continue;
    }
    const eq = word.indexOf('=');
    const given = (eq < 0 ? word : word.slice(0, eq)).replace(/^--?/, '');
    const name = given.length === 1 ? Object.keys(specs).find((n) => specs[n]?.alias === given) : given;
    const spec = name === undefined ? undefined : specs[name];
    if (name === undefined || spec === undefined) {
      throw new TsdockError('INVALID_ARGUMENT', `unknown flag ${word.slice(0, eq < 0 ? undefined : eq)} for ${where}`);
    }
    if (!spec.value) {
      const v = eq < 0 ? 'true' : word.slice(eq + 1);
      if (v !== 'true' && v !== 'false')
        throw new TsdockError('INVALID_ARGUMENT', `flag --${name} takes true or false`);
      flags[name] = v === 'true' ? true : undefined;
    } else if (eq >= 0) {
      flags[name] = word.slice(eq + 1);
    } else {
      const v = argv[i + 1];
      if (v === undefined) throw new TsdockError('INVALID_ARGUMENT', `flag --${name} needs a value`);
      flags[name] = v;
      i++;
    }
  }
  return { flags, rest };
}
