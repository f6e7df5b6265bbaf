/**
 * Starts `tsdock-monitor` on an encoded plan and turns its status lines (fd 3, one JSON object
 * per line; protocol in native/src/monitor/main.c) into promises and typed errors.
 */
import { closeSync } from 'node:fs';
import { Socket } from 'node:net';
import { constants } from 'node:os';
import { createInterface } from 'node:readline';
import type { Duplex, Readable } from 'node:stream';
import { StartError, TsdockError, type ErrorCode } from '../errors.js';
import { monitorPath, native, type SpawnedProcess } from '../native.js';
import { openChildFds, type ChildFdMode, type ChildFds } from './child-fds.js';
import type { ProcessIdentity } from './proc-stat.js';

/** How a container's main process ended. `exitCode` follows Docker: 128+N for signal N. */
export interface ExitStatus {
  exitCode: number;
  signal: number;
  oomKilled: boolean;
}

/** One line the monitor writes on its status fd. */
export type StatusLine =
  | { type: 'runtime-hooks'; pid: number }
  | { type: 'started'; pid: number; startTime: string; monitorStartTime: string }
  | { type: 'error'; step: string; errno: number; path: string; message: string }
  | ({ type: 'exited'; cgroupRemoved: boolean } & ExitStatus);

/** Where the container's stdio goes: the caller's own fds, pipes, or nothing. */
export interface StdioMode {
  stdin: 'inherit' | 'pipe' | 'ignore';
  output: 'inherit' | 'pipe' | 'ignore';
}

/** A json-file log the monitor writes the container's stdout and stderr to, instead of `output`. */
export interface MonitorLog {
  path: string;
  /** Rotate before the file would pass this many bytes; unbounded when absent. */
  maxSize?: number;
  /** Files kept in all, the current one included (default 1). */
  maxFile?: number;
}

/**
 * Where attach clients connect, and whether the caller is one from the start. Without a terminal
 * the output clients get is what the log drains, so it needs a {@link MonitorLog}.
 */
export interface MonitorAttach {
  /** The unix socket the monitor listens on. */
  socket?: string;
  /**
   * Attach the caller from the start (its end is the handle's `attach`): no output is missed, and
   * output the caller has no room for waits in the container's pipes or pty.
   */
  client?: boolean;
  /** Without a terminal: the container's stdin is a pipe the clients write to (`-i`). */
  openStdin?: boolean;
  /** With `openStdin`: a client's end of input closes that pipe (Docker's StdinOnce). */
  stdinOnce?: boolean;
}

/** The monitor's fd of its status lines, after stdio. */
const STATUS_FD = 3;
/** The monitor's fd of the caller's attach connection (after stdio and the status fd). */
const ATTACH_FD = 4;

function attachArgs(attach: MonitorAttach | undefined): string[] {
  return [
    ...(attach?.socket === undefined ? [] : ['--attach', attach.socket]),
    ...(attach?.client === true ? ['--attach-fd', String(ATTACH_FD)] : []),
    ...(attach?.openStdin === true ? ['--open-stdin'] : []),
    ...(attach?.openStdin === true && attach.stdinOnce === true ? ['--stdin-once'] : []),
  ];
}

function logArgs(log: MonitorLog | undefined): string[] {
  if (log === undefined) return [];
  const args = ['--log', log.path];
  if (log.maxSize !== undefined) args.push('--log-max-size', String(log.maxSize));
  if (log.maxFile !== undefined) args.push('--log-max-file', String(log.maxFile));
  return args;
}

export interface MonitorHandle {
  /** The monitor's own pid. */
  readonly pid: number;
  /** The container's init pid (host view), once `execve` succeeded. Rejects with a StartError. */
  readonly started: Promise<number>;
  /**
   * Once `started` resolved: the init and the monitor by pid and start time, as the monitor read
   * them (undefined where it could not).
   */
  readonly identities: { init?: ProcessIdentity; monitor?: ProcessIdentity };
  /** The exit status, once the container's init exited and the monitor removed what it could. */
  readonly exited: Promise<ExitStatus>;
  /** Once `exited` resolved: whether the monitor removed all of the container's cgroup dirs. */
  readonly cgroupRemoved: boolean;
  /** Sends a signal to the monitor, which forwards it to the container's init. */
  signal(signal: NodeJS.Signals): void;
  /**
   * Lets the monitor run on without this process: closes the status socket (the monitor ignores a
   * reader that went away) and the attach connection, and lets Node exit while the monitor lives
   * (should it end first, it is still reaped). `exited` never settles.
   */
  detach(): void;
  /**
   * Tells a monitor started with `--await-cgroup` that the container's cgroup is made: it starts
   * the container now. (Ending the monitor instead, with `signal`, runs nothing.)
   */
  cgroupReady(): void;
  /** The container's stdio when the caller asked for pipes. */
  readonly stdin: NodeJS.WritableStream | null;
  readonly stdout: Readable | null;
  readonly stderr: Readable | null;
  /** The caller's attach connection (attach-protocol.ts), when it asked to be a client from the start. */
  readonly attach: Duplex | null;
}

