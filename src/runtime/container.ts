/**
 * Starting one container: its directory, its cgroup, its spawn plan, its monitor. Everything a
 * start creates is removed again when the start fails, so a failed `run` leaves nothing behind.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { TsdockError } from '../errors.js';
import { parseMountinfo } from './cgroups/detect.js';
import { createContainerCgroup, type ContainerCgroup } from './cgroups/index.js';
import { containerDirPaths, createContainerDir, removeContainerDir, type ContainerDir } from './container-dir.js';
import { hostNofileHardLimit } from './host.js';
import { readLayeredFile } from './layer-files.js';
import type { ContainerOptions } from './options.js';
import type { IdMapping } from './plan.js';
import { buildSpawnPlan, resolveArgs, type ImageRuntimeConfig } from './plan-builder.js';
import { encodePlan } from './plan-codec.js';
import { spawnMonitor, type ExitStatus, type MonitorHandle, type StdioMode } from './spawn.js';
import { resolveUser } from './user.js';

/** An image as the runtime sees it: a config and its unpacked layers (see DESIGN: no image/ here). */
export interface RuntimeImage {
  config: ImageRuntimeConfig;
  /** Bottom to top, all in one parent directory. */
  layerDirs: string[];
}

/** Host ids a private user namespace maps container ids 0..65535 to. */
export const DEFAULT_ID_MAPPING: IdMapping = { containerID: 0, hostID: 100000, size: 65536 };

export interface StartRequest {
  /** Directory that holds one directory per container. */
  containersRoot: string;
  image: RuntimeImage;
  options: ContainerOptions;
  stdio: StdioMode;
}

/** A container whose process is running under its monitor. */
export interface StartedContainer {
  id: string;
  /** The container's init pid, host view. */
  pid: number;
  monitor: MonitorHandle;
  /** The container's cgroup: stats, freeze, kill. */
  cgroup: ContainerCgroup;
  /** Waits for the exit, then removes the container's directory and cgroup. */
  waitAndRemove(): Promise<ExitStatus>;
}

function newContainerId(): string {
  return randomBytes(32).toString('hex');
}

async function resolveImageUser(image: RuntimeImage, spec: string): Promise<ReturnType<typeof resolveUser>> {
  const [passwd, group] = await Promise.all(
    ['/etc/passwd', '/etc/group'].map(async (p) => (await readLayeredFile(image.layerDirs, p))?.toString() ?? ''),
  );
  return resolveUser(spec, passwd ?? '', group ?? '');
}

/** Bind sources must exist as directories or files; like Docker, a missing one becomes a directory. */
async function bindKinds(options: ContainerOptions): Promise<('dir' | 'file')[]> {
  return Promise.all(
    (options.binds ?? []).map(async (b) => {
      try {
        return (await stat(b.source)).isDirectory() ? 'dir' : 'file';
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        await mkdir(b.source, { recursive: true });
        return 'dir';
      }
    }),
  );
}

async function cleanup(dir: ContainerDir, cgroup: ContainerCgroup | undefined): Promise<void> {
  removeContainerDir(dir);
  await cgroup?.destroy();
}

/**
 * Starts a container and resolves once its command runs (or rejects with the reason it could
 * not, a {@link TsdockError}, after removing everything the attempt created).
 */
export async function startContainer(req: StartRequest): Promise<StartedContainer> {
  const { image, options } = req;
  // Everything that can be checked without touching the host is checked first.
  resolveArgs(image.config, options);
  const user = await resolveImageUser(image, options.user ?? image.config.User ?? '');
  const kinds = await bindKinds(options);
  const nofileHardLimit = hostNofileHardLimit();
  const cgroupMounts = parseMountinfo(readFileSync('/proc/self/mountinfo', 'utf8'));

  const id = newContainerId();
  const paths = containerDirPaths(req.containersRoot, id);
  const userns = options.userns === 'private';
  const idMappings = userns ? { uid: [DEFAULT_ID_MAPPING], gid: [DEFAULT_ID_MAPPING] } : undefined;
  const rootOwner = userns ? { uid: DEFAULT_ID_MAPPING.hostID, gid: DEFAULT_ID_MAPPING.hostID } : { uid: 0, gid: 0 };
  const hostname = options.hostname ?? id.slice(0, 12);

  let cgroup: ContainerCgroup | undefined;
  let monitor: MonitorHandle | undefined;
  try {
    createContainerDir(paths, hostname, options.network === 'host', rootOwner);
    cgroup = await createContainerCgroup({ name: id, parent: options.cgroupParent, limits: options.limits ?? {} });
    const plan = buildSpawnPlan({
      id,
      config: image.config,
      layerDirs: image.layerDirs,
      options,
      user,
      paths,
      bindKinds: kinds,
      cgroup: { procsFiles: cgroup.procsFiles, dirs: cgroup.dirs, oom: cgroup.oom },
      nofileHardLimit,
      cgroupMounts,
      idMappings,
    });
    writeFileSync(paths.plan, encodePlan(plan), { mode: 0o600 });
    monitor = spawnMonitor(paths.plan, req.stdio);
    const pid = await monitor.started;
    const started = monitor;
    const owned = cgroup;
    return {
      id,
      pid,
      monitor,
      cgroup,
      async waitAndRemove() {
        try {
          return await started.exited;
        } finally {
          await cleanup(paths, owned);
        }
      },
    };
  } catch (err) {
    // The monitor removes the cgroup on a failed start; wait for it so nothing races the cleanup.
    await monitor?.exited.catch(() => undefined);
    await cleanup(paths, cgroup);
    if (err instanceof TsdockError) throw err;
    throw new TsdockError('START_FAILED', `cannot start container: ${(err as Error).message}`, { cause: err });
  }
}

/** Where containers live under a tsdock root. */
export function containersRootOf(root: string): string {
  return join(root, 'containers');
}
