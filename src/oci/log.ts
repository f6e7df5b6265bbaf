/**
 * The runtime's log, as runc writes it: with `--log FILE` lines are appended there, in logrus's
 * text form or, with `--log-format json`, as `{"level":"error","msg":"…","time":"…"}` — containerd
 * reads the last error line of that file to say why a create failed.
 */
import { appendFileSync } from 'node:fs';

export type LogFormat = 'text' | 'json';
export type Level = 'debug' | 'info' | 'warning' | 'error';

export function logLine(level: Level, msg: string, format: LogFormat, time = new Date()): string {
  const when = time.toISOString();
  if (format === 'json') return JSON.stringify({ level, msg, time: when }) + '\n';
  return `time="${when}" level=${level} msg=${JSON.stringify(msg)}\n`;
}

export class Logger {
  constructor(
    private readonly file: string | undefined,
    private readonly format: LogFormat,
  ) {}

  write(level: Level, msg: string): void {
    if (this.file === undefined) return;
    try {
      appendFileSync(this.file, logLine(level, msg, this.format));
    } catch {
      // A log that cannot be written must not hide the error itself, which stderr still gets.
    }
  }
}
