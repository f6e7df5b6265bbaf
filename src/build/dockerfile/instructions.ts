/**
 * One instruction's text (continuations joined) -> its typed form in `types.ts`. Words stay raw;
 * what is checked here is the shape Docker checks before building: argument counts, flags, the
 * JSON form where it is required, HEALTHCHECK durations, ONBUILD triggers.
 */
import { parseGoDuration } from './duration.js';
import { DockerfileError } from './errors.js';
import type { EscapeChar } from './expand.js';
import { parseFlags, type FlagSpec } from './flags.js';
import { heredocMarkers, parseHeredocMarker, type HeredocMarker } from './heredoc.js';
import type {
  ArgInstruction,
  CommandForm,
  CopyInstruction,
  FromInstruction,
  Heredoc,
  HealthcheckInstruction,
  Instruction,
  KeyValueInstruction,
  OnbuildInstruction,
  SourceLocation,
} from './types.js';
import { extractFlags, parseJsonForm, splitKeyword, splitQuotedWords, splitWhitespace } from './words.js';

export interface InstructionContext {
  readonly location: SourceLocation;
  readonly escape: EscapeChar;
  /** Reads the bodies of the heredocs an instruction opens, from the lines after it. */
  readonly readHeredocs: (markers: readonly HeredocMarker[]) => Heredoc[];
}

export const INSTRUCTION_NAMES = [
  'FROM',
  'RUN',
  'CMD',
  'ENTRYPOINT',
  'COPY',
  'ADD',
  'ENV',
  'ARG',
  'LABEL',
  'MAINTAINER',
  'WORKDIR',
  'USER',
  'EXPOSE',
  'VOLUME',
  'STOPSIGNAL',
  'HEALTHCHECK',
  'SHELL',
  'ONBUILD',
] as const;

const STAGE_NAME = /^[a-z][a-z0-9-_.]*$/;
const NO_FLAGS: FlagSpec = { accepted: [] };
const MIN_HEALTHCHECK_DURATION_NS = 1e6;
const MAX_INT32 = 2 ** 31 - 1;

/** Parses one instruction line; the instruction's heredoc bodies are read through `context`. */
export function parseInstruction(text: string, context: InstructionContext): Instruction {
  return new InstructionParser(text, context).parse();
}

class InstructionParser {
  private readonly keyword: string;
  private readonly written: string;
  private readonly args: string;
  private readonly flags: string[];
  private readonly base: { readonly location: SourceLocation; readonly original: string };

  constructor(
    text: string,
    private readonly context: InstructionContext,
  ) {
    const { keyword, rest } = splitKeyword(text);
    const { flags, args } = extractFlags(rest, context.escape);
    this.written = keyword;
    this.keyword = keyword.toUpperCase();
    this.args = args;
    this.flags = flags;
    this.base = { location: context.location, original: text.trim() };
  }

  parse(): Instruction {
    switch (this.keyword) {
      case 'FROM':
        return this.from();
      case 'RUN':
        return this.run();
      case 'CMD':
      case 'ENTRYPOINT':
        this.flagValues(NO_FLAGS);
        return { ...this.base, kind: this.keyword, command: this.commandForm(this.args, this.keyword) };
      case 'COPY':
        return this.copy('COPY', {
          accepted: ['from', 'chown', 'chmod'],
          notImplemented: ['link', 'parents', 'exclude'],
        });
      case 'ADD':
        return this.copy('ADD', {
          accepted: ['chown', 'chmod'],
          notImplemented: ['link', 'checksum', 'keep-git-dir', 'unpack', 'exclude'],
        });
      case 'ENV':
      case 'LABEL':
        return this.keyValues(this.keyword);
      case 'MAINTAINER':
        return this.maintainer();
      case 'ARG':
        return this.arg();
      case 'WORKDIR':
      case 'USER':
      case 'STOPSIGNAL':
        this.flagValues(NO_FLAGS);
        if (this.args === '') this.fail(`${this.keyword} needs a value (${this.keyword} ${PLACEHOLDER[this.keyword]})`);
        return { ...this.base, kind: this.keyword, value: this.args };
      case 'EXPOSE':
        return this.expose();
      case 'VOLUME':
        return this.volume();
      case 'SHELL':
        return this.shell();
      case 'HEALTHCHECK':
        return this.healthcheck();
      case 'ONBUILD':
        return this.onbuild();
      default:
        return this.fail(unknownInstructionMessage(this.written));
    }
  }

