/**
 * Where a `--rm` container keeps its record, plan and small files: a tmpfs under /run/tsdock.
 * They die with the container anyway (or with the boot), and a start writes a dozen of them:
 * made on ext4, each costs 10-20 times what it costs on tmpfs (shared/perf-baseline.md).
 * /run is a tmpfs on most hosts; where it is not, tsdock mounts one at `/run/tsdock/volatile`,
 * once per boot. Without the privilege to mount, the directory stays on disk and only the speed
 * is lost.
 */
import { closeSync, mkdirSync, openSync, statfsSync } from 'node:fs';
import { join } from 'node:path';
import { native } from '../native.js';
import { rootTag } from '../network/store.js';
import { MS } from './mount-flags.js';

export const VOLATILE_ROOT = '/run/tsdock/volatile';
const TMPFS_MAGIC = 0x01021994;
// Small files only: a record, a plan, /etc/hosts… The upper dir and the log stay on disk.
const TMPFS_OPTIONS = 'mode=0755,size=64m';

const dirsOfRoots = new Map<string, string>();

/** The directory of a root's `--rm` containers, one per root (tagged like its other host objects). */
export function volatileContainersDir(root: string): string {
  let dir = dirsOfRoots.get(root);
  if (dir === undefined) {
    // Remembered: a start asks several times, and the tag is a hash of the root's path.
    const tag = rootTag(root);
    dir = join(VOLATILE_ROOT, tag === '' ? 'containers' : `containers-${tag}`);
    dirsOfRoots.set(root, dir);
  }
  return dir;
}

export function isTmpfs(dir: string): boolean {
  return statfsSync(dir).type === TMPFS_MAGIC;
}

let prepared: Promise<void> | undefined;

/** Makes VOLATILE_ROOT a tmpfs if it is not on one yet (once per process). */
export function prepareVolatileRoot(): Promise<void> {
  prepared ??= mountTmpfsIfNeeded();
  return prepared;
}

async function mountTmpfsIfNeeded(): Promise<void> {
  mkdirSync(VOLATILE_ROOT, { recursive: true, mode: 0o755 });
  if (isTmpfs(VOLATILE_ROOT)) return;
  // Two processes mounting at once would stack two tmpfs: the second would hide the first's files.
  const fd = openSync(`${VOLATILE_ROOT}.lock`, 'a', 0o600);
  try {
    await native().flock(fd, 'exclusive');
    if (!isTmpfs(VOLATILE_ROOT)) mountTmpfs();
  } finally {
    closeSync(fd);
  }
}

function mountTmpfs(): void {
  try {
    native().mount('tmpfs', VOLATILE_ROOT, 'tmpfs', MS.NOSUID | MS.NODEV | MS.NOEXEC, TMPFS_OPTIONS);
  } catch {
    // Not allowed to mount (no CAP_SYS_ADMIN): the files stay on disk, which works as well.
  }
}
