/**
 * `--detach-keys`: Docker's grammar (`ctrl-p,ctrl-q`, the default; a key is one character or
 * `ctrl-` and one of `a`–`z`, `@`, `[`, `\`, `]`, `^`, `_`) and the matcher that spots the
 * sequence in what the user types.
 */
import { TsdockError } from '../errors.js';

export const DEFAULT_DETACH_KEYS = 'ctrl-p,ctrl-q';

/** The control characters `ctrl-X` names, as a terminal sends them (X's code & 0x1f). */
const CTRL_NAMES = '@abcdefghijklmnopqrstuvwxyz[\\]^_';

/** The bytes of a `--detach-keys` value; an empty value turns detaching off (no bytes). */
export function parseDetachKeys(spec: string): Buffer {
  if (spec === '') return Buffer.alloc(0);
  return Buffer.from(
    spec.split(',').map((key) => {
      if (key.length === 1 && key.charCodeAt(0) < 0x80) return key.charCodeAt(0);
      const name = key.startsWith('ctrl-') && key.length === 6 ? key.charAt(5) : '';
      const index = name === '' ? -1 : CTRL_NAMES.indexOf(name);
      if (index < 0) {
        throw new TsdockError(
          'INVALID_ARGUMENT',
          `invalid --detach-keys "${spec}": "${key}" is not a character or ctrl-<a-z, @, [, \\, ], ^ or _>`,
        );
      }
      return index;
    }),
  );
}

/**
 * Watches keystrokes for the detach sequence. Bytes that could start it are held back until the
 * sequence either completes (then they are swallowed) or breaks (then they go on, in order).
 */
export class DetachMatcher {
  private held = 0;

  constructor(private readonly keys: Buffer) {}

  /** What to pass on from this chunk, and whether the sequence completed (nothing after it counts). */
  feed(chunk: Buffer): { forward: Buffer; detach: boolean } {
    if (this.keys.length === 0) return { forward: chunk, detach: false };
    const out: number[] = [];
    for (const byte of chunk) {
      if (byte === this.keys[this.held]) {
        this.held++;
        if (this.held === this.keys.length) return { forward: Buffer.from(out), detach: true };
        continue;
      }
      // The sequence broke: what was held goes on, and this byte may start it afresh.
      out.push(...this.keys.subarray(0, this.held));
      this.held = byte === this.keys[0] ? 1 : 0;
      if (this.held === 0) out.push(byte);
    }
    return { forward: Buffer.from(out), detach: false };
  }
}
