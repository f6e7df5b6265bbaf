/**
 * Whether this host can present image layers to a user namespace through idmapped mounts
 * (mount_setattr(2) `MOUNT_ATTR_IDMAP`) under overlayfs, instead of a copy of each layer chowned
 * into the namespace's range. That takes Linux 5.19+ (idmapped overlay layers), a filesystem
 * under the store that allows idmapping (ext4, xfs, btrfs, tmpfs: FS_ALLOW_IDMAP) and an
 * overlayfs that accepts such layers from inside a user namespace.
 *
 * The probe is a real start that stops at its very last step: a plan with one empty layer
 * idmapped and mounted as the overlay root, the user and mount namespaces of a container, and a
 * command that does not exist. An `exec` failure means every mount before it worked. The answer
 * is kept per kernel release and filesystem in /run/tsdock (it dies with the boot, as a kernel
 * update does), so one probe serves every process of the host.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, mkdirSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { release } from 'node:os';
import { join } from 'node:path';
import { StartError } from '../errors.js';
import { capabilitySets } from './capabilities.js';
import { MS } from './mount-flags.js';
import { idmapLayerOp } from './plan-builder.js';
import { encodePlan } from './plan-codec.js';
import type { SpawnPlan } from './plan.js';
import { readJsonFile, writeFileAtomic } from './record-file.js';
import { spawnMonitor } from './spawn.js';

const CACHE_DIR = '/run/tsdock';
const CACHE_FILE = join(CACHE_DIR, 'idmapped-layers.json');
/** Any mapping will do; the probe's root is this host id. */
const PROBE_ROOT = 100000;
const PROBE_COMMAND = '/.tsdock-idmap-probe';

const known = new Map<string, Promise<boolean>>();

/**
 * Whether layers on the filesystem of `dir` can be idmapped into a container's user namespace;
 * the probe works in a temporary directory below `dir`.
 *
 * @example if (await idmappedLayersSupported(layersDir)) { ... }
 */
export function idmappedLayersSupported(dir: string): Promise<boolean> {
  const key = `${release()} ${statfsSync(dir).type.toString(16)}`;
  let answer = known.get(key);
  if (answer === undefined) {
    answer = cachedOrProbed(key, dir);
    known.set(key, answer);
  }
  return answer;
}

async function cachedOrProbed(key: string, dir: string): Promise<boolean> {
  const cached = readJsonFile<Record<string, boolean>>(CACHE_FILE)?.[key];
  if (cached !== undefined) return cached;
  const verdict = await probe(dir);
  if (verdict === 'inconclusive') return false;
  const supported = verdict === 'supported';
  mkdirSync(CACHE_DIR, { recursive: true, mode: 0o755 });
  // Concurrent probes agree; the last rename wins with the same answer.
  writeFileAtomic(
    CACHE_FILE,
    JSON.stringify({ ...readJsonFile<Record<string, boolean>>(CACHE_FILE), [key]: supported }),
  );
  return supported;
}

/** Steps whose failure says the kernel or filesystem refuses idmapped overlay layers. */
const REFUSING_STEPS = new Set(['idmap', 'mount', 'chdir']);

/**
 * `inconclusive` when something else failed (out of memory, a vanished directory): the copies
 * serve this time and the next start asks again.
 */
async function probe(parent: string): Promise<'supported' | 'unsupported' | 'inconclusive'> {
  const dir = join(parent, `.idmap-probe-${randomBytes(6).toString('hex')}`);
  mkdirSync(dir);
  try {
    // 0711 as the layer store: the namespace's root (an unprivileged host id) passes through.
    chmodSync(dir, 0o711);
    for (const name of ['lower', 'upper', 'work', 'merged']) mkdirSync(join(dir, name));
    for (const name of ['upper', 'work']) chownSync(join(dir, name), PROBE_ROOT, PROBE_ROOT);
    const planFile = join(dir, 'plan');
    writeFileSync(planFile, encodePlan(probePlan(dir)), { mode: 0o600 });
    const monitor = spawnMonitor(planFile, { stdin: 'ignore', output: 'ignore' });
    try {
      await monitor.started;
      return 'inconclusive'; // cannot happen: the command does not exist
    } catch (err) {
      if (!(err instanceof StartError)) return 'inconclusive';
      if (err.step === 'exec') return 'supported';
      return REFUSING_STEPS.has(err.step) ? 'unsupported' : 'inconclusive';
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function probePlan(dir: string): SpawnPlan {
  const lower = join(dir, 'lower');
  const mapping = [{ containerID: 0, hostID: PROBE_ROOT, size: 65536 }];
  return {
    args: [PROBE_COMMAND],
    env: [],
    cwd: '/',
    rootfs: join(dir, 'merged'),
    namespaces: ['user', 'mount'],
    joinNamespaces: [],
    uidMappings: mapping,
    gidMappings: mapping,
    user: { uid: 0, gid: 0, additionalGids: [] },
    capabilities: capabilitySets([]),
    noNewPrivileges: true,
    rlimits: [],
    rootfsPropagation: MS.REC | MS.SLAVE,
    rootfsOps: [
      idmapLayerOp(lower),
      { kind: 'chdir', target: dir },
      {
        kind: 'mount',
        source: 'overlay',
        target: join(dir, 'merged'),
        fstype: 'overlay',
        flags: 0n,
        data: `lowerdir=lower,upperdir=${join(dir, 'upper')},workdir=${join(dir, 'work')},userxattr`,
      },
    ],
    containerOps: [],
    readonlyRootfs: false,
    loopbackUp: false,
    cgroupProcs: [],
    cgroupDirs: [],
  };
}
