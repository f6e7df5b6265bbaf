/**
 * The parsed form of a Dockerfile: the contract between the parser (`parse.ts`) and the build
 * engine. Words stay raw (quotes and `$VAR` references intact) because Docker expands them per
 * instruction with the ARG and ENV values in effect at that step; the engine calls
 * `expandWord` from `expand.ts` on exactly the fields Docker expands (FROM, COPY, ADD, ENV,
 * ARG defaults, EXPOSE, LABEL, STOPSIGNAL, USER, VOLUME, WORKDIR and the `--chown`/`--chmod`/
 * `--from`/`--platform` flag values). RUN, CMD, ENTRYPOINT, SHELL and HEALTHCHECK commands are
 * never expanded by the builder: the shell in the container does that.
 */

/** Where an instruction starts: the Dockerfile's path (as given to the parser) and 1-based line. */
export interface SourceLocation {
  readonly file: string;
  readonly line: number;
}

/** `["a","b"]` (exec form, JSON) or `a b` (shell form, run by the stage's SHELL). */
export type CommandForm =
  { readonly form: 'exec'; readonly args: readonly string[] } | { readonly form: 'shell'; readonly script: string };

/** A heredoc body attached to RUN, COPY or ADD (`<<EOF`, `<<-EOF` strips leading tabs, `<<"EOF"` does not expand). */
export interface Heredoc {
  readonly name: string;
  readonly content: string;
  /** False when the delimiter was quoted: the body is used verbatim. */
  readonly expand: boolean;
}

interface Base {
  readonly location: SourceLocation;
  /** The instruction as written, continuations joined, for `Step n/m : …` and image history. */
  readonly original: string;
}

export interface FromInstruction extends Base {
  readonly kind: 'FROM';
  /** Raw image word (`busybox`, `${BASE}:1`, `scratch`, or an earlier stage's name). */
  readonly image: string;
  /** `AS name`, lower-cased as Docker does. */
  readonly alias?: string;
  /** Raw `--platform` value. */
  readonly platform?: string;
}

export interface RunInstruction extends Base {
  readonly kind: 'RUN';
  readonly command: CommandForm;
  readonly heredocs: readonly Heredoc[];
  /** Raw `--network=default|none|host`. */
  readonly network?: string;
}

export interface CopyInstruction extends Base {
  readonly kind: 'COPY' | 'ADD';
  /** Raw source words (globs, URLs for ADD, or `<<NAME` when the source is a heredoc). */
  readonly sources: readonly string[];
  readonly destination: string;
  readonly heredocs: readonly Heredoc[];
  /** Raw `--from=stage|image` (COPY only). */
  readonly from?: string;
  readonly chown?: string;
  readonly chmod?: string;
}

/** ENV and LABEL: ordered pairs, values raw. The legacy `ENV key value` form yields one pair. */
export interface KeyValueInstruction extends Base {
  readonly kind: 'ENV' | 'LABEL';
  readonly pairs: readonly (readonly [key: string, rawValue: string])[];
}

export interface ArgInstruction extends Base {
  readonly kind: 'ARG';
  readonly args: readonly { readonly name: string; readonly rawDefault?: string }[];
}

export interface CommandInstruction extends Base {
  readonly kind: 'CMD' | 'ENTRYPOINT';
  readonly command: CommandForm;
}

/** WORKDIR, USER, STOPSIGNAL: one raw word. */
export interface SingleWordInstruction extends Base {
  readonly kind: 'WORKDIR' | 'USER' | 'STOPSIGNAL';
  readonly value: string;
}

/** EXPOSE and VOLUME: raw words (VOLUME accepts the JSON form too; the parser flattens it). */
export interface WordListInstruction extends Base {
  readonly kind: 'EXPOSE' | 'VOLUME';
  readonly values: readonly string[];
}

export interface ShellInstruction extends Base {
  readonly kind: 'SHELL';
  /** JSON form only, as Docker requires. */
  readonly shell: readonly string[];
}

export interface HealthcheckInstruction extends Base {
  readonly kind: 'HEALTHCHECK';
  /** `HEALTHCHECK NONE` disables the base image's check. */
  readonly test: CommandForm | 'none';
  /** Durations in nanoseconds as in the image config; undefined = Docker's default. */
  readonly intervalNs?: number;
  readonly timeoutNs?: number;
  readonly startPeriodNs?: number;
  readonly startIntervalNs?: number;
  readonly retries?: number;
}

export interface OnbuildInstruction extends Base {
  readonly kind: 'ONBUILD';
  /** The trigger as written (`RUN echo hi`), stored in the image config's `OnBuild`. */
  readonly trigger: string;
}

export type Instruction =
  | FromInstruction
  | RunInstruction
  | CopyInstruction
  | KeyValueInstruction
  | ArgInstruction
  | CommandInstruction
  | SingleWordInstruction
  | WordListInstruction
  | ShellInstruction
  | HealthcheckInstruction
  | OnbuildInstruction;

export interface Stage {
  /** Position among the file's stages, from 0. */
  readonly index: number;
  readonly from: FromInstruction;
  /** The instructions after FROM, up to the next FROM. */
  readonly instructions: readonly Instruction[];
}

export interface Dockerfile {
  /** `# escape=` directive; `\` by default. */
  readonly escape: '\\' | '`';
  /** `# syntax=` directive, recorded but not acted on. */
  readonly syntax?: string;
  /** ARGs before the first FROM: usable in FROM lines, and in a stage after a bare `ARG name`. */
  readonly globalArgs: readonly ArgInstruction[];
  readonly stages: readonly Stage[];
}
