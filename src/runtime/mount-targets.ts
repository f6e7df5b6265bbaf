/**
 * The files a container's plan binds its own /etc/hostname, /etc/hosts and /etc/resolv.conf over
 * must exist in its rootfs. Made by each start, they are a copy-up of /etc into the upper dir and
 * three new files: journal work on the host's file system on every start, and again on every
 * removal. Docker makes them once per container in an "init" layer; tsdock makes them once per
 * root and kind of /etc, in a read-only layer shared by every container put above its image's.
 *
 * It changes nothing a container sees: it is used only where the image's /etc is a directory (or
 * absent) whose mode and owners the layer repeats, each of the three is a regular file (or
 * absent: the binds cover it either way), and the container has no user namespace (the layer's
 * files belong to the host's root).
 */
import { existsSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { findLayered } from './layer-files.js';

const TARGETS = ['hostname', 'hosts', 'resolv.conf'];

/** /etc as the image has it, when the shared layer fits the image. */
interface EtcShape {
  mode: number;
  uid: number;
  gid: number;
}

/** Where an image lacks /etc, the child would make it so. */
const DEFAULT_ETC: EtcShape = { mode: 0o755, uid: 0, gid: 0 };

/** Images never change once unpacked: what fits each layer stack is remembered. */
const shapes = new Map<string, Promise<EtcShape | undefined>>();

async function etcShape(layerDirs: readonly string[]): Promise<EtcShape | undefined> {
  const etc = await findLayered(layerDirs, '/etc');
  if (etc !== undefined && !etc.stats.isDirectory()) return undefined;
  for (const name of TARGETS) {
    const target = await findLayered(layerDirs, `/etc/${name}`);
    if (target !== undefined && !target.stats.isFile()) return undefined;
  }
  if (etc === undefined) return DEFAULT_ETC;
  return { mode: etc.stats.mode & 0o7777, uid: etc.stats.uid, gid: etc.stats.gid };
}

/** The layer for `shape` under `root`, made whole in a temp dir and renamed into place. */
async function ensureLayer(root: string, shape: EtcShape): Promise<string> {
  const parent = join(root, 'mount-targets');
  const dir = join(parent, `etc-${shape.mode.toString(8)}-${String(shape.uid)}-${String(shape.gid)}`);
  // Synchronous: one stat on every start, cheaper than a thread-pool round trip.
  if (existsSync(dir)) return dir;
  await mkdir(parent, { recursive: true, mode: 0o755 });
  const tmp = await mkdtemp(join(parent, '.tmp-'));
  try {
    await chmod(tmp, 0o755);
    const etc = join(tmp, 'etc');
    await mkdir(etc);
    for (const name of TARGETS) await writeFile(join(etc, name), '', { mode: 0o644 });
    await chown(etc, shape.uid, shape.gid);
    await chmod(etc, shape.mode);
    await rename(tmp, dir);
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    // Another process made it meanwhile.
    const code = (err as NodeJS.ErrnoException).code;
    if ((code === 'EEXIST' || code === 'ENOTEMPTY') && existsSync(dir)) return dir;
    throw err;
  }
  return dir;
}

/**
 * The shared layer of mount targets for an image's layers (bottom to top), or `undefined` when
 * the image's /etc does not fit it; the caller leaves out containers with a user namespace.
 */
export async function mountTargetsLayer(root: string, layerDirs: readonly string[]): Promise<string | undefined> {
  const key = layerDirs.join('\0');
  let shape = shapes.get(key);
  if (shape === undefined) {
    shape = etcShape(layerDirs);
    shapes.set(key, shape);
    void shape.catch(() => shapes.delete(key));
  }
  const fits = await shape;
  return fits === undefined ? undefined : ensureLayer(root, fits);
}
