/**
 * Go's `filepath.Match` for one path segment (what Docker matches COPY sources with): `*` any
 * run of characters, `?` one character, `[a-z]`/`[^a-z]` a class, `\` escapes the next one.
 * `*` never crosses `/` because segments are matched one at a time.
 */
import { TsdockError } from '../errors.js';

const escapeRegex = (c: string): string => c.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');

/** Whether a segment has glob syntax at all (plain names are looked up, not listed). */
export function hasGlob(segment: string): boolean {
  return /[*?[\\]/.test(segment);
}

/** A segment pattern as a regular expression anchored on both ends. */
export function segmentPattern(pattern: string): RegExp {
  let out = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern.charAt(i);
    if (c === '*') out += '.*';
    else if (c === '?') out += '.';
    else if (c === '\\' && i + 1 < pattern.length) out += escapeRegex(pattern.charAt(++i));
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 2);
      if (end < 0) throw new TsdockError('INVALID_ARGUMENT', `bad pattern ${JSON.stringify(pattern)}: unclosed [`);
      let body = pattern.slice(i + 1, end);
      const negate = body.startsWith('^') || body.startsWith('!');
      if (negate) body = body.slice(1);
      out += `[${negate ? '^' : ''}${body.replace(/\\/g, '\\\\').replace(/]/g, '\\]')}]`;
      i = end;
    } else out += escapeRegex(c);
  }
  return new RegExp(`^${out}$`, 's');
}
