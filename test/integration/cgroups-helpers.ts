/**
 * What the real-kernel cgroup tests share: unique parents under this process's own cgroups,
 * processes held until they are placed (as the monitor places a child before `execve`), and a
 * cleanup that leaves nothing behind even when a test fails half-way.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdir, readFile, rmdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { CgroupHierarchy } from '../../src/runtime/cgroups/detect.js';
import { place } from '../../src/runtime/cgroups/layout.js';
import { afterEach, beforeEach } from 'vitest';

/** A relative parent, so that everything lands under this test process's own cgroups. */
export function uniqueParent(label: string): string {
  return `tsdock-test-${label}-${process.pid}-${randomBytes(4).toString('hex')}`;
}

/** The directory a relative parent maps to in every hierarchy of `hierarchy`. */
export function parentDirs(hierarchy: CgroupHierarchy, parent: string): string[] {
  const mounts = [...new Set(Object.values(hierarchy.v1)), ...(hierarchy.v2 ? [hierarchy.v2] : [])];
  return [...new Set(mounts.map((m) => place(m.mountPoint, m.ownPath, parent, 'x').parents[0] ?? ''))];
}

export interface Held {
  pid: number;
  child: ChildProcess;
  /** Lets the shell go on to `script`, once it has been placed. */
  release(): void;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr(): string;
}

/** `busybox sh` that waits for a line on stdin before running `script`. */
export function spawnHeld(script: string): Held {
  const child = spawn('/bin/busybox', ['sh', '-c', `read _; ${script}`], { stdio: ['pipe', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('exit', (code, signal) => {
      resolve({ code, signal });
    });
  });
  if (child.pid === undefined) throw new Error('busybox did not start');
  return {
    pid: child.pid,
    child,
    release: () => child.stdin.end('go\n'),
    exited,
    stderr: () => stderr,
  };
}

/** Writes the pid into each `cgroup.procs`, as the monitor does. */
export async function placeIn(procsFiles: string[], pid: number): Promise<void> {
  for (const file of procsFiles) await writeFile(file, `${pid}`);
}

export async function procsOf(file: string): Promise<number[]> {
  return (await readFile(file, 'utf8')).split('\n').filter(Boolean).map(Number);
}

/** Scheduling state and CPU ticks (utime + stime) from /proc/<pid>/stat (proc(5)). */
export async function taskStat(pid: number): Promise<{ state: string; ticks: number }> {
  const text = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: fields[0] ?? '', ticks: Number(fields[11]) + Number(fields[12]) };
}

export async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

async function subdirs(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  const nested = await Promise.all(entries.filter((e) => e.isDirectory()).map((e) => subdirs(join(dir, e.name))));
  return [dir, ...nested.flat()];
}

/**
 * Removes a test's cgroup trees deepest first, killing and thawing whatever is still in them
 * (a task frozen by the v1 freezer dies only once thawed).
 */
export async function removeTrees(roots: string[], pids: number[]): Promise<void> {
  for (const pid of pids) killQuietly(pid);
  const dirs = (await Promise.all(roots.map(subdirs))).flat().filter((d) => d !== '');
  dirs.sort((a, b) => b.split('/').length - a.split('/').length);
  for (const dir of dirs) {
    if (!(await exists(dir))) continue;
    for (const pid of await procsOf(join(dir, 'cgroup.procs')).catch(() => [])) killQuietly(pid);
    await writeFile(join(dir, 'freezer.state'), 'THAWED').catch(() => undefined);
    await writeFile(join(dir, 'cgroup.freeze'), '0').catch(() => undefined);
    for (let attempt = 0; ; attempt++) {
      try {
        await rmdir(dir);
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EBUSY' || attempt === 100) throw err;
        await sleep(20);
      }
    }
  }
}

/**
 * Per-test cgroup fixtures for a describe block: a unique relative parent before each test, and
 * after it every process the test held is killed and the parent's tree removed, even on failure.
 */
export function cgroupTestBed(
  label: string,
  hierarchy: CgroupHierarchy,
): { readonly parent: string; hold(script: string): Held } {
  let parent = '';
  let held: Held[] = [];
  beforeEach(() => {
    parent = uniqueParent(label);
    held = [];
  });
  afterEach(async () => {
    await removeTrees(
      parentDirs(hierarchy, parent),
      held.map((h) => h.pid),
    );
  });
  return {
    get parent() {
      return parent;
    },
    hold(script: string): Held {
      const h = spawnHeld(script);
      held.push(h);
      return h;
    },
  };
}
