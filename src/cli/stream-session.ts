/**
 * This process's stdio joined to a container without a terminal (`attach`, `start -a`, `run`):
 * its stdout and stderr come out on ours, kept apart; our stdin goes in when it is attached, the
 * end of it closing the container's stdin if it was created `stdinOnce` (Docker's StdinOnce).
 * As Docker's, no detach keys: without a terminal every byte typed is the container's (moby looks
 * for them only in a TTY's input). Signals are passed on (`--sig-proxy`) or end the session.
 */
import { finished } from 'node:stream/promises';
import { TsdockError } from '../errors.js';
import { ContainerAttachment } from '../runtime/attachment.js';
import type { StartedContainer } from '../runtime/container.js';
import { statusOfEnd, type SessionEnd } from './terminal-session.js';

export interface StreamSessionOptions {
  /** Pass our stdin on (the attachment must carry stdin). */
  stdin: boolean;
  /** `--sig-proxy`: where the signals below go; without it, they end the session. */
  forwardSignal?: (signal: NodeJS.Signals) => void;
}

const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];

/** Settles once the container's output was all written out here, or the session ended first. */
export async function runStreamSession(
  attachment: ContainerAttachment,
  options: StreamSessionOptions,
): Promise<SessionEnd> {
  let early: SessionEnd | undefined;
  // The attachment then ends, as the container's exit would end it.
  const endEarly = (end: SessionEnd): void => {
    early ??= end;
    attachment.detach();
  };
  const onInput = (chunk: Buffer): void => {
    attachment.stdin?.write(chunk);
  };
  const onInputEnd = (): void => {
    attachment.stdin?.end();
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    if (options.forwardSignal === undefined) endEarly({ kind: 'signal', signal });
    else options.forwardSignal(signal);
  };
  // A reader of ours that went away (EPIPE) loses the output, not the session.
  const ignore = (): void => undefined;
  process.stdout.on('error', ignore);
  process.stderr.on('error', ignore);
  attachment.stdout?.pipe(process.stdout, { end: false });
  attachment.stderr?.pipe(process.stderr, { end: false });
  for (const signal of SIGNALS) process.on(signal, onSignal);
  if (options.stdin) {
    process.stdin.on('data', onInput);
    process.stdin.once('end', onInputEnd);
    process.stdin.resume();
  }
  try {
    const outputs = [attachment.stdout, attachment.stderr].filter((s) => s !== null);
    const [exitCode] = await Promise.all([attachment.exit, ...outputs.map((s) => finished(s).catch(() => undefined))]);
    if (early !== undefined) return early;
    return exitCode === undefined ? { kind: 'lost' } : { kind: 'exited', exitCode };
  } finally {
    for (const signal of SIGNALS) process.off(signal, onSignal);
    process.stdin.off('data', onInput);
    process.stdin.off('end', onInputEnd);
    process.stdin.pause();
    process.stdout.off('error', ignore);
    process.stderr.off('error', ignore);
  }
}

/**
 * A container started with this process as its first attach client (`start -a`, `run`): the
 * session (signals are the caller's to forward), then its exit code once it is recorded (and the
 * container removed, with `autoRemove`).
 */
export async function streamsWithStarted(
  container: StartedContainer,
  options: Omit<StreamSessionOptions, 'forwardSignal'> & { stdout?: boolean; stderr?: boolean },
  autoRemove: boolean,
): Promise<number> {
  const connection = container.monitor.attach;
  if (connection === null) throw new TsdockError('START_FAILED', 'the monitor offered no attach connection');
  const { stdin, stdout, stderr } = options;
  const attachment = new ContainerAttachment(connection, false, { stdin, stdout, stderr });
  const end = await runStreamSession(attachment, { ...options, forwardSignal: () => undefined });
  if (end.kind === 'signal') {
    container.monitor.detach();
    return statusOfEnd(end) ?? 0;
  }
  return (await (autoRemove ? container.waitAndRemove() : container.wait())).exitCode;
}
