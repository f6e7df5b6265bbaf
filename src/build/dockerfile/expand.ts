/**
 * Variable expansion in Dockerfile words, as the builder (not a shell) does it: `$VAR`,
 * `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:+alt}`, `${VAR+alt}`,
 * `${VAR:?message}`, `${VAR?message}`, `${VAR#pattern}` and `${VAR%pattern}` (shortest prefix or
 * suffix removed; `##`, `%%` the longest), `${VAR/pattern/new}` (`//`: every match); single quotes are literal, double quotes allow `$`, the
 * escape character makes the next character literal; quotes and escapes are removed. An unset
 * variable expands to nothing. The grammar follows Docker's builder (POSIX parameter expansion,
 * minus command substitution and arithmetic).
 */
import { TsdockError } from '../../errors.js';
import { literalPattern, removePrefix, removeSuffix, replaceMatches } from './shell-pattern.js';

/** The Dockerfile's escape character (`# escape=` directive). */
export type EscapeChar = '\\' | '`';

/** The value of a build variable (ARG or ENV in effect), or undefined when it is not set. */
export type VariableLookup = (name: string) => string | undefined;

/**
 * Expands one word: the result is a single string, spaces included.
 *
 * @example
 * expandWord('"${DIR:-/opt}/$APP"', (n) => ({ APP: 'web' })[n], '\\') // '/opt/web'
 */
export function expandWord(raw: string, lookup: VariableLookup, escape: EscapeChar): string {
  return new Expander(raw, lookup, escape).expand().text;
}

/**
 * Expands and splits into words on unquoted whitespace, including whitespace that an unquoted
 * variable brings in (`EXPOSE $PORTS`); quoted text stays one word.
 *
 * @example
 * expandWords('$PORTS "a b"', (n) => ({ PORTS: '80 443' })[n], '\\') // ['80', '443', 'a b']
 */
export function expandWords(raw: string, lookup: VariableLookup, escape: EscapeChar): string[] {
  return new Expander(raw, lookup, escape).expand().words;
}

/**
 * Expands a COPY/ADD heredoc body whose delimiter was not quoted (`<<EOF`), as BuildKit does:
 * variables expand, a backslash makes the next character literal (`\$HOME` gives `$HOME`,
 * whatever the file's escape character), and quotes are kept as text (`"$A"` gives `"1"`).
 *
 * @example
 * expandHeredoc('echo "$A" \\$B\n', (n) => ({ A: '1' })[n]) // 'echo "1" $B\n'
 */
export function expandHeredoc(raw: string, lookup: VariableLookup): string {
  return new Expander(raw, lookup, '\\', false).expand().text;
}

/** Parameters the shell reserves (`$@`, `$*`, `$#`, `$?`, `$-`, `$$`, `$!`, `$0`): one character each. */
const SPECIAL_PARAMETERS = new Set(['@', '*', '#', '?', '-', '$', '!', '0']);
const NAME_CHAR = /[\p{L}\p{Nd}_]/u;
const DIGIT = /[0-9]/;
const SPACE = /\s/;

/** Collects words: unquoted whitespace separates them, quoted text is kept whole. */
class WordCollector {
  private readonly words: string[] = [];
  private current = '';

  addSplittable(text: string): void {
    for (const ch of text) {
      if (!SPACE.test(ch)) this.current += ch;
      else if (this.current !== '') {
        this.words.push(this.current);
        this.current = '';
      }
    }
  }

  addLiteral(text: string): void {
    this.current += text;
  }

  finish(): string[] {
    if (this.current !== '') this.words.push(this.current);
    return this.words;
  }
}

class Expander {
  private pos = 0;

  constructor(
    private readonly source: string,
    private readonly lookup: VariableLookup,
    private readonly escape: EscapeChar,
    /** False for a heredoc body: quotes are plain text there. */
    private readonly quotes = true,
  ) {}

  expand(): { text: string; words: string[] } {
    return this.scan(undefined);
  }

  /**
   * Scans up to `stop` (consumed) or, without one, to the end. For a `pattern`, quoted and
   * escaped text is made literal (`"*"` matches a star), as the shell does.
   */
  private scan(stop: string | undefined, pattern = false): { text: string; words: string[] } {
    const literal = (value: string): string => (pattern ? literalPattern(value) : value);
    let text = '';
    const words = new WordCollector();
    while (this.pos < this.source.length) {
      const ch = this.source.charAt(this.pos);
      if (ch === stop) {
        this.pos++;
        return { text, words: words.finish() };
      }
      if (ch === '$') {
        const value = this.dollar();
        text += value;
        words.addSplittable(value);
      } else if (this.quotes && (ch === "'" || ch === '"')) {
        const value = literal(ch === "'" ? this.singleQuoted() : this.doubleQuoted());
        text += value;
        words.addLiteral(value);
      } else if (ch === this.escape) {
        // The escape character makes the next one literal; a trailing one vanishes.
        const next = literal(this.source.charAt(this.pos + 1));
        this.pos += 2;
        text += next;
        words.addLiteral(next);
      } else {
        this.pos++;
        text += ch;
        words.addSplittable(ch);
      }
    }
    if (stop !== undefined) throw this.error(`missing "${stop}"`);
    return { text, words: words.finish() };
  }

