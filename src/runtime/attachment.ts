/**
 * An attach connection (attach-protocol.ts) as Node streams: what the container prints comes out
 * of `stdout` and `stderr`, what is written to `stdin` goes to its stdin or terminal, and `exit`
 * says how it ended. Output is read from the connection only as fast as its readers take it.
 */
import { Readable, Writable, type Duplex } from 'node:stream';
import { closeStdinFrame, inputFrames, MonitorFrameReader, resizeFrame } from './attach-protocol.js';

/** Which of a container's streams an attachment carries (all by default). */
export interface AttachStreams {
  /** Pass input on; only for a container created with `interactive` (`-i`). */
  stdin?: boolean;
  stdout?: boolean;
  /** A container with a terminal has none: its terminal prints on `stdout`. */
  stderr?: boolean;
}

/**
 * One client of a container's monitor. The container never waits for a client that attached to
 * a running container: output it reads too slowly is lost to it (whole chunks), never to the log.
 */
export class ContainerAttachment {
  /** What the container prints on stdout (or its terminal), or `null` when not asked for. */
  readonly stdout: Readable | null;
  /** What it prints on stderr, or `null` when not asked for. */
  readonly stderr: Readable | null;
  /**
   * Input for the container, or `null` when not asked for. Ending it closes the container's
   * stdin (it reads EOF) when it was created `stdinOnce`; otherwise the stdin stays open for the
   * next client. A terminal has no such end.
   */
  readonly stdin: Writable | null;
  /** The container's exit code, or `undefined` when the attachment ended first (detached, lost). */
  readonly exit: Promise<number | undefined>;

  private readonly connection: Duplex;

  /** Wraps an attach connection; `tty` says whether the container has a terminal. */
  constructor(
    connection: Duplex,
    readonly tty: boolean,
    streams: AttachStreams = {},
  ) {
    this.connection = connection;
    const output = (wanted: boolean | undefined): Readable | null =>
      wanted === false ? null : new Readable({ read: () => connection.resume() });
    this.stdout = output(streams.stdout);
    this.stderr = tty ? null : output(streams.stderr);
    this.stdin =
      streams.stdin === true
        ? new Writable({
            write: (chunk: Buffer, _encoding, done) => connection.write(inputFrames(chunk), done),
            final: (done) => connection.write(closeStdinFrame(), done),
          })
        : null;
    this.exit = new Promise((resolve) => {
      const reader = new MonitorFrameReader();
      let exitCode: number | undefined;
      connection.on('data', (chunk: Buffer) => {
        try {
          for (const frame of reader.push(chunk)) {
            if (frame.type === 'exit') exitCode = frame.exitCode;
            const to = frame.type === 'exit' ? null : frame.stream === 'stdout' ? this.stdout : this.stderr;
            // A reader that has enough for now holds the connection until it reads on.
            if (to !== null && frame.type === 'output' && !to.push(frame.data)) connection.pause();
          }
        } catch {
          connection.destroy();
        }
      });
      // An error is followed by close.
      connection.on('error', () => undefined);
      connection.on('close', () => {
        this.stdout?.push(null);
        this.stderr?.push(null);
        resolve(exitCode);
      });
    });
  }

  /** A new window size for the container's terminal (none without one). */
  resize(rows: number, cols: number): void {
    if (this.tty) this.connection.write(resizeFrame(rows, cols));
  }

  /** Ends the attachment; the container runs on. */
  detach(): void {
    this.connection.destroy();
  }
}