const ENOENT = 2;
const EACCES = 13;

/** A start time the monitor read ("0": it could not) for `pid`. */
function identity(pid: number | undefined, startTime: string): ProcessIdentity | undefined {
  return pid === undefined || startTime === '0' ? undefined : { pid, startTime };
}

/** Docker's convention: a command that is missing is 127, one that cannot be executed is 126. */
function codeOfFailure(step: string, errno: number): ErrorCode {
  if (step !== 'exec') return 'START_FAILED';
  return errno === ENOENT ? 'COMMAND_NOT_FOUND' : 'COMMAND_NOT_EXECUTABLE';
}

/** strerror's text, lower-cased the way Go and Docker print it ("permission denied"). */
function reason(message: string): string {
  return message.charAt(0).toLowerCase() + message.slice(1);
}

/** The typed error of a monitor's `error` line (127 and 126 for exec failures, as Docker). */
export function startError(line: Extract<StatusLine, { type: 'error' }>): StartError {
  const code = codeOfFailure(line.step, line.errno);
  // errno 0: the path says it all (a hook's "hook /x failed: exit status 1").
  const detail =
    code === 'COMMAND_NOT_FOUND'
      ? `${line.path}: executable file not found in $PATH`
      : line.errno === 0
        ? ''
        : reason(line.message) + (line.errno === EACCES && line.step === 'exec' ? ' (is it executable?)' : '');
  const step = code === 'COMMAND_NOT_FOUND' ? 'exec' : line.step;
  const path = code === 'COMMAND_NOT_FOUND' ? '' : line.path;
  return new StartError(code, step, line.errno, path, detail);
}

interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(err: Error): void;
}

