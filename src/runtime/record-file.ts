/**
 * The small JSON records tsdock keeps per container and pod: written all or nothing, read back
 * with one clear error when they are damaged.
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { TsdockError } from '../errors.js';

/**
 * Writes `data` to `path` through a temp file in the same directory: all or nothing. `durable`
 * (the default) fsyncs it first, so that the new content also survives a machine crash.
 */
export function writeFileAtomic(path: string, data: string, { durable = true } = {}): void {
  const tmp = `${path}.${process.pid}.tmp`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, data);
    if (durable) fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    unlinkSync(tmp);
    throw err;
  }
  closeSync(fd);
  renameSync(tmp, path);
}

/**
 * The JSON in `file`, or undefined when there is none (its owner is being created or removed).
 * `emptyIsNone`: an empty file is none too (one written without fsync, after a machine crash).
 */
// eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- the caller names the JSON it reads
export function readJsonFile<T>(file: string, { emptyIsNone = false } = {}): T | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new TsdockError('STORE', `cannot read ${file}: ${(err as Error).message}`, { cause: err });
  }
  if (emptyIsNone && text === '') return undefined;
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    throw new TsdockError('STORE', `${file} is not valid JSON`, { cause: err });
  }
}
