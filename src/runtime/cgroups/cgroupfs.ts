/**
 * Reading and writing cgroupfs files, removing cgroup directories, and waiting on the kernel: the
 * I/O both drivers share. The calls are synchronous on purpose: cgroupfs lives in memory and
 * answers in microseconds, while each trip through libuv's thread pool costs a few hundred, and a
 * container start makes dozens of them. Every failure becomes a {@link TsdockError} that names the file (and
 * the value, for a write) with the kernel's reason, e.g.
 * `cannot write "0-7" to /sys/fs/cgroup/cpuset/tsdock/abc/cpuset.cpus: invalid argument`.
 */
import { closeSync, constants, openSync, readFileSync, rmdirSync, statSync, writeSync } from 'node:fs';
import { getSystemErrorMap } from 'node:util';
import { errnoCode, TsdockError, type ErrorCode } from '../../errors.js';

/**
 * The code of a cgroupfs operation the kernel refused. Most happen while a container is being
 * set up, which `START_FAILED` describes.
 */
const FAILED: ErrorCode = 'START_FAILED';

/** Whether a failure (raw, or wrapped in a TsdockError) is ENOENT: the file or cgroup is gone. */
export function isEnoent(err: unknown): boolean {
  return errnoCode(err) === 'ENOENT' || (err instanceof TsdockError && errnoCode(err.cause) === 'ENOENT');
}

/**
 * A cgroup removed under us: its files are gone (ENOENT), or, when the file was opened before
 * the rmdir, the kernel refuses the write to a dead cgroup (ENODEV, kernfs).
 */
export function isGone(err: unknown): boolean {
  const codes = [errnoCode(err), err instanceof TsdockError ? errnoCode(err.cause) : undefined];
  return codes.includes('ENOENT') || codes.includes('ENODEV');
}

/** The kernel's wording for an errno (`invalid argument`), as strerror(3) would print it. */
export function reason(err: unknown): string {
  const errno = (err as NodeJS.ErrnoException | undefined)?.errno;
  const message = errno === undefined ? undefined : getSystemErrorMap().get(errno)?.[1];
  return message ?? (err instanceof Error ? err.message : String(err));
}

/**
 * Writes `value` with a single write(2) and no O_CREAT: cgroupfs applies each write as one
 * request, and in a directory standing in for cgroupfs a missing file must fail as it would on
 * a kernel that lacks the feature.
 */
export function writeCgroupFile(file: string, value: string): void {
  writeCgroupValues(file, [value]);
}

/**
 * Writes each value with its own write(2) through one open of `file`: v1's devices.allow takes
 * one rule per write, and a container's dozen rules need not open the file a dozen times.
 */
export function writeCgroupValues(file: string, values: readonly string[]): void {
  let value = values[0] ?? '';
  try {
    const fd = openSync(file, constants.O_WRONLY | constants.O_TRUNC);
    try {
      for (value of values) writeSync(fd, value);
    } finally {
      closeSync(fd);
    }
  } catch (err) {
    throw new TsdockError(FAILED, `cannot write "${value}" to ${file}: ${reason(err)}`, { cause: err });
  }
}

/** Reads a cgroupfs file, trimmed of its trailing newline. */
export function readCgroupFile(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch (err) {
    throw new TsdockError(FAILED, `cannot read ${file}: ${reason(err)}`, { cause: err });
  }
}

/** Like {@link readCgroupFile}, but `undefined` when the kernel does not provide the file. */
export function readOptionalCgroupFile(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw new TsdockError(FAILED, `cannot read ${file}: ${reason(err)}`, { cause: err });
  }
}

export function exists(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return false;
    throw new TsdockError(FAILED, `cannot stat ${path}: ${reason(err)}`, { cause: err });
  }
}

export function readNumber(file: string): number {
  return toNumber(file, readCgroupFile(file));
}

export function readLimit(file: string): number | 'max' {
  return toLimit(file, readCgroupFile(file));
}

