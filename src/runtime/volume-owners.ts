/**
 * Who owns a volume's files as a container sees them. Under a user namespace a bind keeps its
 * host owners, so the container's root (an unprivileged host id) cannot write a root-owned
 * directory. Two of Podman's answers are offered per volume:
 *
 * - `idmap`: the bind is an idmapped mount (mount_setattr(2) `MOUNT_ATTR_IDMAP`) for the
 *   container's own user namespace: host id N shows as N inside, and what the container's root
 *   writes is owned by host root. Nothing on disk changes, so containers with different ranges
 *   (`--userns auto`) share one directory and each sees the same owners.
 * - `U`: the source is chowned, recursively and before the container starts, to the host ids of
 *   the container's user. It changes the host's files, for this container's range only.
 */
import { lchown, readdir, realpath, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { StartError, TsdockError } from '../errors.js';
import { usesUserNamespace, type BindMount, type ContainerOptions } from './options.js';
import type { IdMapping } from './plan.js';
import type { UserNamespaceIds } from './userns.js';

function volumeName(b: BindMount): string {
  return `${b.source}:${b.target}`;
}

/**
 * Refuses volume options the container cannot honour, before anything is made.
 *
 * @throws TsdockError `INVALID_ARGUMENT` for `idmap` without a user namespace of its own.
 */
export function checkVolumeOptions(options: ContainerOptions): void {
  if (usesUserNamespace(options)) return;
  const idmapped = (options.binds ?? []).find((b) => b.idmap === true);
  if (idmapped !== undefined) {
    throw new TsdockError(
      'INVALID_ARGUMENT',
      `volume ${volumeName(idmapped)}: idmap needs a user namespace of the container's own (add --userns private or --userns auto)`,
    );
  }
}

/** The host id of container id `id` under `mapping`, or undefined outside it. */
function hostIdOf(mapping: IdMapping, id: number): number | undefined {
  const offset = id - mapping.containerID;
  return offset >= 0 && offset < mapping.size ? mapping.hostID + offset : undefined;
}

/** lchown(2) of every entry below `dir` and of `dir` itself; symlinks are never followed. */
async function chownTree(dir: string, uid: number, gid: number): Promise<void> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) await chownTree(path, uid, gid);
    else await lchown(path, uid, gid);
  }
  await lchown(dir, uid, gid);
}

/**
 * `U`: chowns each such bind's source to the host ids of the container's `user`. Through an
 * idmapped bind, container id N is host id N on disk; otherwise the namespace's mapping (none:
 * the ids themselves) decides.
 *
 * @throws TsdockError `INVALID_ARGUMENT` when the user is outside the namespace's mapping.
 */
export async function chownVolumes(
  binds: readonly BindMount[],
  user: { uid: number; gid: number },
  ids: UserNamespaceIds | undefined,
): Promise<void> {
  for (const b of binds) {
    if (b.chown !== true) continue;
    const mapped = ids === undefined || b.idmap === true;
    const uid = mapped ? user.uid : hostIdOf(ids.uid, user.uid);
    const gid = mapped ? user.gid : hostIdOf(ids.gid, user.gid);
    if (uid === undefined || gid === undefined) {
      throw new TsdockError(
        'INVALID_ARGUMENT',
        `volume ${volumeName(b)}: U: user ${String(user.uid)}:${String(user.gid)} has no host id in the user namespace`,
      );
    }
    // The source as the bind sees it: a symlink given as the source is followed, once.
    const source = await realpath(b.source);
    if ((await stat(source)).isDirectory()) await chownTree(source, uid, gid);
    else await lchown(source, uid, gid);
  }
}

/**
 * The monitor's refusal of an idmapped volume (step `idmap` on the bind's source), said as the
 * volume and its fix; undefined for any other failure.
 */
export function idmapRefusal(err: unknown, binds: readonly BindMount[]): TsdockError | undefined {
  if (!(err instanceof StartError) || err.step !== 'idmap') return undefined;
  const b = binds.find((v) => v.idmap === true && v.source === err.path);
  if (b === undefined) return undefined;
  return new TsdockError(
    'START_FAILED',
    `volume ${volumeName(b)}: the kernel or filesystem refuses an idmapped mount (${err.message.replace(/^.*: /, '')}): drop idmap and use U to chown it into the container's range`,
    { cause: err },
  );
}
