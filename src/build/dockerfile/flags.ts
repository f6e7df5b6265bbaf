/** The `--name=value` flags an instruction takes (`COPY --from=build`, `HEALTHCHECK --interval=5s`). */
import { DockerfileError } from './errors.js';
import type { SourceLocation } from './types.js';

export interface FlagSpec {
  /** Flags tsdock implements; all take a value. */
  readonly accepted: readonly string[];
  /** Flags Docker has for this instruction that tsdock does not implement (a clearer error). */
  readonly notImplemented?: readonly string[];
}

/**
 * Checks `words` (as `extractFlags` returns them, `--` included) against what `instruction`
 * takes; returns the values by flag name, without the dashes.
 */
export function parseFlags(
  words: readonly string[],
  instruction: string,
  spec: FlagSpec,
  location: SourceLocation,
): Map<string, string> {
  const values = new Map<string, string>();
  const takes =
    spec.accepted.length === 0
      ? `${instruction} takes no flags`
      : `${instruction} takes ${spec.accepted.map((name) => `--${name}`).join(', ')}`;
  for (const word of words) {
    const equals = word.indexOf('=');
    const name = (equals < 0 ? word : word.slice(0, equals)).replace(/^--/, '');
    if (spec.notImplemented?.includes(name) === true) {
      throw new DockerfileError(location, `${instruction} --${name} is not supported by tsdock (${takes})`);
    }
    if (!spec.accepted.includes(name)) {
      throw new DockerfileError(location, `unknown flag --${name} for ${instruction} (${takes})`);
    }
    if (values.has(name)) throw new DockerfileError(location, `--${name} is given twice`);
    const value = equals < 0 ? '' : word.slice(equals + 1);
    if (value === '') throw new DockerfileError(location, `--${name} needs a value (--${name}=VALUE)`);
    values.set(name, value);
  }
  return values;
}