  private from(): FromInstruction {
    const platform = this.flagValues({ accepted: ['platform'] }).get('platform');
    const words = splitWhitespace(this.args);
    const [image, as, name] = words;
    if (image === undefined) return this.fail('FROM needs an image (FROM IMAGE [AS NAME])');
    if (words.length === 1) return { ...this.base, kind: 'FROM', image, ...(platform !== undefined && { platform }) };
    if (words.length !== 3 || as?.toLowerCase() !== 'as' || name === undefined) {
      return this.fail(`FROM takes an image and an optional stage name (FROM IMAGE [AS NAME]), not "${this.args}"`);
    }
    const alias = name.toLowerCase();
    if (!STAGE_NAME.test(alias)) {
      this.fail(`invalid stage name "${name}" (start with a letter; use letters, digits, "-", "_" and ".")`);
    }
    return { ...this.base, kind: 'FROM', image, alias, ...(platform !== undefined && { platform }) };
  }

  private run(): Instruction {
    const network = this.flagValues({ accepted: ['network'], notImplemented: ['mount', 'security'] }).get('network');
    const command = this.commandForm(this.args, 'RUN');
    const heredocs = command.form === 'shell' ? this.context.readHeredocs(heredocMarkers(this.args)) : [];
    return { ...this.base, kind: 'RUN', command, heredocs, ...(network !== undefined && { network }) };
  }

  private copy(kind: 'COPY' | 'ADD', spec: FlagSpec): CopyInstruction {
    const flags = this.flagValues(spec);
    const json = this.jsonForm();
    const words = json ?? splitWhitespace(this.args);
    const destination = words.at(-1);
    if (destination === undefined || words.length < 2) {
      return this.fail(`${kind} needs a source and a destination (${kind} SRC... DEST)`);
    }
    if (parseHeredocMarker(destination) !== undefined) this.fail(`${kind} cannot take a heredoc as its destination`);
    const heredocs = json === undefined ? this.context.readHeredocs(heredocMarkers(this.args)) : [];
    const optional = Object.fromEntries(flags) as { from?: string; chown?: string; chmod?: string };
    return { ...this.base, kind, sources: words.slice(0, -1), destination, heredocs, ...optional };
  }

  private keyValues(kind: 'ENV' | 'LABEL'): KeyValueInstruction {
    this.flagValues(NO_FLAGS);
    const words = splitQuotedWords(this.args, this.context.escape);
    const first = words[0];
    if (first === undefined) return this.fail(`${kind} needs a name and a value (${kind} NAME=VALUE ...)`);
    if (!first.includes('=')) {
      // The legacy form: `ENV NAME VALUE`, the value being the rest of the line.
      const [name, value] = splitAtWhitespace(this.args);
      if (value === '') return this.fail(`${kind} ${name} needs a value (${kind} ${name}=VALUE)`);
      return { ...this.base, kind, pairs: [[name, value]] };
    }
    const pairs = words.map((word): [string, string] => {
      const equals = word.indexOf('=');
      if (equals < 0) return this.fail(`${kind} expects NAME=VALUE pairs, not "${word}"`);
      if (equals === 0) return this.fail(`${kind} names cannot be empty ("${word}")`);
      return [word.slice(0, equals), word.slice(equals + 1)];
    });
    return { ...this.base, kind, pairs };
  }

