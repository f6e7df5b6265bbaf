/** The CLI on a real terminal (node-pty): the tests' stand-in for a person at a keyboard. */
import { join } from 'node:path';
import { spawn as spawnPty, type IPty } from '@lydell/node-pty';
import { repoRoot } from './host.js';

const sessions: Terminal[] = [];

/** The CLI on the slave side of a pty we hold the master of. */
export class Terminal {
  private readonly pty: IPty;
  private output = '';
  /** Where waitFor starts looking: output already matched is not matched again. */
  private mark = 0;
  private readonly waiters: (() => void)[] = [];
  readonly exited: Promise<number>;

  constructor(root: string, args: string[], size = { rows: 30, cols: 100 }) {
    this.pty = spawnPty(process.execPath, [join(repoRoot, 'bin', 'tsdock.js'), '--root', root, ...args], {
      rows: size.rows,
      cols: size.cols,
      env: { ...process.env, TERM: 'xterm' },
    });
    this.pty.onData((data) => {
      this.output += data;
      for (const wake of this.waiters.splice(0)) wake();
    });
    this.exited = new Promise((resolve) => {
      this.pty.onExit(({ exitCode }) => {
        resolve(exitCode);
      });
    });
    sessions.push(this);
  }

  /** Resolves once the output after the last match matches; the test's timeout bounds the wait. */
  async waitFor(pattern: RegExp): Promise<RegExpMatchArray> {
    for (;;) {
      const match = pattern.exec(this.output.slice(this.mark));
      if (match !== null) {
        this.mark += match.index + match[0].length;
        return match;
      }
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  transcript(): string {
    return this.output;
  }

  /** Everything printed after the last match. */
  rest(): string {
    return this.output.slice(this.mark);
  }

  type(keys: string): void {
    this.pty.write(keys);
  }

  resize(rows: number, cols: number): void {
    this.pty.resize(cols, rows);
  }

  kill(): void {
    try {
      process.kill(this.pty.pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
}

/** Kills every terminal's CLI; after a failure, prints what each showed (the one clue to a hang). */
export function endTerminals(failed: boolean): void {
  for (const s of sessions.splice(0)) {
    if (failed) console.error(`terminal output: ${JSON.stringify(s.transcript())}`);
    s.kill();
  }
}
