/**
 * A container's directory in the store: the overlay's upper and work dirs, the files bind-mounted
 * over /etc/{hostname,hosts,resolv.conf}, its encoded plan and the exit record its monitor
 * writes. Removed ones pass through `containers.trash/`. Every rootfs is mounted on one empty
 * directory beside them, `containers.rootfs/`, each in the container's own mount namespace.
 */
import { chownSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { native } from '../native.js';
import type { ContainerPaths } from './plan-builder.js';

export interface ContainerDir extends ContainerPaths {
  dir: string;
  plan: string;
}

export function containerDirPaths(containersRoot: string, id: string): ContainerDir {
  const dir = join(containersRoot, id);
  return {
    dir,
    rootfs: `${containersRoot}.rootfs`,
    upper: join(dir, 'upper'),
    work: join(dir, 'work'),
    hostname: join(dir, 'hostname'),
    hosts: join(dir, 'hosts'),
    resolvConf: join(dir, 'resolv.conf'),
    plan: join(dir, 'plan'),
    exitFile: join(dir, 'exit.json'),
  };
}

/** What the container's /etc/hostname, /etc/hosts and /etc/resolv.conf bind mounts show. */
export interface EtcFiles {
  hostname: string;
  hosts: string;
  resolvConf: string;
}

/**
 * Creates the directory and its files. `rootOwner` is the host uid/gid of the container's root
 * (a user namespace maps it away from 0): the overlay's upper and work dirs must belong to it.
 * Synchronous on purpose: a handful of small metadata operations on the start path, where a
 * thread-pool round trip each would cost more than the operations themselves.
 */
export function createContainerDir(paths: ContainerDir, etc: EtcFiles, rootOwner: { uid: number; gid: number }): void {
  // 0711: a container root mapped to an unprivileged host id must still reach its own files.
  mkdirSync(paths.dir, { recursive: true, mode: 0o711 });
  mkdirSync(paths.rootfs, { recursive: true, mode: 0o755 });
  mkdirSync(paths.upper, { mode: 0o755 });
  mkdirSync(paths.work, { mode: 0o700 });
  writeFileSync(paths.hostname, `${etc.hostname}\n`, { mode: 0o644 });
  writeFileSync(paths.hosts, etc.hosts, { mode: 0o644 });
  writeFileSync(paths.resolvConf, etc.resolvConf, { mode: 0o644 });
  if (rootOwner.uid !== 0 || rootOwner.gid !== 0) {
    for (const dir of [paths.upper, paths.work]) chownSync(dir, rootOwner.uid, rootOwner.gid);
  }
}

/** Where removed container directories wait, beside the containers directory, to be deleted. */
function trashOf(containersRoot: string): string {
  return `${containersRoot}.trash`;
}

/**
 * Takes the directory out of the store at once, with one rename: nothing lists or finds the
 * container any more. Its contents are deleted in the background, at the lowest priority
 * (`removeTree`): freeing an overlay upper dir and a dozen files is file-system journal work
 * that nobody needs to wait for, and that should not slow the next container's start. Node
 * keeps the process alive until that is done; what a killed process leaves behind,
 * {@link sweepContainerTrash} deletes.
 */
export function removeContainerDir(paths: ContainerDir): void {
  const trash = trashOf(dirname(paths.dir));
  const trashed = join(trash, basename(paths.dir));
  try {
    mkdirSync(trash, { recursive: true, mode: 0o700 });
    renameSync(paths.dir, trashed);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return; // removed already
    // The containers directory is a file system of its own: no rename out of it.
    if (code !== 'EXDEV') throw err;
    rmSync(paths.dir, { recursive: true, force: true });
    return;
  }
  native()
    .removeTree(trashed)
    .catch(() => undefined);
}

/** Deletes what background removals of this root left behind (`container prune`). */
export function sweepContainerTrash(containersRoot: string): void {
  rmSync(trashOf(containersRoot), { recursive: true, force: true });
}
