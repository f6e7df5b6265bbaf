/**
 * Runs `tsdock-monitor --leave` on a plan: the monitor clones the process with the caller's stdio
 * (and preserved fds), reports its pid once it is set up (create: waiting for start; exec: exec'd)
 * and exits, leaving the process to the nearest subreaper — containerd's shim, which reaps it as
 * it reaps runc's. Without `leave` (a foreground exec) the monitor stays and reports the exit.
 */
import { spawn, type StdioOptions } from 'node:child_process';
import type { Duplex } from 'node:stream';
import { TsdockError } from '../errors.js';
import { monitorPath } from '../native.js';
import { startError, type StatusLine } from '../runtime/spawn.js';

export interface LaunchOptions {
  /** Exit once the process is set up; otherwise wait for its exit. */
  leave: boolean;
  /** fds 3 .. 3+N-1 of this process, passed on. */
  preserveFds: number;
  /** Where the pty master of a plan with a terminal is sent. */
  consoleSocket?: string;
  /**
   * A plan with `runtimeHooks`: runs them with the process's pid once its namespaces exist; the
   * process goes on when this returns, and is killed when it throws.
   */
  onRuntimeHooks?: (pid: number) => void;
}

/** The process's pid (leave), or its exit code (128+N for signal N) when the monitor stays. */
export function launch(planFile: string, opts: LaunchOptions): Promise<number> {
  const preserved = Array.from({ length: opts.preserveFds }, (_, i) => i + 3);
  const statusFd = 3 + opts.preserveFds;
  const stdio: StdioOptions = ['inherit', 'inherit', 'inherit', ...preserved, 'pipe'];
  const args = [
    ...(opts.leave ? ['--leave'] : []),
    ...(opts.consoleSocket === undefined ? [] : ['--console-socket', opts.consoleSocket]),
    '--status-fd',
    String(statusFd),
    planFile,
  ];
  const child = spawn(monitorPath(), args, { stdio });
  // libuv makes a 'pipe' a unix socketpair: the monitor reads its answers on the same fd.
  const status = child.stdio[statusFd] as Duplex;
  return new Promise((resolve, reject) => {
    // The first of these settles the promise; a promise ignores the later ones. Lines are split
    // here rather than by node:readline, which this short-lived process would load only for this.
    let pending = '';
    status.setEncoding('utf8');
    status.on('data', (chunk: string) => {
      const lines = (pending + chunk).split('\n');
      pending = lines.pop() ?? '';
      for (const text of lines) {
        const line = JSON.parse(text) as StatusLine;
        if (line.type === 'runtime-hooks') {
          try {
            opts.onRuntimeHooks?.(line.pid);
            status.write('g');
          } catch (err) {
            reject(err instanceof Error ? err : new TsdockError('START_FAILED', String(err)));
            // EOF on its status socket: the monitor kills the process, then reports and exits.
            status.destroy();
          }
        } else if (line.type === 'error') reject(startError(line));
        else if (line.type === 'started' && opts.leave) resolve(line.pid);
        else if (line.type === 'exited') resolve(line.exitCode);
      }
    });
    child.on('error', (err) => {
      reject(new TsdockError('START_FAILED', `cannot start tsdock-monitor: ${err.message}`, { cause: err }));
    });
    child.on('close', (code, sig) => {
      reject(new TsdockError('START_FAILED', `tsdock-monitor ended unexpectedly (${sig ?? `exit ${String(code)}`})`));
    });
  });
}

/** runc's rule: a terminal needs a console socket to send its master to, and the other way round. */
export function checkTerminal(terminal: boolean, consoleSocket: string | undefined): void {
  if (terminal && consoleSocket === undefined) {
    throw new TsdockError('INVALID_ARGUMENT', 'process.terminal is set: give --console-socket to receive the pty');
  }
  if (!terminal && consoleSocket !== undefined) {
    throw new TsdockError('INVALID_ARGUMENT', '--console-socket needs process.terminal set');
  }
}
