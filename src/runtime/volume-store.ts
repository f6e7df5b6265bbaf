/**
 * The volumes of one tsdock root (Docker's `local` driver): `volumes/<name>/_data` is what a
 * container mounts, `volumes/<name>/volume.json` its record. A volume appears whole or not at
 * all: it is made in a temporary directory and renamed into place, and removed by a rename out
 * of sight before its tree is deleted.
 *
 * `volumes.lock` (flock) orders users and removers: creating a container that mounts volumes
 * holds it shared from making its volumes until its record names them, so a remover, holding it
 * exclusively, always sees every container that uses a volume. Lock order: volumes, then
 * containers.
 */
import { randomBytes } from 'node:crypto';
import { lchown, lstat, mkdir, open, readdir, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { TsdockError } from '../errors.js';
import { native } from '../native.js';
import { listContainers } from './container-store.js';
import type { ContainerRecord } from './container-record.js';
import { checkVolumeName, isVolumeName } from './options.js';
import { readJsonFile, writeFileAtomic } from './record-file.js';

/** Docker's label on volumes made for a container (`-v /ctr`, an image's VOLUME). */
export const ANONYMOUS_LABEL = 'com.docker.volume.anonymous';

/** A volume as `docker volume inspect` shows it. */
export interface VolumeInspect {
  Name: string;
  Driver: 'local';
  /** The host directory containers mount: `<root>/volumes/<name>/_data`. */
  Mountpoint: string;
  /** RFC 3339, seconds. */
  CreatedAt: string;
  Labels: Record<string, string>;
  Scope: 'local';
  /** Driver options; the local driver takes none here. */
  Options: Record<string, string>;
}

/** Which volumes {@link VolumeStore.list} returns; every given filter must match (Docker's). */
export interface VolumeFilters {
  /** Names containing any of these. */
  name?: string[];
  /** `key` or `key=value`: every one must be on the volume. */
  label?: string[];
  /** `true`: only volumes no container uses; `false`: only used ones. */
  dangling?: boolean;
}

/** What a prune removed. */
export interface VolumePruneResult {
  volumes: string[];
  /** Bytes of the removed volumes' files. */
  spaceReclaimed: number;
}

interface VolumeFile {
  name: string;
  createdAt: string;
  labels: Record<string, string>;
}

const RECORD = 'volume.json';
const DATA = '_data';

/** The names of the volumes a container's binds come from. */
export function volumesOf(record: ContainerRecord): { name: string; anonymous: boolean }[] {
  return (record.options.binds ?? []).flatMap((b) => (b.volume === undefined ? [] : [b.volume]));
}

/**
 * Removes the anonymous volumes of a container just removed (`run --rm`, `rm -v`), but not one
 * another container mounts too; named volumes always stay.
 */
export async function removeAnonymousVolumes(containersRoot: string, record: ContainerRecord): Promise<void> {
  const names = volumesOf(record).flatMap((v) => (v.anonymous ? [v.name] : []));
  if (names.length > 0) await new VolumeStore(containersRoot).removeUnused(names);
}

function notFound(name: string): TsdockError {
  return new TsdockError('VOLUME_NOT_FOUND', `no such volume: ${name}`);
}

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

/** Bytes of the regular files below `dir`, symlinks not followed. */
async function treeSize(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) total += await treeSize(path);
    else if (entry.isFile()) total += (await lstat(path)).size;
  }
  return total;
}

export class VolumeStore {
  readonly dir: string;

  /** The volumes of the root whose containers live in `containersRoot` (`<root>/volumes`). */
  constructor(private readonly containersRoot: string) {
    this.dir = join(dirname(containersRoot), 'volumes');
  }

  /** The directory a container mounts for volume `name`. */
  dataDir(name: string): string {
    return join(this.dir, name, DATA);
  }

  /** Runs `fn` holding the volumes lock, shared (users) or exclusive (removers). */
  async locked<T>(mode: 'shared' | 'exclusive', fn: () => Promise<T>): Promise<T> {
    await mkdir(this.dir, { recursive: true, mode: 0o711 });
    const file = await open(`${this.dir}.lock`, 'a', 0o600);
    try {
      await native().flock(file.fd, mode);
      return await fn();
    } finally {
      await file.close();
    }
  }

  /**
   * Makes volume `name` unless it exists (Docker's create is idempotent) and returns it; `owner`
   * owns a new `_data` (a user namespace's root). Call holding the lock, shared at least.
   */
  async ensure(name: string, labels: Record<string, string> = {}, owner = { uid: 0, gid: 0 }): Promise<VolumeInspect> {
    checkVolumeName(name);
    const final = join(this.dir, name);
    if (await exists(final)) return this.inspect(name);
    const tmp = join(this.dir, `.new-${randomBytes(8).toString('hex')}`);
    await mkdir(join(tmp, DATA), { recursive: true, mode: 0o755 });
    try {
      await lchown(join(tmp, DATA), owner.uid, owner.gid);
      const record: VolumeFile = { name, createdAt: new Date().toISOString().replace(/\.\d+Z$/, 'Z'), labels };
      writeFileAtomic(join(tmp, RECORD), JSON.stringify(record));
      await rename(tmp, final);
    } catch (err) {
      await rm(tmp, { recursive: true, force: true });
      const code = (err as NodeJS.ErrnoException).code;
      // Another process made it first: theirs stands.
      if (code === 'ENOTEMPTY' || code === 'EEXIST') return this.inspect(name);
      throw new TsdockError('STORE', `cannot create volume ${name}: ${(err as Error).message}`, { cause: err });
    }
    return this.inspect(name);
  }

