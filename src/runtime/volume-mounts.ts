/**
 * A container's volumes made real before it is created: each named volume made when missing,
 * each anonymous one (`-v /ctr`, and the image's `VOLUME`s no other mount covers) made anew, an
 * empty new volume filled from the image (copy-up), and every one turned into a bind of its
 * `_data` that remembers the volume. Run holding the volume store's lock, shared.
 */
import { posix } from 'node:path';
import { TsdockError } from '../errors.js';
import type { BindMount, ContainerOptions, VolumeMount } from './options.js';
import { copyUp, type ImageTree, type OwnerShift } from './volume-copy-up.js';
import type { VolumeStore } from './volume-store.js';
import type { UserNamespaceIds } from './userns.js';

export interface VolumeRequest {
  store: VolumeStore;
  options: ContainerOptions;
  /** The image's `VOLUME` paths (its config's `Volumes` keys). */
  imageVolumes: readonly string[];
  /** The image's files, for copy-up. */
  tree: ImageTree;
  /** The container's user namespace, if it has one. */
  ids: UserNamespaceIds | undefined;
  /** The layers keep the image's owners (idmapped), rather than owners shifted into `ids`. */
  idmappedLayers: boolean;
}

function clean(path: string): string {
  const normal = posix.normalize(path);
  return normal.length > 1 ? normal.replace(/\/$/, '') : normal;
}

/**
 * The volumes a container gets: those asked for, then an anonymous one per image `VOLUME` that
 * no bind, volume or tmpfs covers (Docker's rule).
 *
 * @throws TsdockError `INVALID_ARGUMENT` when two mounts share a container path.
 */
export function volumesFor(options: ContainerOptions, imageVolumes: readonly string[]): VolumeMount[] {
  const asked = options.volumes ?? [];
  const targets = [...(options.binds ?? []), ...asked].map((m) => m.target);
  const seen = new Set<string>();
  for (const target of targets) {
    if (seen.has(target)) throw new TsdockError('INVALID_ARGUMENT', `duplicate mount point: ${target}`);
    seen.add(target);
  }
  for (const t of options.tmpfs ?? []) seen.add(t.target);
  const fromImage = imageVolumes
    .map(clean)
    .filter((target) => posix.isAbsolute(target) && target !== '/' && !seen.has(target))
    .map((target): VolumeMount => ({ target, readonly: false }));
  return [...asked, ...fromImage];
}

/**
 * Makes the volumes of `req.options` and returns the options with them as binds. The name of
 * each anonymous volume is pushed to `made` as soon as it exists, for the caller to remove (with
 * the lock released) if the create fails.
 */
export async function mountVolumes(req: VolumeRequest, made: string[]): Promise<ContainerOptions> {
  const wanted = volumesFor(req.options, req.imageVolumes);
  const binds: BindMount[] = [];
  for (const v of wanted) {
    // Under a user namespace the container's root must own a new volume (Docker's userns-remap);
    // through an idmapped mount host root is what it sees as its root.
    const ids = v.idmap === true ? undefined : req.ids;
    const mapped = ids !== undefined;
    const owner = { uid: ids?.uid.hostID ?? 0, gid: ids?.gid.hostID ?? 0 };
    const volume =
      v.name === undefined ? await req.store.createAnonymous(owner) : await req.store.ensure(v.name, {}, owner);
    if (v.name === undefined) made.push(volume.Name);
    if (v.nocopy !== true) await copyUp(req.tree, v.target, volume.Mountpoint, ownerShift(req, mapped));
    binds.push({
      source: volume.Mountpoint,
      target: v.target,
      readonly: v.readonly,
      ...(v.idmap === true ? { idmap: true } : {}),
      ...(v.chown === true ? { chown: true } : {}),
      volume: { name: volume.Name, anonymous: v.name === undefined },
    });
  }
  return { ...req.options, volumes: undefined, binds: [...(req.options.binds ?? []), ...binds] };
}

/**
 * How the owners stored in the layers become the volume's: shifted layers hold host ids,
 * idmapped ones the image's own; a volume seen through the mapping (`mapped`) needs host ids.
 */
function ownerShift(req: VolumeRequest, mapped: boolean): OwnerShift {
  const ids = req.ids;
  if (ids === undefined) return { uid: 0, gid: 0 };
  const layersShifted = !req.idmappedLayers;
  const delta = (m: UserNamespaceIds['uid']): number =>
    (mapped ? m.hostID - m.containerID : 0) - (layersShifted ? m.hostID - m.containerID : 0);
  return { uid: delta(ids.uid), gid: delta(ids.gid) };
}