/** A promise with its settle functions; a rejection nobody awaits is not reported as unhandled. */
function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (err: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

/** The name of signal number `signal` (`SIGKILL`), or the number if it has none. */
function signalName(signal: number): string {
  const names: [string, number][] = Object.entries(constants.signals);
  return names.find(([, n]) => n === signal)?.[0] ?? String(signal);
}

/** A stream over the caller's end of a socketpair (child-fds.ts), or null without one. */
function socketOf(fd: number | undefined, direction: 'readable' | 'writable' | 'duplex'): Socket | null {
  if (fd === undefined) return null;
  return new Socket({ fd, readable: direction !== 'writable', writable: direction !== 'readable' });
}

/**
 * What the caller made for the container's first run, each an fd the monitor gets a copy of:
 * spawnMonitor closes them once it has.
 */
export interface MadeAhead {
  /** A network namespace to join instead of making one (`--netns-fd`). */
  netns?: number;
  /** A detached mount to attach onto the rootfs instead of mounting it (`--rootfs-fd`). */
  rootfs?: number;
}

/**
 * Spawns the monitor in a session of its own, so that a terminal's Ctrl-C reaches the container
 * once, through the caller's `signal()`, and not a second time through the process group.
 * The addon spawns it (posix_spawn: no fork of the whole Node process), off Node's thread, and
 * reaps it: the handle is there at once, and what it is told before the spawn has completed
 * (signals, the cgroup's byte) reaches the monitor once it runs.
 */
export function spawnMonitor(
  planFile: string,
  stdio: StdioMode,
  log?: MonitorLog,
  attach?: MonitorAttach,
  lifecycleArgs: string[] = [],
  madeAhead: MadeAhead = {},
): MonitorHandle {
  const path = monitorPath();
  // fd 3 the status lines; fd 4 a duplex connection to the monitor (both unix sockets).
  const modes: ChildFdMode[] = [stdio.stdin, stdio.output, stdio.output, 'pipe'];
  if (attach?.client === true) modes.push('pipe');
  // Then what was made ahead for the container, after the fds above.
  const aheadFds: number[] = [];
  const aheadArgs = (['netns', 'rootfs'] as const).flatMap((kind) => {
    const fd = madeAhead[kind];
    if (fd === undefined) return [];
    aheadFds.push(fd);
    return [`--${kind}-fd`, String(modes.length + aheadFds.length - 1)];
  });
  const argv = [path, ...logArgs(log), ...attachArgs(attach), ...aheadArgs, ...lifecycleArgs, planFile];

  const started = deferred<number>();
  const exited = deferred<ExitStatus>();
  const fail = (err: Error): void => {
    started.reject(err);
    exited.reject(err);
  };

  let settled = false;
  let cgroupRemoved = false;
  const identities: { init?: ProcessIdentity; monitor?: ProcessIdentity } = {};
  let detached = false;
  let statusClosed = false;
  // How the monitor ended ("SIGKILL", "exit 1"), once reaped.
  let ended: string | undefined;
  // Its last status line is read only once the status socket closed, which may come after.
  const checkEnded = (): void => {
    if (ended !== undefined && statusClosed && !settled && !detached) {
      fail(new TsdockError('START_FAILED', `tsdock-monitor ended unexpectedly (${ended})`));
    }
  };
  const cannotStart = (err: unknown): void => {
    fail(new TsdockError('START_FAILED', `cannot start tsdock-monitor: ${(err as Error).message}`, { cause: err }));
  };
  let child: SpawnedProcess | undefined;
  // Sent before the spawn completed: sent once it has.
  const pendingSignals: NodeJS.Signals[] = [];
  const signalChild = (signal: NodeJS.Signals): void => {
    // Once reaped, the pid may be another process's.
    if (child === undefined || ended !== undefined) return;
    try {
      process.kill(child.pid, signal);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
    }
  };
  let fds: ChildFds | undefined;
  try {
    fds = openChildFds(modes);
  } catch (err) {
    cannotStart(err);
  }
  // Settles (never rejects) once the spawn is over and the fds given are closed.
  const spawnWith = async (opened: ChildFds | undefined): Promise<void> => {
    try {
      if (opened === undefined) return;
      child = await native().spawnProcess(path, argv, [...opened.child, ...aheadFds], (code, signal) => {
        ended = signal === null ? `exit ${code ?? '?'}` : signalName(signal);
        checkEnded();
      });
      if (detached) child.unref();
      for (const signal of pendingSignals.splice(0)) signalChild(signal);
    } catch (err) {
      cannotStart(err);
    } finally {
      opened?.closeChildEnds();
      for (const fd of aheadFds) closeSync(fd);
    }
  };
  const spawned = spawnWith(fds);

  const parentEnds = fds?.parent ?? [];
  // Duplex: the status lines come in, a byte for --await-cgroup goes out.
  const status = socketOf(parentEnds[STATUS_FD], 'duplex');
  if (status !== null) {
    // A monitor that ended early refuses the byte (EPIPE); `started` and `exited` report its end.
    status.on('error', () => undefined);
    // Each line once the spawn has completed (the monitor's pid known), in order.
    createInterface({ input: status }).on('line', (text) => {
      void spawned.then(() => {
        onStatusLine(JSON.parse(text) as StatusLine);
      });
    });
    const onStatusLine = (line: StatusLine): void => {
      if (line.type === 'started') {
        identities.init = identity(line.pid, line.startTime);
        identities.monitor = identity(child?.pid, line.monitorStartTime);
        started.resolve(line.pid);
      } else if (line.type === 'error') {
        settled = true;
        fail(startError(line));
      } else if (line.type === 'exited') {
        settled = true;
        cgroupRemoved = line.cgroupRemoved;
        exited.resolve({ exitCode: line.exitCode, signal: line.signal, oomKilled: line.oomKilled });
      }
    };
    status.on('close', () => {
      statusClosed = true;
      checkEnded();
    });
  }
  // Unread until the caller reads it: a quick container's output and exit frame wait there.
  const attachConnection = socketOf(parentEnds[ATTACH_FD], 'duplex');

  return {
    get pid() {
      return child?.pid ?? -1;
    },
    started: started.promise,
    identities,
    exited: exited.promise,
    get cgroupRemoved() {
      return cgroupRemoved;
    },
    signal: (signal) => {
      if (child === undefined) pendingSignals.push(signal);
      else signalChild(signal);
    },
    detach: () => {
      detached = true;
      status?.destroy();
      attachConnection?.destroy();
      child?.unref();
    },
    cgroupReady: () => {
      if (status?.writable === true) status.write('c');
    },
    stdin: socketOf(parentEnds[0], 'writable'),
    stdout: socketOf(parentEnds[1], 'readable'),
    stderr: socketOf(parentEnds[2], 'readable'),
    attach: attachConnection,
  };
}
