/**
 * Splitting an instruction's text the ways Docker does before anything is expanded: the keyword,
 * leading `--flags`, quote-aware raw words (ENV, LABEL, ARG), plain whitespace words (FROM, COPY,
 * EXPOSE…) and the JSON (exec) form.
 */
import type { EscapeChar } from './expand.js';

const WHITESPACE = /[\t\v\f\r ]+/;
const SPACE = /\s/;

/** `RUN  echo hi` -> keyword `RUN` (as written), rest `echo hi`. */
export function splitKeyword(text: string): { keyword: string; rest: string } {
  const trimmed = text.trim();
  const match = WHITESPACE.exec(trimmed);
  if (match === null) return { keyword: trimmed, rest: '' };
  return { keyword: trimmed.slice(0, match.index), rest: trimmed.slice(match.index + match[0].length) };
}

/**
 * Takes the `--name[=value]` words off the front of an instruction's arguments, quotes and
 * escapes removed from them; a lone `--` ends the flags.
 */
export function extractFlags(rest: string, escape: EscapeChar): { flags: string[]; args: string } {
  const flags: string[] = [];
  let pos = 0;
  for (;;) {
    while (pos < rest.length && SPACE.test(rest.charAt(pos))) pos++;
    if (!rest.startsWith('--', pos)) return { flags, args: rest.slice(pos).trim() };
    let word = '';
    let quote = '';
    for (; pos < rest.length; pos++) {
      let ch = rest.charAt(pos);
      if (quote === '' && SPACE.test(ch)) break;
      if (ch === quote) {
        quote = '';
        continue;
      }
      if (quote === '' && (ch === '"' || ch === "'")) {
        quote = ch;
        continue;
      }
      if (ch === escape) {
        pos++;
        ch = rest.charAt(pos);
      }
      word += ch;
    }
    if (word === '--') return { flags, args: rest.slice(pos).trim() };
    flags.push(word);
  }
}

/**
 * Words separated by unquoted whitespace, kept raw: quotes and escapes stay in for the expansion
 * that comes later (`a="b c" d` -> `a="b c"`, `d`).
 */
export function splitQuotedWords(rest: string, escape: EscapeChar): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let quote = '';
  for (let pos = 0; pos < rest.length; pos++) {
    const ch = rest.charAt(pos);
    if (quote === '' && SPACE.test(ch)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
      continue;
    }
    inWord = true;
    if (quote === '' && (ch === '"' || ch === "'")) quote = ch;
    else if (ch === quote) quote = '';
    else if (ch === escape && quote !== "'") {
      // Docker drops an escape character that ends the text.
      if (pos + 1 < rest.length) word += ch + rest.charAt(pos + 1);
      pos++;
      continue;
    }
    word += ch;
  }
  if (inWord) words.push(word);
  return words;
}

/** Words separated by whitespace, quotes not considered (Docker's rule for FROM, COPY, EXPOSE…). */
export function splitWhitespace(rest: string): string[] {
  const trimmed = rest.trim();
  return trimmed === '' ? [] : trimmed.split(WHITESPACE);
}

export type JsonForm = { readonly kind: 'json'; readonly values: string[] } | { readonly kind: 'not-json' };

/**
 * The exec form: a JSON array of strings. Anything that does not parse as a JSON array is not
 * the exec form (Docker then takes the text as the shell form); a JSON array holding anything
 * but strings is an error, reported by the caller.
 */
export function parseJsonForm(rest: string): JsonForm | { readonly kind: 'not-strings' } {
  const trimmed = rest.trimStart();
  if (!trimmed.startsWith('[')) return { kind: 'not-json' };
  let parsed: unknown;
  try {
    parsed = JSON.parse(trimmed);
  } catch {
    return { kind: 'not-json' };
  }
  if (!Array.isArray(parsed)) return { kind: 'not-json' };
  const values: string[] = [];
  for (const value of parsed as unknown[]) {
    if (typeof value !== 'string') return { kind: 'not-strings' };
    values.push(value);
  }
  return { kind: 'json', values };
}
