/**
 * Build arguments and their scoping, as Docker has them: `--build-arg` values, the ARGs before
 * the first FROM (visible to FROM lines, and inside a stage only after a bare `ARG NAME`), a
 * stage's own ARGs (visible from their declaration to the end of the stage), and the proxy
 * variables every RUN may receive without a declaration.
 */
import type { ArgInstruction } from './dockerfile/types.js';
import { TsdockError } from '../errors.js';
import { DockerfileError } from './dockerfile/errors.js';

/** Expands one raw Dockerfile word with the variables `lookup` knows (see dockerfile/expand.ts). */
export type Expand = (raw: string, lookup: (name: string) => string | undefined) => string;

/**
 * Docker's predefined ARGs: usable by RUN without an ARG line, and left out of the image
 * history (they usually carry credentials-free but host-specific values).
 */
export const PROXY_ARGS: ReadonlySet<string> = new Set([
  'HTTP_PROXY',
  'http_proxy',
  'HTTPS_PROXY',
  'https_proxy',
  'FTP_PROXY',
  'ftp_proxy',
  'NO_PROXY',
  'no_proxy',
  'ALL_PROXY',
  'all_proxy',
]);

/**
 * Parses `--build-arg K=V` flags; a bare `K` takes the host's value and is dropped when the host
 * has none (Docker's rule). Later flags win.
 */
export function parseBuildArgs(
  specs: readonly string[],
  hostEnv: NodeJS.ProcessEnv = process.env,
): Map<string, string> {
  const args = new Map<string, string>();
  for (const spec of specs) {
    const eq = spec.indexOf('=');
    const name = eq < 0 ? spec : spec.slice(0, eq);
    if (name === '' || /\s/.test(name)) {
      throw new TsdockError('INVALID_ARGUMENT', `invalid --build-arg "${spec}": expected NAME=value or NAME`);
    }
    const value = eq < 0 ? hostEnv[name] : spec.slice(eq + 1);
    if (value !== undefined) args.set(name, value);
  }
  return args;
}

/**
 * The values of the global ARGs (before the first FROM), in order: a build arg wins over the
 * default, which is expanded with the global ARGs before it. An ARG without either has no value.
 */
export function globalArgValues(
  globalArgs: readonly ArgInstruction[],
  buildArgs: ReadonlyMap<string, string>,
  expand: Expand,
): Map<string, string | undefined> {
  const values = new Map<string, string | undefined>();
  const lookup = (name: string): string | undefined => values.get(name);
  for (const instruction of globalArgs) {
    for (const arg of instruction.args) {
      const raw = arg.rawDefault;
      const fallback =
        raw === undefined ? undefined : DockerfileError.placingSync(instruction.location, () => expand(raw, lookup));
      values.set(arg.name, buildArgs.get(arg.name) ?? fallback);
    }
  }
  return values;
}

/** The ARGs in effect at one point of a stage. Immutable: `declare` returns a new scope. */
export class ArgScope {
  private constructor(
    private readonly buildArgs: ReadonlyMap<string, string>,
    private readonly globals: ReadonlyMap<string, string | undefined>,
    /** Declared in this stage, in declaration order; `undefined`: declared without a value. */
    private readonly declared: ReadonlyMap<string, string | undefined>,
  ) {}

  /** The scope at the start of a stage: nothing declared yet. */
  static forStage(buildArgs: ReadonlyMap<string, string>, globals: ReadonlyMap<string, string | undefined>): ArgScope {
    return new ArgScope(buildArgs, globals, new Map());
  }

  /**
   * `ARG name[=default]` inside the stage: the build arg if given, else the default (expanded by
   * the caller with the scope before this line), else the global ARG's value.
   */
  declare(name: string, expandedDefault: string | undefined): ArgScope {
    const value = this.buildArgs.get(name) ?? expandedDefault ?? this.globals.get(name);
    const declared = new Map(this.declared);
    declared.delete(name); // a redeclaration moves to the end, like a new variable
    declared.set(name, value);
    return new ArgScope(this.buildArgs, this.globals, declared);
  }

  /** A declared ARG's value (undefined when undeclared or valueless). */
  get(name: string): string | undefined {
    return this.declared.get(name);
  }

  /** Every declared ARG that has a value, in declaration order. */
  values(): [string, string][] {
    return [...this.declared].filter((e): e is [string, string] => e[1] !== undefined);
  }

  /**
   * What a RUN gets besides the image's Env: the declared ARGs with values, then the proxy
   * build args even when undeclared. Entries whose name the Env sets are dropped (ENV wins).
   */
  runEnv(envNames: ReadonlySet<string>): [string, string][] {
    const out = new Map(this.values());
    for (const [name, value] of this.buildArgs) if (PROXY_ARGS.has(name) && !out.has(name)) out.set(name, value);
    return [...out].filter(([name]) => !envNames.has(name));
  }
}
