/** Signals as runc's `kill` takes them: a number, or a name with or without SIG. Pure. */
import { constants } from 'node:os';
import { TsdockError } from '../errors.js';

export function parseSignal(text: string | undefined): number {
  const given = text ?? 'SIGTERM';
  if (/^\d+$/.test(given)) {
    const n = Number(given);
    if (n >= 1 && n <= 64) return n;
  } else {
    const name = given.toUpperCase().replace(/^SIG/, '');
    // The real-time signals by glibc's numbering (SIGRTMIN is 34: glibc keeps 32 and 33).
    const rt = /^RT(MIN|MAX)(?:([+-])(\d+))?$/.exec(name);
    if (rt !== null) {
      const n = (rt[1] === 'MIN' ? 34 : 64) + (rt[2] === '-' ? -1 : 1) * Number(rt[3] ?? 0);
      if (n >= 34 && n <= 64) return n;
    }
    const n = (constants.signals as Record<string, number | undefined>)[`SIG${name}`];
    if (n !== undefined) return n;
  }
  throw new TsdockError('INVALID_ARGUMENT', `invalid signal "${given}": use a number or a name like TERM or SIGKILL`);
}
