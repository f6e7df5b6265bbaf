/**
 * The container's view of /sys/fs/cgroup: the host's cgroup hierarchies mounted again inside
 * the container's cgroup namespace, read-only, so that each shows the container's own cgroup
 * as its root (`cat /sys/fs/cgroup/memory/memory.limit_in_bytes` reads the container's limit).
 */
import { posix } from 'node:path';
import type { CgroupMount } from './cgroups/detect.js';
import type { FsOp } from './plan.js';
import { MS } from './mount-flags.js';

const HOST_CGROUP_ROOT = '/sys/fs/cgroup';
const RO = MS.RDONLY | MS.NOSUID | MS.NODEV | MS.NOEXEC;

/** The v1 super options that name a hierarchy: its controllers and `name=`; not rw, xattr, agents. */
function hierarchyOptions(mount: CgroupMount): string {
  return mount.superOptions
    .filter((o) => !['rw', 'ro', 'xattr', 'clone_children', 'noprefix'].includes(o) && !o.startsWith('release_agent='))
    .join(',');
}

/**
 * Mount steps for `<rootfs>/sys/fs/cgroup`, mirroring the host's layout below /sys/fs/cgroup:
 * pure v2 mounts cgroup2 there; v1 and hybrid hosts get a tmpfs with one mount per hierarchy.
 * Must run after `unshare(CLONE_NEWCGROUP)`, which the child does before any mount step.
 */
export function cgroupFsOps(hostMounts: readonly CgroupMount[], rootfs: string): FsOp[] {
  const target = posix.join(rootfs, HOST_CGROUP_ROOT);
  const below = hostMounts.filter((m) => m.mountPoint.startsWith(`${HOST_CGROUP_ROOT}/`));
  if (hostMounts.some((m) => m.fstype === 'cgroup2' && m.mountPoint === HOST_CGROUP_ROOT)) {
    return [{ kind: 'mount', source: 'cgroup2', target, fstype: 'cgroup2', flags: RO, data: '' }];
  }
  if (below.length === 0) return [];
  return [
    {
      kind: 'mount',
      source: 'tmpfs',
      target,
      fstype: 'tmpfs',
      flags: MS.NOSUID | MS.NODEV | MS.NOEXEC,
      data: 'mode=755',
    },
    ...below.map((m): FsOp => ({
      kind: 'mount',
      source: m.fstype,
      target: posix.join(rootfs, m.mountPoint),
      fstype: m.fstype,
      flags: RO,
      data: m.fstype === 'cgroup' ? hierarchyOptions(m) : '',
      createTarget: 'dir',
    })),
  ];
}

/** After the pivot: the tmpfs that holds the hierarchies is made read-only too. */
export function cgroupFsContainerOps(hostMounts: readonly CgroupMount[]): FsOp[] {
  const tmpfsLayout = hostMounts.some((m) => m.mountPoint.startsWith(`${HOST_CGROUP_ROOT}/`));
  const pureV2 = hostMounts.some((m) => m.fstype === 'cgroup2' && m.mountPoint === HOST_CGROUP_ROOT);
  return tmpfsLayout && !pureV2 ? [{ kind: 'readonly', target: HOST_CGROUP_ROOT }] : [];
}