  /**
   * MAINTAINER is deprecated in Docker, which records it as the config's `Author`; tsdock records
   * it as the `maintainer` label Docker recommends instead, quoted so that it stays literal.
   */
  private maintainer(): KeyValueInstruction {
    this.flagValues(NO_FLAGS);
    if (this.args === '') return this.fail('MAINTAINER needs a name (better: LABEL maintainer="NAME")');
    return { ...this.base, kind: 'LABEL', pairs: [['maintainer', singleQuoted(this.args)]] };
  }

  private arg(): ArgInstruction {
    this.flagValues(NO_FLAGS);
    const words = splitQuotedWords(this.args, this.context.escape);
    if (words.length === 0) return this.fail('ARG needs a name (ARG NAME or ARG NAME=DEFAULT)');
    const args = words.map((word) => {
      const equals = word.indexOf('=');
      if (equals < 0) return { name: word };
      if (equals === 0) return this.fail(`ARG names cannot be empty ("${word}")`);
      return { name: word.slice(0, equals), rawDefault: word.slice(equals + 1) };
    });
    return { ...this.base, kind: 'ARG', args };
  }

  private expose(): Instruction {
    this.flagValues(NO_FLAGS);
    const values = splitWhitespace(this.args);
    if (values.length === 0) return this.fail('EXPOSE needs a port (EXPOSE PORT[/PROTOCOL] ...)');
    return { ...this.base, kind: 'EXPOSE', values };
  }

  private volume(): Instruction {
    this.flagValues(NO_FLAGS);
    const values = this.jsonForm() ?? splitWhitespace(this.args);
    if (values.length === 0) return this.fail('VOLUME needs a path (VOLUME /data or VOLUME ["/data"])');
    if (values.includes('')) return this.fail('VOLUME paths cannot be empty strings');
    return { ...this.base, kind: 'VOLUME', values };
  }

  private shell(): Instruction {
    this.flagValues(NO_FLAGS);
    const json = parseJsonForm(this.args);
    if (json.kind !== 'json') return this.fail('SHELL needs the JSON form (SHELL ["/bin/sh", "-c"])');
    if (json.values.length === 0) return this.fail('SHELL needs at least an executable (SHELL ["/bin/sh", "-c"])');
    return { ...this.base, kind: 'SHELL', shell: json.values };
  }

  private healthcheck(): HealthcheckInstruction {
    const [type, command] = splitAtWhitespace(this.args);
    switch (type.toUpperCase()) {
      case 'NONE':
        if (command !== '' || this.flags.length > 0) this.fail('HEALTHCHECK NONE takes no arguments');
        return { ...this.base, kind: 'HEALTHCHECK', test: 'none' };
      case 'CMD':
        break;
      case '':
        return this.fail('HEALTHCHECK needs CMD or NONE (HEALTHCHECK [--interval=30s] CMD COMMAND)');
      default:
        return this.fail(`unknown HEALTHCHECK type "${type}" (use CMD COMMAND or NONE)`);
    }
    const flags = this.flagValues({ accepted: ['interval', 'timeout', 'start-period', 'start-interval', 'retries'] });
    const test = this.commandForm(command, 'HEALTHCHECK CMD');
    if (test.form === 'exec' && test.args.length === 0) this.fail('HEALTHCHECK CMD needs a command');
    const durations = {
      intervalNs: this.duration(flags, 'interval'),
      timeoutNs: this.duration(flags, 'timeout'),
      startPeriodNs: this.duration(flags, 'start-period'),
      startIntervalNs: this.duration(flags, 'start-interval'),
      retries: this.retries(flags.get('retries')),
    };
    const given = Object.entries(durations).filter(([, value]) => value !== undefined);
    return { ...this.base, kind: 'HEALTHCHECK', test, ...Object.fromEntries(given) };
  }

  /** A HEALTHCHECK duration flag in nanoseconds; 0 or absent means Docker's default. */
  private duration(flags: Map<string, string>, name: string): number | undefined {
    const text = flags.get(name);
    if (text === undefined) return undefined;
    const ns = parseGoDuration(text);
    if (ns === undefined) return this.fail(`--${name}=${text} is not a duration (examples: 30s, 1m30s, 500ms)`);
    if (ns === 0) return undefined;
    if (ns < MIN_HEALTHCHECK_DURATION_NS) return this.fail(`--${name}=${text} is less than 1ms`);
    return ns;
  }

