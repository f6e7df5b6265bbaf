/**
 * Shell pattern matching (`*`, `?`, `[a-z]`, `[!x]`, `\x`) for the `${VAR#pattern}`,
 * `${VAR%pattern}` and `${VAR/pattern/new}` expansions: sh(1)'s rules, a pattern matching a whole
 * string. Values are short, so trying each cut in turn stays cheap and keeps the semantics plain.
 */

/** `text` as a pattern that matches only itself. */
export function literalPattern(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}

/** `value` without its shortest (or longest) prefix that `pattern` matches. */
export function removePrefix(value: string, pattern: string, longest: boolean): string {
  const matches = wholeMatcher(pattern);
  for (const end of cuts(value.length, longest)) if (matches(value.slice(0, end))) return value.slice(end);
  return value;
}

/** `value` without its shortest (or longest) suffix that `pattern` matches. */
export function removeSuffix(value: string, pattern: string, longest: boolean): string {
  const matches = wholeMatcher(pattern);
  for (const length of cuts(value.length, longest)) {
    if (matches(value.slice(value.length - length))) return value.slice(0, value.length - length);
  }
  return value;
}

/** `value` with the first (or every) longest non-empty match of `pattern` replaced. */
export function replaceMatches(value: string, pattern: string, replacement: string, all: boolean): string {
  const matches = wholeMatcher(pattern);
  let result = '';
  let copied = 0;
  for (let start = 0; start < value.length; start++) {
    let end = value.length;
    while (end > start && !matches(value.slice(start, end))) end--;
    if (end === start) continue;
    result += value.slice(copied, start) + replacement;
    copied = end;
    start = end - 1;
    if (!all) break;
  }
  return result + value.slice(copied);
}

/** Cut lengths 0..n, shortest first or longest first. */
function cuts(n: number, longest: boolean): number[] {
  const lengths = Array.from({ length: n + 1 }, (_, i) => i);
  return longest ? lengths.reverse() : lengths;
}

function wholeMatcher(pattern: string): (text: string) => boolean {
  const regexp = new RegExp(`^(?:${regexpSource(pattern)})$`, 's');
  return (text) => regexp.test(text);
}

const escapeRegExp = (text: string): string => text.replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&');

function regexpSource(pattern: string): string {
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern.charAt(i);
    if (ch === '\\') {
      i++;
      source += escapeRegExp(i < pattern.length ? pattern.charAt(i) : '\\');
    } else if (ch === '*') {
      source += '.*';
    } else if (ch === '?') {
      source += '.';
    } else if (ch === '[' && bracketEnd(pattern, i) > i) {
      const end = bracketEnd(pattern, i);
      source += bracketSource(pattern.slice(i + 1, end));
      i = end;
    } else {
      source += escapeRegExp(ch);
    }
  }
  return source;
}

/** Where the bracket expression opened at `open` closes, or -1 (then `[` is literal). */
function bracketEnd(pattern: string, open: number): number {
  let i = open + 1;
  if (pattern.charAt(i) === '!' || pattern.charAt(i) === '^') i++;
  if (pattern.charAt(i) === ']') i++;
  for (; i < pattern.length; i++) {
    if (pattern.charAt(i) === '\\') i++;
    else if (pattern.charAt(i) === ']') return i;
  }
  return -1;
}

/** `[!a-z]` -> `[^a-z]`: ranges kept, everything else literal. */
function bracketSource(body: string): string {
  const negated = body.startsWith('!') || body.startsWith('^');
  let source = '';
  for (let i = negated ? 1 : 0; i < body.length; i++) {
    const ch = body.charAt(i);
    if (ch === '\\') source += `\\${body.charAt(++i)}`;
    else if (ch === '-') source += '-';
    else source += /[\\\]^[]/.test(ch) ? `\\${ch}` : ch;
  }
  return `[${negated ? '^' : ''}${source}]`;
}
