/** Small file-system helpers for the store: durable atomic writes and tolerant lookups. */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { Stats } from 'node:fs';
import { lstat, open, readFile, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { promisify } from 'node:util';

/** Writes all of `chunk` (a single write(2) may write less). */
export async function writeAll(file: FileHandle, chunk: Buffer): Promise<void> {
  for (let done = 0; done < chunk.length;) done += (await file.write(chunk, done)).bytesWritten;
}

/** fsync(2) on a directory, so that a rename in it survives a crash. */
export async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * syncfs(2) on the file system holding `path`: one flush for a whole unpacked layer instead of
 * an fsync per file (thousands of journal commits). Through coreutils' `sync --file-system`
 * until the native addon offers syncfs.
 */
export async function syncFileSystem(path: string): Promise<void> {
  await promisify(execFile)('sync', ['--file-system', path]);
}

/** A fresh name for a temporary file or directory: `<prefix><pid>-<random>`. */
export function tempName(prefix: string): string {
  return `${prefix}${process.pid}-${randomBytes(6).toString('hex')}`;
}

/** Creates `path` (it must not exist) with `data`, flushed to disk before this resolves. */
export async function writeNewFileSynced(path: string, data: Buffer | string): Promise<void> {
  const handle = await open(path, 'wx', 0o644);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Replaces `path` with `data` so that readers see the old content or the new, never a mix:
 * write a temporary file in `tempDir` (same file system), fsync, rename, fsync the directory.
 */
export async function writeFileAtomic(path: string, data: Buffer | string, tempDir = dirname(path)): Promise<void> {
  const temp = join(tempDir, tempName(`${basename(path)}.`));
  try {
    await writeNewFileSynced(temp, data);
    await rename(temp, path);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
  await fsyncDir(dirname(path));
}

/** `fn()`, or `undefined` when it fails because the path does not exist. */
async function unlessMissing<T>(fn: () => Promise<T>): Promise<T | undefined> {
  try {
    return await fn();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** `lstat`, or `undefined` when nothing is there. */
export const lstatIfExists = (path: string): Promise<Stats | undefined> => unlessMissing(() => lstat(path));

/** `stat` (following symlinks), or `undefined` when nothing is there. */
export const statIfExists = (path: string): Promise<Stats | undefined> => unlessMissing(() => stat(path));

/** The file's content, or `undefined` when it does not exist. */
export const readIfExists = (path: string): Promise<Buffer | undefined> => unlessMissing(() => readFile(path));
