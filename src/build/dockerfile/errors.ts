import { TsdockError } from '../../errors.js';
import type { SourceLocation } from './types.js';

/**
 * A Dockerfile that cannot be built as written. The message is one line that names the place
 * and the fix, as a compiler would: `Dockerfile:12: unknown instruction "RUNN" (did you mean RUN?)`.
 */
export class DockerfileError extends TsdockError {
  readonly location: SourceLocation;

  constructor(location: SourceLocation, detail: string, options?: { cause?: unknown }) {
    super('INVALID_ARGUMENT', `${location.file}:${location.line}: ${detail}`, options);
    this.name = 'DockerfileError';
    this.location = location;
  }

  /** Places an error raised later, e.g. by `expandWord`, at the instruction it came from. */
  static at(location: SourceLocation, err: unknown): DockerfileError {
    if (err instanceof DockerfileError) return err;
    const detail = err instanceof Error ? err.message : String(err);
    return new DockerfileError(location, detail, { cause: err });
  }
}
