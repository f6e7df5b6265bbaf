import { TsdockError, type ErrorCode } from '../../errors.js';
import type { SourceLocation } from './types.js';

/**
 * A Dockerfile that cannot be built as written. The message is one line that names the place
 * and the fix, as a compiler would: `Dockerfile:12: unknown instruction "RUNN" (did you mean RUN?)`.
 */
export class DockerfileError extends TsdockError {
  readonly location: SourceLocation;

  constructor(location: SourceLocation, detail: string, options?: { cause?: unknown; code?: ErrorCode }) {
    super(options?.code ?? 'INVALID_ARGUMENT', `${location.file}:${location.line}: ${detail}`, options);
    this.name = 'DockerfileError';
    this.location = location;
  }

  /**
   * Places an error raised later, e.g. by `expandWord` or a failing RUN, at the instruction it
   * came from, keeping its code (a failed step still exits 1, a bad word 125).
   */
  static at(location: SourceLocation, err: unknown): DockerfileError {
    if (err instanceof DockerfileError) return err;
    const detail = err instanceof Error ? err.message : String(err);
    const code = err instanceof TsdockError ? err.code : 'INVALID_ARGUMENT';
    return new DockerfileError(location, detail, { cause: err, code });
  }

  /** Runs `fn`, placing any TsdockError it throws at `location` (other errors pass as they are). */
  static async placing<T>(location: SourceLocation, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw err instanceof TsdockError ? DockerfileError.at(location, err) : err;
    }
  }

  /** The synchronous `placing`. */
  static placingSync<T>(location: SourceLocation, fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      throw err instanceof TsdockError ? DockerfileError.at(location, err) : err;
    }
  }
}
