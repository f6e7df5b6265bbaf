/**
 * Heredoc markers in RUN, COPY and ADD lines: `<<EOF`, `<<-EOF` (leading tabs stripped from the
 * body), `<<"EOF"` or `<<'EOF'` (body used verbatim). A line may open several; their bodies follow
 * the instruction in order.
 */
import { splitQuotedWords } from './words.js';

export interface HeredocMarker {
  /** The delimiter, quotes removed: the line that ends the body. */
  readonly name: string;
  readonly stripTabs: boolean;
  /** False when any part of the delimiter was quoted. */
  readonly expand: boolean;
}

const MARKER = /^\d*<<(-?)([^<]*)$/;

/**
 * The heredoc a word opens, or undefined: `<<EOF`, `<<-EOF`, `<<'EOF'`, with an optional file
 * descriptor in front (`3<<EOF`). Use it to tell a COPY source that is a heredoc from a path.
 */
export function parseHeredocMarker(word: string): HeredocMarker | undefined {
  const match = MARKER.exec(word);
  const delimiter = match?.[2];
  if (match === null || delimiter === undefined || delimiter === '') return undefined;
  const name = unquote(delimiter);
  if (name === '') return undefined;
  return { name, stripTabs: match[1] === '-', expand: !/['"]/.test(delimiter) };
}

/** The heredocs a (shell-form) line opens, in order. Like Docker, `<< EOF` counts as `<<EOF`. */
export function heredocMarkers(line: string): HeredocMarker[] {
  if (!line.includes('<<')) return [];
  // Docker reads heredoc markers with the shell's escape character, whatever the Dockerfile's is.
  return splitQuotedWords(line.replace(/<<[ \t]+/g, '<<'), '\\').flatMap((word) => parseHeredocMarker(word) ?? []);
}

/** Removes quotes and backslash escapes as the shell would from a heredoc delimiter. */
function unquote(word: string): string {
  let result = '';
  let quote = '';
  for (let pos = 0; pos < word.length; pos++) {
    const ch = word.charAt(pos);
    if (quote === '' && (ch === '"' || ch === "'")) quote = ch;
    else if (ch === quote) quote = '';
    else if (ch === '\\' && quote !== "'") result += word.charAt(++pos);
    else result += ch;
  }
  return result;
}
