/**
 * A container's directories in the store:
 * - `containers/<id>/`: its record, its encoded plan, the files bind-mounted over
 *   /etc/{hostname,hosts,resolv.conf}, the exit record its monitor writes. For a `--rm`
 *   container it is a symlink into a tmpfs (volatile-dir.ts): all of that dies with it.
 * - `containers.data/<id>/`: what belongs on disk: the overlay's upper and work dirs, the log.
 * Removed ones pass through `containers.trash/`. Every rootfs is mounted on one empty directory
 * beside them, `containers.rootfs/`, each in the container's own mount namespace.
 */
import {
  chownSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { errnoCode } from '../errors.js';
import { native } from '../native.js';
import type { ContainerPaths } from './plan-builder.js';
import { volatileContainersDir } from './volatile-dir.js';

export interface ContainerDir extends ContainerPaths {
  dir: string;
  /** Where `dir` points for a `--rm` container. */
  volatile: string;
  /** The upper and work dirs' parent, and the log's. */
  data: string;
  plan: string;
}

export function containerDirPaths(containersRoot: string, id: string): ContainerDir {
  const dir = join(containersRoot, id);
  const data = join(`${containersRoot}.data`, id);
  return {
    dir,
    volatile: join(volatileContainersDir(dirname(containersRoot)), id),
    data,
    rootfs: `${containersRoot}.rootfs`,
    upper: join(data, 'upper'),
    work: join(data, 'work'),
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

/*
 * Synchronous on purpose, both: a handful of small metadata operations on the start path, where
 * a thread-pool round trip each would cost more than the operations themselves.
 */

/**
 * Creates what belongs on disk: the overlay's upper and work dirs, and the rootfs's mount point.
 * `rootOwner` is the host uid/gid of the container's root (a user namespace maps it away from
 * 0): the upper and work dirs must belong to it.
 */
export function createContainerData(paths: ContainerDir, rootOwner: { uid: number; gid: number }): void {
  // 0711: a container root mapped to an unprivileged host id must still reach its own files.
  mkdirSync(paths.data, { recursive: true, mode: 0o711 });
  mkdirSync(paths.rootfs, { recursive: true, mode: 0o755 });
  mkdirSync(paths.upper, { mode: 0o755 });
  mkdirSync(paths.work, { mode: 0o700 });
  if (rootOwner.uid !== 0 || rootOwner.gid !== 0) {
    for (const dir of [paths.upper, paths.work]) chownSync(dir, rootOwner.uid, rootOwner.gid);
  }
}

/**
 * Creates the container's directory and its files; `volatile`: on a tmpfs
 * (prepareVolatileRoot), `dir` a link to it.
 */
export function createContainerDir(paths: ContainerDir, etc: EtcFiles, volatile: boolean): void {
  if (volatile) {
    mkdirSync(dirname(paths.volatile), { recursive: true, mode: 0o711 });
    mkdirSync(paths.volatile, { mode: 0o711 });
    symlinkSync(paths.volatile, paths.dir);
  } else {
    mkdirSync(paths.dir, { recursive: true, mode: 0o711 });
  }
  writeFileSync(paths.hostname, `${etc.hostname}\n`, { mode: 0o644 });
  writeFileSync(paths.hosts, etc.hosts, { mode: 0o644 });
  writeFileSync(paths.resolvConf, etc.resolvConf, { mode: 0o644 });
}

/** Where removed container directories wait, beside the containers directory, to be deleted. */
function trashOf(containersRoot: string): string {
  return `${containersRoot}.trash`;
}

/**
 * Takes the container out of the store at once: nothing lists or finds it any more once its
 * `dir` is renamed away (or, for a `--rm` one, its link removed); nothing finds a container by
 * its data. The contents are deleted in the background, at the lowest priority (`removeTree`):
 * freeing an overlay upper dir and a dozen files is file-system work that nobody needs to wait
 * for, and that should not slow the next container's start. Node keeps the process alive until
 * that is done; what a killed process leaves behind, {@link sweepContainerLeftovers} deletes.
 */
export function removeContainerDir(paths: ContainerDir): void {
  if (isLink(paths.dir)) {
    rmSync(paths.dir, { force: true }); // (another removal may be at it)
    removeInBackground(paths.volatile);
  } else {
    moveToTrash(paths.dir);
  }
  removeInBackground(paths.data);
}

function isLink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return false;
    throw err;
  }
}

function moveToTrash(dir: string): void {
  const trash = trashOf(dirname(dir));
  const trashed = join(trash, basename(dir));
  try {
    mkdirSync(trash, { recursive: true, mode: 0o700 });
    renameSync(dir, trashed);
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ENOENT') return; // removed already
    // The containers directory is a file system of its own: no rename out of it.
    if (code !== 'EXDEV') throw err;
    rmSync(dir, { recursive: true, force: true });
    return;
  }
  removeInBackground(trashed);
}

function removeInBackground(dir: string): void {
  native()
    .removeTree(dir)
    .catch(() => undefined);
}

/**
 * Deletes what background removals, killed processes and reboots left behind (`container
 * prune`): the trash, the links of `--rm` containers whose files died with the boot, and the data
 * and volatile directories of no container. Call it holding the containers lock: a create makes
 * those directories before its link.
 */
export function sweepContainerLeftovers(containersRoot: string): void {
  rmSync(trashOf(containersRoot), { recursive: true, force: true });
  for (const id of entries(containersRoot)) {
    const paths = containerDirPaths(containersRoot, id);
    if (isLink(paths.dir) && !existsSync(paths.volatile)) rmSync(paths.dir, { force: true });
  }
  const ids = new Set(entries(containersRoot));
  for (const parent of [`${containersRoot}.data`, volatileContainersDir(dirname(containersRoot))]) {
    for (const id of entries(parent)) {
      if (!ids.has(id)) rmSync(join(parent, id), { recursive: true, force: true });
    }
  }
}

function entries(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return [];
    throw err;
  }
}
