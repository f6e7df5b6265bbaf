/** Go's `time.ParseDuration` syntax, which HEALTHCHECK's flags use: `30s`, `1m30s`, `1.5h`, `250ms`. */

const NANOSECONDS_PER_UNIT: Readonly<Record<string, number>> = {
  ns: 1,
  us: 1e3,
  µs: 1e3,
  μs: 1e3,
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};
const TERM = '(\\d+(?:\\.\\d*)?|\\.\\d+)(ns|us|µs|μs|ms|s|m|h)';
const DURATION = new RegExp(`^[-+]?(?:${TERM})+$`);

/** The duration in nanoseconds, or undefined when `text` is not a Go duration. */
export function parseGoDuration(text: string): number | undefined {
  if (/^[-+]?0$/.test(text)) return 0;
  if (!DURATION.test(text)) return undefined;
  let total = 0;
  for (const [, amount, unit] of text.matchAll(new RegExp(TERM, 'g'))) {
    total += Number(amount) * (NANOSECONDS_PER_UNIT[unit ?? ''] ?? 0);
  }
  return Math.round(text.startsWith('-') ? -total : total);
}
