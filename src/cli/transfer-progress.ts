/**
 * Renders pull/push progress events the way Docker does: on a TTY one line per layer, redrawn in
 * place (`a1b2c3d4e5f6: Downloading [=====>    ]  12.3MB/45.6MB  8.1MB/s`); otherwise a plain
 * line whenever a layer changes status; nothing with `--quiet`.
 */
import type { LayerStatus, ProgressEvent } from '../index.js';
import { humanSize } from './render.js';

const LABEL: Record<LayerStatus, string> = {
  waiting: 'Waiting',
  exists: 'Already exists',
  downloading: 'Downloading',
  resuming: 'Resuming download',
  verifying: 'Verifying Checksum',
  extracting: 'Extracting',
  complete: 'Pull complete',
  pushing: 'Pushing',
  mounted: 'Mounted from another repository',
  pushed: 'Pushed',
};

interface Row {
  id: string;
  status: LayerStatus;
  current?: number | undefined;
  total?: number | undefined;
  started: number;
}

const BAR_WIDTH = 50;
const REDRAW_MS = 100;

function bar(current: number, total: number): string {
  const filled = total === 0 ? BAR_WIDTH : Math.min(BAR_WIDTH, Math.floor((current / total) * BAR_WIDTH));
  const arrow = filled < BAR_WIDTH ? '>' : '';
  return `[${'='.repeat(filled)}${arrow}${' '.repeat(BAR_WIDTH - filled - arrow.length)}]`;
}

export class TransferProgress {
  private readonly rows = new Map<string, Row>();
  private drawn = 0;
  private lastDraw = 0;

  constructor(
    private readonly out: NodeJS.WriteStream,
    private readonly quiet: boolean,
  ) {}

  private get tty(): boolean {
    return this.out.isTTY;
  }

  /** The listener to hand to `pullImage`/`pushImage`. */
  readonly listener = (event: ProgressEvent): void => {
    if (this.quiet || event.type !== 'layer') return;
    const id = event.digest.slice('sha256:'.length, 'sha256:'.length + 12);
    const row = this.rows.get(id);
    const changed = row?.status !== event.status;
    const started = row !== undefined && !changed ? row.started : Date.now();
    this.rows.set(id, { id, status: event.status, current: event.current, total: event.total, started });
    if (!this.tty) {
      if (changed && event.status !== 'waiting') this.out.write(`${id}: ${LABEL[event.status]}\n`);
      return;
    }
    if (changed || Date.now() - this.lastDraw >= REDRAW_MS) this.draw();
  };

  private line(row: Row): string {
    const label = `${row.id}: ${LABEL[row.status]}`;
    if (
      row.current === undefined ||
      row.total === undefined ||
      !['downloading', 'resuming', 'pushing'].includes(row.status)
    ) {
      return label;
    }
    const seconds = Math.max((Date.now() - row.started) / 1000, 0.001);
    const rate = `${humanSize(Math.round(row.current / seconds))}/s`;
    return `${label} ${bar(row.current, row.total)}  ${humanSize(row.current)}/${humanSize(row.total)}  ${rate}`;
  }

  private draw(): void {
    this.lastDraw = Date.now();
    let text = this.drawn > 0 ? `\x1b[${this.drawn}A` : '';
    for (const row of this.rows.values()) text += `\x1b[2K${this.line(row)}\n`;
    this.drawn = this.rows.size;
    this.out.write(text);
  }

  /** Draws the final state (a TTY's last redraw may have been skipped by the throttle). */
  finish(): void {
    if (!this.quiet && this.tty && this.rows.size > 0) this.draw();
  }
}
