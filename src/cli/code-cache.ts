/**
 * Runs the CLI bundle (`dist/cli/main.cjs`) through a V8 code cache. Node 20 has no compile cache
 * of its own, so every one-shot command would parse the whole bundle and compile what it runs
 * again; with the bytecode a previous run of the same command left, `tsdock run` spends about a
 * quarter less CPU before the container starts (README, Performance).
 *
 * One cache file per command, since `run` compiles other functions than `ps`; it is written
 * after the first successful run of that command with this bundle. Its name carries the bundle's
 * inode, size and mtime: V8 checks only the length of the source, so a rebuilt bundle must never
 * meet an old cache. V8 rejects a cache made by another V8 version or with other flags; it is then
 * written anew. A directory that cannot be written just means no cache.
 */
import {
  closeSync,
  fstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  writeFileSync,
  type Stats,
} from 'node:fs';
import Module, { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';
import { Script } from 'node:vm';

/** The global options that take a value, so that the value is not taken for the command. */
const GLOBAL_OPTIONS_WITH_VALUE = new Set(['--root', '--layer-limits']);

/** A command name as it may appear in a file name; anything else shares the `-` cache. */
const COMMAND_NAME = /^[a-z][a-z-]{0,31}$/;

/** The command `argv` runs: its first operand after the global options, when it looks like one. */
export function commandOf(argv: readonly string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (GLOBAL_OPTIONS_WITH_VALUE.has(arg)) i++;
    else if (arg === '--') return undefined;
    else if (!arg.startsWith('-')) return COMMAND_NAME.test(arg) ? arg : undefined;
  }
  return undefined;
}

/** Where the code cache of `bundle` (the file at `bundlePath`) for the command of `argv` lives. */
export function cacheFileOf(
  bundlePath: string,
  bundle: Pick<Stats, 'ino' | 'size' | 'mtimeMs'>,
  argv: readonly string[],
): string {
  const version = `${bundle.ino}-${bundle.size}-${Math.trunc(bundle.mtimeMs)}`;
  return join(dirname(bundlePath), 'code-cache', `${basename(bundlePath)}.${version}.${commandOf(argv) ?? '-'}`);
}

function readIfExists(file: string): Buffer | undefined {
  try {
    return readFileSync(file);
  } catch {
    return undefined;
  }
}

/** Temp file and rename: a concurrent run reads the old cache or the new one, never half. */
function writeCache(file: string, data: Buffer): void {
  const temp = `${file}.${process.pid}.tmp`;
  try {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(temp, data);
    renameSync(temp, file);
  } catch {
    // A read-only installation runs without a cache.
  }
}

interface CliBundle {
  main(argv: string[]): Promise<void>;
}

type ModuleWrapper = (
  exports: object,
  require: NodeJS.Require,
  module: { exports: object },
  filename: string,
  dirname: string,
) => void;

/** Loads the CommonJS bundle at `bundlePath` with its code cache and runs its `main(argv)`. */
export function runCached(bundlePath: string, argv: string[]): void {
  const fd = openSync(bundlePath, 'r');
  let source: string;
  let cacheFile: string;
  try {
    cacheFile = cacheFileOf(bundlePath, fstatSync(fd), argv);
    source = readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
  const cachedData = readIfExists(cacheFile);
  // No importModuleDynamically: Node 20 drops it from a script compiled from a code cache, so the
  // bundle is built without import() (esbuild --supported:dynamic-import=false).
  const script = new Script(Module.wrap(source), { filename: bundlePath, cachedData });
  if (cachedData === undefined || script.cachedDataRejected === true) {
    // At exit the cache holds every function this command compiled, not only the top level.
    process.once('exit', (code) => {
      if (code === 0) writeCache(cacheFile, script.createCachedData());
    });
  }
  const module = { exports: {} };
  (script.runInThisContext() as ModuleWrapper)(
    module.exports,
    createRequire(bundlePath),
    module,
    bundlePath,
    dirname(bundlePath),
  );
  void (module.exports as CliBundle).main(argv);
}
