/** What every verb gets: the global options of the command line. */
export interface Globals {
  /** The state root, `/run/tsdock-runtime` by default. */
  root: string;
  debug: boolean;
  /** Writes a debug line to the log when `--debug` was given. */
  debugLog(message: string): void;
}

/** The flags of one verb, as parsed: a string, true for a bare flag, or absent. */
export type Flags = Record<string, string | true | undefined>;

export function flagString(flags: Flags, name: string): string | undefined {
  const v = flags[name];
  return typeof v === 'string' ? v : undefined;
}
