/** Test helpers that deal with the real host: the CLI as a process, cgroups, mounts. */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { detectHierarchy } from '../../src/runtime/cgroups/index.js';

export const repoRoot = join(import.meta.dirname, '..', '..');

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs `tsdock ARGS…` (the built CLI) to completion. */
export function tsdock(args: string[], options: { input?: string; env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(repoRoot, 'bin', 'tsdock.js'), ...args], {
      env: { ...process.env, ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      resolve({ code, signal, stdout, stderr });
    });
    child.stdin.end(options.input ?? '');
  });
}

/** A cgroup parent unique to this test run, relative: it lands under the test's own cgroups. */
export function uniqueCgroupParent(label: string): string {
  return `tsdock-test-${label}-${process.pid}-${randomBytes(3).toString('hex')}`;
}

/** The directories a relative cgroup parent names, one per mounted hierarchy. */
export async function cgroupParentDirs(parent: string): Promise<string[]> {
  const h = detectHierarchy();
  const bases = [...Object.values(h.v1), ...(h.v2 ? [h.v2] : [])].map((x) => join(x.mountPoint, x.ownPath, parent));
  return [...new Set(bases)];
}

/** Child cgroups left under a test parent (none, after every container is gone). */
export async function cgroupsUnder(parent: string): Promise<string[]> {
  const found: string[] = [];
  for (const dir of await cgroupParentDirs(parent)) {
    try {
      const entries = await readdir(dir, { withFileTypes: true });
      found.push(...entries.filter((e) => e.isDirectory()).map((e) => join(dir, e.name)));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  return found;
}

/**
 * Removes a test's cgroup parent in every hierarchy, also after a test that failed midway: any
 * cgroup still below it is thawed, its processes (this run's containers and pause processes, by
 * the PIDs the cgroup lists) killed, and removed deepest first.
 */
export async function removeCgroupParent(parent: string): Promise<void> {
  for (const dir of await cgroupParentDirs(parent)) await removeCgroupTree(dir);
}

async function removeCgroupTree(dir: string): Promise<void> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  for (const e of entries) if (e.isDirectory()) await removeCgroupTree(join(dir, e.name));
  // A frozen task dies only once thawed (v1 freezer, v2 cgroup.freeze).
  await writeFile(join(dir, 'freezer.state'), 'THAWED').catch(() => undefined);
  await writeFile(join(dir, 'cgroup.freeze'), '0').catch(() => undefined);
  for (let tries = 0; ; tries++) {
    const pids = (await readFile(join(dir, 'cgroup.procs'), 'utf8')).split('\n').filter(Boolean).map(Number);
    if (pids.length === 0 || tries === 100) break;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Gone meanwhile.
      }
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  await rmdir(dir);
}

/** The mount points of this (host) mount namespace. */
export async function hostMounts(): Promise<string[]> {
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  return (
    text
      .split('\n')
      .filter(Boolean)
      .map((line) => line.split(' ')[4] ?? '')
      // Pinned network and pod namespaces come and go with the network and pod tests that run
      // alongside (they check their own pins).
      .filter((mount) => !mount.startsWith('/run/tsdock/netns') && !mount.startsWith('/run/tsdock/pods'))
      .sort()
  );
}
