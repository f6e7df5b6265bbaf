/**
 * Docker's copy-up: a new, empty volume mounted where the image has a directory starts with
 * that directory's content (owners, modes, times, symlinks as links).
 *
 * The image is read through an {@link ImageTree}: overlay-merged layers where every ancestor is
 * checked to be a real directory and symlinks resolve inside the image, so nothing outside the
 * layers is ever read. The copy is made in a directory beside `_data` that no container sees,
 * and its entries are then renamed into `_data`: a container already using the volume cannot
 * steer a write of ours through a symlink it planted.
 */
import type { Stats } from 'node:fs';
import { constants } from 'node:fs';
import { chmod, copyFile, lchown, lutimes, mkdir, readdir, readlink, rename, rm, symlink } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';

/** An image's merged root file system, read-only (build/file-tree.ts `LayeredTree` is one). */
export interface ImageTree {
  /** The entry at `components`, final symlink not followed; undefined when absent. */
  lstat(components: readonly string[]): Promise<{ stat: Stats; hostPath: string } | undefined>;
  /** The names in the directory at `components`. */
  readdir(components: readonly string[]): Promise<string[]>;
  /** `path` with its symlinks followed inside the image, as components. */
  resolve(path: string): Promise<string[]>;
}

/** Turns an owner as stored in the layers into the owner the volume's files get. */
export interface OwnerShift {
  uid: number;
  gid: number;
}

/**
 * Copies the image's directory at `target` into `dataDir` when `dataDir` is empty and the image
 * has a directory there; `_data` then takes that directory's owner and mode, as Docker's does.
 * Regular files, directories and symlinks are copied (hard links become separate files);
 * device nodes, fifos and sockets are left out.
 *
 * @returns whether anything was copied.
 */
export async function copyUp(tree: ImageTree, target: string, dataDir: string, shift: OwnerShift): Promise<boolean> {
  const at = await tree.resolve(target);
  const dir = await tree.lstat(at);
  if (dir?.stat.isDirectory() !== true) return false;
  if ((await readdir(dataDir)).length > 0) return false;
  const scratch = join(dirname(dataDir), `.copy-${randomBytes(8).toString('hex')}`);
  await mkdir(scratch, { mode: 0o700 });
  try {
    await copyChildren(tree, at, scratch, shift);
    for (const name of await readdir(scratch)) await rename(join(scratch, name), join(dataDir, name));
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  await applyMetadata(dataDir, dir.stat, shift);
  return true;
}

async function copyChildren(tree: ImageTree, at: readonly string[], dest: string, shift: OwnerShift): Promise<void> {
  for (const name of await tree.readdir(at)) {
    const here = [...at, name];
    const entry = await tree.lstat(here);
    if (entry === undefined) continue;
    const { stat } = entry;
    const path = join(dest, name);
    if (stat.isDirectory()) {
      await mkdir(path, { mode: 0o700 });
      await copyChildren(tree, here, path, shift);
    } else if (stat.isFile()) {
      await copyFile(entry.hostPath, path, constants.COPYFILE_EXCL);
    } else if (stat.isSymbolicLink()) {
      await symlink(await readlink(entry.hostPath), path);
    } else {
      continue;
    }
    await applyMetadata(path, stat, shift);
  }
}

/** Owner first: chown(2) clears the setuid and setgid bits a chmod then sets. */
async function applyMetadata(path: string, stat: Stats, shift: OwnerShift): Promise<void> {
  await lchown(path, stat.uid + shift.uid, stat.gid + shift.gid);
  if (!stat.isSymbolicLink()) await chmod(path, stat.mode & 0o7777);
  await lutimes(path, stat.atime, stat.mtime);
}