  /** A new anonymous volume: a random 64-hex name and Docker's anonymous label. */
  async createAnonymous(owner?: { uid: number; gid: number }): Promise<VolumeInspect> {
    const name = randomBytes(32).toString('hex');
    return this.ensure(name, { [ANONYMOUS_LABEL]: '' }, owner);
  }

  /** @throws TsdockError `VOLUME_NOT_FOUND`. */
  async inspect(name: string): Promise<VolumeInspect> {
    if (!isVolumeName(name)) throw notFound(name);
    const file = readJsonFile<VolumeFile>(join(this.dir, name, RECORD));
    if (file === undefined) throw notFound(name);
    return {
      Name: file.name,
      Driver: 'local',
      Mountpoint: this.dataDir(file.name),
      CreatedAt: file.createdAt,
      Labels: file.labels,
      Scope: 'local',
      Options: {},
    };
  }

  /** Every volume, by name. */
  async list(filters: VolumeFilters = {}): Promise<VolumeInspect[]> {
    let names: string[];
    try {
      names = (await readdir(this.dir)).filter((n) => !n.startsWith('.')).sort();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const used = filters.dangling === undefined ? new Map<string, string[]>() : this.users();
    const found: VolumeInspect[] = [];
    for (const name of names) {
      const volume = await this.inspect(name).catch((err: unknown) => {
        if (err instanceof TsdockError && err.code === 'VOLUME_NOT_FOUND') return undefined;
        throw err;
      });
      if (volume === undefined) continue;
      if (filters.name !== undefined && !filters.name.some((n) => name.includes(n))) continue;
      if (filters.label !== undefined && !filters.label.every((l) => hasLabel(volume, l))) continue;
      if (filters.dangling !== undefined && filters.dangling === used.has(name)) continue;
      found.push(volume);
    }
    return found;
  }

  /** Volume name -> the ids of the containers (any state) whose binds name it. */
  users(): Map<string, string[]> {
    const used = new Map<string, string[]>();
    for (const { record } of listContainers(this.containersRoot)) {
      for (const { name } of volumesOf(record)) used.set(name, [...(used.get(name) ?? []), record.id]);
    }
    return used;
  }

  /**
   * Removes volume `name` (Docker's `volume rm`): refused while any container, running or not,
   * uses it. With `force` a missing volume is no error.
   *
   * @throws TsdockError `CONFLICT` while in use, `VOLUME_NOT_FOUND`.
   */
  async remove(name: string, options: { force?: boolean } = {}): Promise<void> {
    await this.locked('exclusive', async () => {
      try {
        await this.inspect(name);
      } catch (err) {
        if (options.force === true && err instanceof TsdockError && err.code === 'VOLUME_NOT_FOUND') return;
        throw err;
      }
      const users = this.users().get(name);
      if (users !== undefined) {
        throw new TsdockError('CONFLICT', `remove ${name}: volume is in use - [${users.join(', ')}]`);
      }
      await this.delete(name);
    });
  }

  /**
   * Removes the volumes no container uses (Docker 23+): only anonymous ones unless `all`.
   * Returns their names and the bytes they held.
   */
  async prune(options: { all?: boolean; label?: string[] } = {}): Promise<VolumePruneResult> {
    return this.locked('exclusive', async () => {
      await this.removeStale();
      const used = this.users();
      const result: VolumePruneResult = { volumes: [], spaceReclaimed: 0 };
      for (const volume of await this.list({ label: options.label })) {
        if (used.has(volume.Name)) continue;
        if (options.all !== true && !(ANONYMOUS_LABEL in volume.Labels)) continue;
        result.spaceReclaimed += await treeSize(volume.Mountpoint).catch(() => 0);
        await this.delete(volume.Name);
        result.volumes.push(volume.Name);
      }
      return result;
    });
  }

  /**
   * Removes `names`, anonymous volumes of a removed container, except those another container
   * still uses (Docker's `rm -v` leaves them too).
   */
  async removeUnused(names: readonly string[]): Promise<void> {
    if (names.length === 0) return;
    await this.locked('exclusive', async () => {
      const used = this.users();
      for (const name of names) {
        if (!used.has(name) && (await exists(join(this.dir, name)))) await this.delete(name);
      }
    });
  }

  /** Out of sight first (a name starting with `.` is no volume), then the tree. */
  private async delete(name: string): Promise<void> {
    const gone = join(this.dir, `.rm-${randomBytes(8).toString('hex')}`);
    await rename(join(this.dir, name), gone);
    await rm(gone, { recursive: true, force: true });
  }

  /** What a killed create or remove left (only under the exclusive lock: nobody else is in one). */
  private async removeStale(): Promise<void> {
    for (const name of await readdir(this.dir)) {
      if (name.startsWith('.new-') || name.startsWith('.rm-')) {
        await rm(join(this.dir, name), { recursive: true, force: true });
      }
    }
  }
}

/** `key` or `key=value` against a volume's labels. */
function hasLabel(volume: VolumeInspect, filter: string): boolean {
  const eq = filter.indexOf('=');
  if (eq < 0) return filter in volume.Labels;
  return volume.Labels[filter.slice(0, eq)] === filter.slice(eq + 1);
}