  private retries(text: string | undefined): number | undefined {
    if (text === undefined) return undefined;
    const retries = /^[-+]?\d+$/.test(text) ? Number(text) : NaN;
    if (!Number.isSafeInteger(retries) || retries < 0 || retries > MAX_INT32) {
      return this.fail(`--retries=${text} is not a count (a whole number, 0 or more)`);
    }
    return retries;
  }

  private onbuild(): OnbuildInstruction {
    this.flagValues(NO_FLAGS);
    if (this.args === '') return this.fail('ONBUILD needs an instruction (ONBUILD RUN COMMAND)');
    const inner = splitKeyword(this.args).keyword.toUpperCase();
    if (inner === 'ONBUILD') this.fail('ONBUILD ONBUILD is not allowed');
    if (inner === 'FROM' || inner === 'MAINTAINER') this.fail(`${inner} is not allowed as an ONBUILD trigger`);
    const trigger = parseInstruction(this.args, this.context);
    // The trigger carries its heredoc bodies, so a build FROM this image can parse it alone.
    const heredocs = 'heredocs' in trigger ? trigger.heredocs : [];
    const text = heredocs.reduce((all, doc) => `${all}\n${doc.content}${doc.name}`, this.args);
    return { ...this.base, kind: 'ONBUILD', trigger: text };
  }

  private commandForm(text: string, instruction: string): CommandForm {
    const json = parseJsonForm(text);
    if (json.kind === 'not-strings') {
      return this.fail(`${instruction}'s JSON form takes strings only (${instruction} ["executable", "argument"])`);
    }
    if (json.kind === 'json') return { form: 'exec', args: json.values };
    if (text === '')
      return this.fail(`${instruction} needs a command (${instruction} COMMAND or ["executable", "argument"])`);
    return { form: 'shell', script: text };
  }

  /** The JSON form's values, or undefined for the shell form; non-strings are an error. */
  private jsonForm(): string[] | undefined {
    const json = parseJsonForm(this.args);
    if (json.kind === 'not-strings') this.fail(`${this.keyword}'s JSON form takes strings only`);
    return json.kind === 'json' ? json.values : undefined;
  }

  private flagValues(spec: FlagSpec): Map<string, string> {
    return parseFlags(this.flags, this.keyword, spec, this.context.location);
  }

  private fail(detail: string): never {
    throw new DockerfileError(this.context.location, detail);
  }
}

const PLACEHOLDER = { WORKDIR: 'PATH', USER: 'USER[:GROUP]', STOPSIGNAL: 'SIGNAL' } as const;

/** `NAME rest of line` -> [NAME, rest]; rest is '' when there is none. */
function splitAtWhitespace(text: string): [string, string] {
  const { keyword, rest } = splitKeyword(text);
  return [keyword, rest];
}

/** Shell single-quoting, so that expansion gives back `text` unchanged. */
function singleQuoted(text: string): string {
  return `'${text.replaceAll("'", `'"'"'`)}'`;
}

/** `unknown instruction "RUNN" (did you mean RUN?)`, with a hint when nothing is close. */
export function unknownInstructionMessage(written: string): string {
  const upper = written.toUpperCase();
  const closest = INSTRUCTION_NAMES.map((name) => ({ name, distance: editDistance(upper, name) })).sort(
    (a, b) => a.distance - b.distance,
  )[0];
  const hint =
    closest !== undefined && closest.distance <= Math.min(2, upper.length - 1)
      ? `did you mean ${closest.name}?`
      : 'a line starts with an instruction such as RUN or COPY; to continue the previous line, end it with the escape character';
  return `unknown instruction "${written}" (${hint})`;
}

/** Levenshtein distance. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}
