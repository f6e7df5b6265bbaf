/**
 * The Dockerfile's line structure, below instructions: parser directives at the top, comments,
 * blank lines, continuation lines joined by the escape character, and the raw lines a heredoc
 * takes as its body.
 */
import { DockerfileError } from './errors.js';
import type { EscapeChar } from './expand.js';

export interface Directives {
  readonly escape: EscapeChar;
  readonly syntax?: string;
}

/** One instruction's text, continuations joined, and the 1-based line it starts on. */
export interface LogicalLine {
  readonly text: string;
  readonly line: number;
}

const DIRECTIVE = /^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$/;
/** Directives Docker knows; `check` configures its linter, which tsdock does not have. */
const KNOWN_DIRECTIVES = new Set(['escape', 'syntax', 'check']);
const BYTE_ORDER_MARK = '\uFEFF';

/** Physical lines with their line terminators, as a heredoc body needs them. */
function physicalLines(text: string): string[] {
  const body = text.startsWith(BYTE_ORDER_MARK) ? text.slice(1) : text;
  const lines = body.split(/(?<=\n)/);
  return lines.length === 1 && lines[0] === '' ? [] : lines;
}

function withoutTerminator(line: string): string {
  return line.replace(/\r?\n$/, '');
}

function isComment(line: string): boolean {
  return line.trimStart().startsWith('#');
}

/**
 * Reads `# escape=` and `# syntax=` from the top of the file. They count only before anything
 * else: the first line that is not a known directive (a comment, a blank line, an instruction)
 * ends them, and from then on such lines are plain comments.
 */
export function parseDirectives(text: string, file: string): Directives {
  let escape: EscapeChar = '\\';
  let syntax: string | undefined;
  const seen = new Set<string>();
  for (const [index, raw] of physicalLines(text).entries()) {
    const match = DIRECTIVE.exec(withoutTerminator(raw).trimStart());
    const key = match?.[1]?.toLowerCase();
    const value = match?.[2];
    if (key === undefined || value === undefined || !KNOWN_DIRECTIVES.has(key)) break;
    const location = { file, line: index + 1 };
    if (seen.has(key)) throw new DockerfileError(location, `only one "${key}" parser directive may be given`);
    seen.add(key);
    if (key === 'escape') {
      if (value !== '\\' && value !== '`') {
        throw new DockerfileError(location, `invalid escape character "${value}" (use "# escape=\\" or "# escape=\`")`);
      }
      escape = value;
    } else if (key === 'syntax') {
      syntax = value;
    }
  }
  return syntax === undefined ? { escape } : { escape, syntax };
}

/** Walks a Dockerfile's lines: instructions one at a time, and heredoc bodies on request. */
export class LineReader {
  private readonly lines: string[];
  private readonly continuation: RegExp;
  private next = 0;

  constructor(
    text: string,
    private readonly file: string,
    escape: EscapeChar,
  ) {
    this.lines = physicalLines(text);
    this.continuation = new RegExp(`\\${escape}[ \\t]*$`);
  }

  /** The number of the last line read (the file's length once everything is read). */
  get lineNumber(): number {
    return this.next;
  }

  /**
   * The next instruction, its continuation lines joined; undefined at the end of the file.
   * Comment lines inside a continuation are dropped, and so are empty ones, as Docker does.
   */
  nextInstruction(): LogicalLine | undefined {
    while (this.next < this.lines.length) {
      const first = withoutTerminator(this.lines[this.next++] ?? '').trimStart();
      const line = this.next;
      if (isComment(first)) continue;
      let [text, continues] = this.trimContinuation(first);
      if (!continues && text.trim() === '') continue;
      while (continues && this.next < this.lines.length) {
        const raw = withoutTerminator(this.lines[this.next++] ?? '');
        if (isComment(raw) || raw.trim() === '') continue;
        let part: string;
        [part, continues] = this.trimContinuation(raw);
        text += part;
      }
      return { text, line };
    }
    return undefined;
  }

  /**
   * The body of a heredoc that starts after the current instruction: the lines up to the one
   * that is exactly `name` (after leading tabs when `stripTabs`, for `<<-`), terminators kept.
   */
  readHeredoc(name: string, stripTabs: boolean, startLine: number): string {
    let body = '';
    while (this.next < this.lines.length) {
      const raw = this.lines[this.next++] ?? '';
      const candidate = withoutTerminator(raw);
      if ((stripTabs ? candidate.replace(/^\t+/, '') : candidate) === name) {
        return stripTabs ? body.replace(/^\t+/gm, '') : body;
      }
      body += raw;
    }
    throw new DockerfileError(
      { file: this.file, line: startLine },
      `unterminated heredoc "${name}" (end it with a line holding only ${name})`,
    );
  }

  private trimContinuation(line: string): [text: string, continues: boolean] {
    const match = this.continuation.exec(line);
    return match === null ? [line, false] : [line.slice(0, match.index), true];
  }
}
