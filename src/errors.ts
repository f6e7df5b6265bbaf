/**
 * Every error tsdock throws across its public API is a {@link TsdockError} with a stable `code`
 * that callers branch on; the CLI maps codes to Docker's exit statuses (see `exitStatusOf`).
 */

export type ErrorCode =
  /** A flag, option or argument is malformed (bad `--memory`, bad `-v`). */
  | 'INVALID_ARGUMENT'
  /** An image reference names nothing in the store. */
  | 'IMAGE_NOT_FOUND'
  /** An image archive, manifest, config or layer is malformed or fails verification. */
  | 'INVALID_IMAGE'
  /** A container name or id names nothing. */
  | 'CONTAINER_NOT_FOUND'
  /** The request conflicts with the container's state or another container (name in use, running). */
  | 'CONFLICT'
  /** The store on disk cannot be read or written. */
  | 'STORE'
  /** Setting up the container failed before `execve` (mount, pivot_root, cgroups…). */
  | 'START_FAILED'
  /** The command exists but cannot be executed (Docker: 126). */
  | 'COMMAND_NOT_EXECUTABLE'
  /** The command was not found in the container (Docker: 127). */
  | 'COMMAND_NOT_FOUND'
  /** The host lacks something tsdock needs (native build, kernel feature, cgroup controller). */
  | 'HOST_UNSUPPORTED'
  /** A network name or id names nothing. */
  | 'NETWORK_NOT_FOUND'
  /** A pod name or id names nothing. */
  | 'POD_NOT_FOUND'
  /** A volume name names nothing. */
  | 'VOLUME_NOT_FOUND'
  /** Setting up a network, link, address or nftables rule failed (the tool's message says why). */
  | 'NETWORK'
  /** A registry could not be reached, or answered with an error or something malformed. */
  | 'REGISTRY'
  /** A registry refused the credentials, or has none for this request (HTTP 401/403). */
  | 'UNAUTHORIZED'
  /** A build step failed (a RUN exited non-zero, a COPY source is missing); `docker build` exits 1. */
  | 'BUILD_FAILED';

export class TsdockError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TsdockError';
    this.code = code;
  }
}

/**
 * A failure the native side reported from the container's set-up, as (step, errno, path).
 * Its message reads like `mount /proc: permission denied`.
 */
export class StartError extends TsdockError {
  readonly step: string;
  readonly errno: number;
  readonly path: string;

  constructor(code: ErrorCode, step: string, errno: number, path: string, reason: string) {
    super(code, [step, path].filter((s) => s !== '').join(' ') + (reason === '' ? '' : `: ${reason}`));
    this.name = 'StartError';
    this.step = step;
    this.errno = errno;
    this.path = path;
  }
}

/** The `code` of a failed system call's error ('ENOENT'…), if it is one. */
export function errnoCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

/** Docker's exit status for a failure of tsdock itself, by error code. */
export function exitStatusOf(err: unknown): number {
  if (err instanceof TsdockError) {
    if (err.code === 'COMMAND_NOT_EXECUTABLE') return 126;
    if (err.code === 'COMMAND_NOT_FOUND') return 127;
    if (err.code === 'BUILD_FAILED') return 1;
  }
  return 125;
}
