/**
 * The attach protocol between a client and a container's monitor
 * (`native/src/monitor/attach_frame.h` is the other side). Frames both ways:
 * `u8 type | u32 length (LE) | payload`.
 *
 * - client → monitor: `i` input (keystrokes, or bytes for stdin), `w` window size (u16 rows,
 *   u16 cols), `c` close the container's stdin (no payload)
 * - monitor → client: `o` terminal output or stdout, `e` stderr (never with a terminal), `x` exit
 *   code (i32), the last frame before EOF
 *
 * Closing the connection detaches.
 */

const HEADER = 5;
/** The largest payload the monitor accepts. */
export const MAX_FRAME = 16384;

/** What the monitor sends. A terminal's output is all `stdout`. */
export type MonitorFrame =
  { type: 'output'; stream: 'stdout' | 'stderr'; data: Buffer } | { type: 'exit'; exitCode: number };

function frame(type: string, payload: Buffer): Buffer {
  const head = Buffer.alloc(HEADER);
  head.write(type, 0, 'latin1');
  head.writeUInt32LE(payload.length, 1);
  return Buffer.concat([head, payload]);
}

/** Keystrokes for the terminal, in frames of at most {@link MAX_FRAME} bytes. */
export function inputFrames(data: Buffer): Buffer {
  const frames: Buffer[] = [];
  for (let at = 0; at < data.length; at += MAX_FRAME) frames.push(frame('i', data.subarray(at, at + MAX_FRAME)));
  return Buffer.concat(frames);
}

/** The end of the input: the container reads EOF once it has read what came before. */
export function closeStdinFrame(): Buffer {
  return frame('c', Buffer.alloc(0));
}

/** A window size (each at most 65535: RangeError otherwise). */
export function resizeFrame(rows: number, cols: number): Buffer {
  const payload = Buffer.alloc(4);
  payload.writeUInt16LE(rows, 0);
  payload.writeUInt16LE(cols, 2);
  return frame('w', payload);
}

/** Splits the monitor's byte stream into frames, across chunk boundaries. */
export class MonitorFrameReader {
  private pending: Buffer = Buffer.alloc(0);

  /** Frames completed by this chunk; throws RangeError on a frame the monitor cannot send. */
  push(chunk: Buffer): MonitorFrame[] {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const out: MonitorFrame[] = [];
    while (this.pending.length >= HEADER) {
      const type = String.fromCharCode(this.pending[0] ?? 0);
      const length = this.pending.readUInt32LE(1);
      if (!['o', 'e', 'x'].includes(type) || length > MAX_FRAME || (type === 'x' && length !== 4)) {
        throw new RangeError(`malformed attach frame (type ${JSON.stringify(type)}, ${length} bytes)`);
      }
      if (this.pending.length < HEADER + length) break;
      const payload = this.pending.subarray(HEADER, HEADER + length);
      out.push(
        type === 'x'
          ? { type: 'exit', exitCode: payload.readInt32LE(0) }
          : { type: 'output', stream: type === 'o' ? 'stdout' : 'stderr', data: Buffer.from(payload) },
      );
      this.pending = this.pending.subarray(HEADER + length);
    }
    return out;
  }
}
