/**
 * The user's terminal joined to a container's pty over an attach connection
 * (`runtime/attach-protocol.ts`): keystrokes go in raw, the container's output comes out as it
 * is, the window size follows SIGWINCH, and the detach keys end the session with the container
 * still running. The local terminal is restored on every way out: the container's exit, detach,
 * a lost connection, a signal, an exception.
 */
import { constants } from 'node:os';
import type { Duplex } from 'node:stream';
import { TsdockError } from '../errors.js';
import type { StartedContainer } from '../runtime/container.js';
import { inputFrames, MonitorFrameReader, resizeFrame } from '../runtime/attach-protocol.js';
import { native } from '../native.js';
import { DetachMatcher } from './detach-keys.js';

export interface SessionOptions {
  /** Pass keystrokes on (`-i`); the local terminal is put in raw mode for it. */
  stdin: boolean;
  detachKeys: Buffer;
  /**
   * SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 sent to this process end the session;
   * otherwise the caller has its own handlers (`run` forwards them to the container).
   */
  endOnSignal: boolean;
}

export type SessionEnd =
  | { kind: 'exited'; exitCode: number }
  | { kind: 'detached' }
  /** The monitor went away without saying how the container ended. */
  | { kind: 'lost' }
  | { kind: 'signal'; signal: NodeJS.Signals };

const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];

export function runTerminalSession(connection: Duplex, options: SessionOptions): Promise<SessionEnd> {
  const { stdin, stdout } = process;
  const raw = options.stdin && stdin.isTTY;
  const matcher = new DetachMatcher(options.detachKeys);
  const reader = new MonitorFrameReader();
  let exitCode: number | undefined;

  return new Promise<SessionEnd>((resolve) => {
    let ended = false;
    const restore = (): void => {
      if (raw && stdin.isRaw) stdin.setRawMode(false);
    };
    const end = (result: SessionEnd): void => {
      if (ended) return;
      ended = true;
      restore();
      stdin.off('data', onKeys);
      stdin.pause();
      stdout.off('resize', onResize);
      for (const signal of SIGNALS) process.off(signal, onSignal);
      process.off('exit', restore);
      connection.off('data', onOutput);
      if (result.kind !== 'exited') connection.destroy();
      resolve(result);
    };

    function onKeys(chunk: Buffer): void {
      const { forward, detach } = matcher.feed(chunk);
      if (forward.length > 0) connection.write(inputFrames(forward));
      if (detach) end({ kind: 'detached' });
    }
    function onResize(): void {
      connection.write(resizeFrame(stdout.rows, stdout.columns));
    }
    function onOutput(chunk: Buffer): void {
      try {
        for (const frame of reader.push(chunk)) {
          if (frame.type === 'output') stdout.write(frame.data);
          else exitCode = frame.exitCode;
        }
      } catch {
        end({ kind: 'lost' });
      }
    }
    function onSignal(signal: NodeJS.Signals): void {
      end({ kind: 'signal', signal });
    }

    if (options.endOnSignal) for (const signal of SIGNALS) process.on(signal, onSignal);
    // The last resort: a crash of this process must not leave the user's terminal raw.
    process.on('exit', restore);
    connection.on('data', onOutput);
    connection.on('error', () => {
      end({ kind: 'lost' });
    });
    connection.on('close', () => {
      end(exitCode === undefined ? { kind: 'lost' } : { kind: 'exited', exitCode });
    });
    if (stdout.isTTY) {
      onResize();
      stdout.on('resize', onResize);
    }
    if (options.stdin) {
      if (raw) {
        stdin.setRawMode(true);
        // One terminal: stdin's settings are stdout's too. Bytes must reach it as they left the container.
        native().rawOutput(0);
      }
      stdin.on('data', onKeys);
      stdin.resume();
    }
  });
}

/** `-it` needs keystrokes from a terminal, as Docker insists too. */
export function checkInputIsTerminal(): void {
  if (!process.stdin.isTTY) {
    throw new TsdockError('INVALID_ARGUMENT', 'the input device is not a TTY: drop -t, or run from a terminal');
  }
}

/** The local terminal's size, for a pty created now. */
export function localTerminalSize(): { rows: number; cols: number } | undefined {
  return process.stdout.isTTY ? { rows: process.stdout.rows, cols: process.stdout.columns } : undefined;
}

/** The exit status a session ends with when it did not see the container's: 0 after a detach. */
export function statusOfEnd(end: Exclude<SessionEnd, { kind: 'exited' }>): number | undefined {
  if (end.kind === 'detached') return 0;
  if (end.kind === 'signal') return 128 + constants.signals[end.signal];
  return undefined;
}

/**
 * A container started attached with a terminal (`run -t`, `start -a`): the session, then its exit
 * code once it is recorded (and the container removed, with `autoRemove`); 0 after a detach,
 * which leaves it running.
 */
export async function sessionWithStarted(
  container: StartedContainer,
  options: SessionOptions,
  autoRemove: boolean,
): Promise<number> {
  const connection = container.monitor.attach;
  if (connection === null) throw new TsdockError('START_FAILED', 'the monitor offered no terminal connection');
  const end = await runTerminalSession(connection, options);
  if (end.kind === 'detached' || end.kind === 'signal') {
    container.monitor.detach();
    return statusOfEnd(end) ?? 0;
  }
  return (await (autoRemove ? container.waitAndRemove() : container.wait())).exitCode;
}