/** A "flat keyed" file (`memory.events`, `cpu.stat`): one `key value` pair per line. */
function parseFlatKeyed(text: string): Map<string, string> {
  const entries = new Map<string, string>();
  for (const line of text.split('\n')) {
    const [key, value] = line.trim().split(/\s+/, 2);
    if (key !== undefined && key !== '' && value !== undefined) entries.set(key, value);
  }
  return entries;
}

function unexpected(file: string, text: string): TsdockError {
  return new TsdockError(FAILED, `unexpected content "${text}" in ${file}`);
}

/** A counter or size from cgroupfs (`file` names it in the error). */
export function toNumber(file: string, text: string | undefined): number {
  if (text === undefined || !/^\d+$/.test(text)) throw unexpected(file, text ?? '');
  return Number(text);
}

/** Nanoseconds (v1 `cpuacct.usage`, `throttled_time`) as microseconds: ns pass 2^53 after 104 days. */
export function nsToUsec(file: string, text: string | undefined): number {
  if (text === undefined || !/^\d+$/.test(text)) throw unexpected(file, text ?? '');
  return Number(BigInt(text) / 1000n);
}

/**
 * A limit from cgroupfs. v1 spells "no limit" as `-1` on write and `PAGE_COUNTER_MAX * PAGE_SIZE`
 * (9223372036854771712) on read, v2 as `max`; everything beyond 2^53 means no limit, as no real
 * limit reaches it.
 */
export function toLimit(file: string, text: string | undefined): number | 'max' {
  if (text === 'max' || text === '-1') return 'max';
  if (text === undefined || !/^\d+$/.test(text)) throw unexpected(file, text ?? '');
  const value = BigInt(text);
  return value > BigInt(Number.MAX_SAFE_INTEGER) ? 'max' : Number(value);
}

export function readFlatKeyed(file: string): Map<string, string> {
  return parseFlatKeyed(readCgroupFile(file));
}

/** The pids in a `cgroup.procs` file; none when the cgroup is gone. */
export function readProcs(file: string): number[] {
  const text = readOptionalCgroupFile(file);
  return (text ?? '')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map(Number);
}

/** SIGKILLs each pid; one that has already exited (ESRCH) is fine. */
export function killAll(pids: number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch (err) {
      if (errnoCode(err) !== 'ESRCH') {
        throw new TsdockError(FAILED, `cannot kill pid ${pid}: ${reason(err)}`, { cause: err });
      }
    }
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `done` every 10 ms until it holds or `timeoutMs` passes; reports which. */
export async function waitFor(done: () => boolean | Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await done()) return true;
    if (Date.now() >= deadline) return false;
    await sleep(10);
  }
}

/**
 * Removes a container's cgroup directory. Gone already is fine. EBUSY is retried for up to a
 * second: the last task leaves the cgroup's css_set only when it has fully exited, a moment
 * after its SIGKILL.
 */
export async function removeCgroupDir(dir: string): Promise<void> {
  let lastError: unknown;
  const removed = await waitFor(() => {
    try {
      rmdirSync(dir);
      return true;
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return true;
      if (errnoCode(err) !== 'EBUSY') {
        throw new TsdockError(FAILED, `cannot remove ${dir}: ${reason(err)}`, { cause: err });
      }
      lastError = err;
      return false;
    }
  }, 1000);
  if (!removed) throw new TsdockError(FAILED, `cannot remove ${dir}: ${reason(lastError)}`, { cause: lastError });
}

/**
 * Removes a parent directory if nothing else lives in it: a cgroup that still has children (or
 * tasks) refuses with EBUSY, a plain directory with ENOTEMPTY, and both mean "still in use".
 */
export function removeIfUnused(dir: string): void {
  try {
    rmdirSync(dir);
  } catch (err) {
    const code = errnoCode(err);
    if (code !== 'ENOENT' && code !== 'EBUSY' && code !== 'ENOTEMPTY') {
      throw new TsdockError(FAILED, `cannot remove ${dir}: ${reason(err)}`, { cause: err });
    }
  }
}