  private singleQuoted(): string {
    const end = this.source.indexOf("'", this.pos + 1);
    if (end < 0) throw this.error('unterminated single quote');
    const value = this.source.slice(this.pos + 1, end);
    this.pos = end + 1;
    return value;
  }

  /** Inside double quotes only `$` expands; the escape character escapes only `"`, `$` and itself. */
  private doubleQuoted(): string {
    let value = '';
    this.pos++;
    for (;;) {
      if (this.pos >= this.source.length) throw this.error('unterminated double quote');
      const ch = this.source.charAt(this.pos);
      if (ch === '"') {
        this.pos++;
        return value;
      }
      if (ch === '$') {
        value += this.dollar();
        continue;
      }
      this.pos++;
      if (ch === this.escape) {
        const next = this.source.charAt(this.pos);
        if (next === '"' || next === '$' || next === this.escape) {
          this.pos++;
          value += next;
          continue;
        }
      }
      value += ch;
    }
  }

  private dollar(): string {
    this.pos++;
    if (this.source.charAt(this.pos) !== '{') {
      const name = this.name();
      return name === '' ? '$' : (this.lookup(name) ?? '');
    }
    this.pos++;
    const name = this.name();
    if (name === '') {
      throw this.error(this.pos >= this.source.length ? 'missing "}"' : 'bad substitution');
    }
    const op = this.source.charAt(this.pos++);
    switch (op) {
      case '}':
        return this.lookup(name) ?? '';
      case '':
        throw this.error('missing "}"');
      case ':': {
        const modifier = this.source.charAt(this.pos++);
        if (modifier !== '-' && modifier !== '+' && modifier !== '?') throw this.unsupported(`:${modifier}`);
        return this.modified(name, modifier, true);
      }
      case '-':
      case '+':
      case '?':
        return this.modified(name, op, false);
      case '#':
      case '%': {
        const longest = this.source.charAt(this.pos) === op;
        if (longest) this.pos++;
        const pattern = this.scan('}', true).text;
        const value = this.lookup(name) ?? '';
        return op === '#' ? removePrefix(value, pattern, longest) : removeSuffix(value, pattern, longest);
      }
      case '/': {
        const all = this.source.charAt(this.pos) === '/';
        if (all) this.pos++;
        const pattern = this.scan('/', true).text;
        const replacement = this.scan('}').text;
        return replaceMatches(this.lookup(name) ?? '', pattern, replacement, all);
      }
      default:
        throw this.unsupported(op);
    }
  }

  /** `${name-word}` and friends; with `:` (emptyIsUnset) an empty value counts as unset. */
  private modified(name: string, modifier: '-' | '+' | '?', emptyIsUnset: boolean): string {
    const word = this.scan('}').text;
    const value = this.lookup(name);
    const unset = value === undefined || (emptyIsUnset && value === '');
    switch (modifier) {
      case '-':
        return unset ? word : value;
      case '+':
        return unset ? '' : word;
      case '?':
        if (!unset) return value;
        throw new TsdockError(
          'INVALID_ARGUMENT',
          `${name}: ${word !== '' ? word : value === undefined ? 'is not allowed to be unset' : 'is not allowed to be empty'}`,
        );
    }
  }

  /** A variable name: digits (`$1`), one special parameter, or letters, digits and `_`. */
  private name(): string {
    const start = this.pos;
    const first = this.source.charAt(this.pos);
    if (DIGIT.test(first)) {
      while (DIGIT.test(this.source.charAt(this.pos))) this.pos++;
    } else if (SPECIAL_PARAMETERS.has(first)) {
      this.pos++;
    } else {
      while (this.pos < this.source.length && NAME_CHAR.test(this.source.charAt(this.pos))) this.pos++;
    }
    return this.source.slice(start, this.pos);
  }

  private unsupported(modifier: string): TsdockError {
    return this.error(`unsupported modifier "${modifier}" (use :-, -, :+, +, :?, ?, #, ##, %, %%, / or //)`);
  }

  private error(reason: string): TsdockError {
    return new TsdockError('INVALID_ARGUMENT', `cannot expand ${JSON.stringify(this.source)}: ${reason}`);
  }
}
