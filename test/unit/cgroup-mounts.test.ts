import { describe, expect, it } from 'vitest';
import { cgroupFsContainerOps, cgroupFsOps } from '../../src/runtime/cgroup-mounts.js';
import type { CgroupMount } from '../../src/runtime/cgroups/detect.js';

const hybrid: CgroupMount[] = [
  { fstype: 'cgroup', root: '/', mountPoint: '/sys/fs/cgroup/memory', superOptions: ['rw', 'memory'] },
  { fstype: 'cgroup', root: '/', mountPoint: '/sys/fs/cgroup/cpu,cpuacct', superOptions: ['rw', 'cpu', 'cpuacct'] },
  {
    fstype: 'cgroup',
    root: '/',
    mountPoint: '/sys/fs/cgroup/systemd',
    superOptions: ['rw', 'xattr', 'release_agent=/x', 'name=systemd'],
  },
  { fstype: 'cgroup2', root: '/', mountPoint: '/sys/fs/cgroup/unified', superOptions: ['rw'] },
];

describe('cgroupFsOps', () => {
  it('mirrors a hybrid layout: a tmpfs, then one read-only mount per hierarchy', () => {
    const ops = cgroupFsOps(hybrid, '/r');
    expect(ops.map((op) => [op.target, op.kind === 'mount' ? `${op.fstype} ${op.data}` : ''])).toEqual([
      ['/r/sys/fs/cgroup', 'tmpfs mode=755'],
      ['/r/sys/fs/cgroup/memory', 'cgroup memory'],
      ['/r/sys/fs/cgroup/cpu,cpuacct', 'cgroup cpu,cpuacct'],
      ['/r/sys/fs/cgroup/systemd', 'cgroup name=systemd'],
      ['/r/sys/fs/cgroup/unified', 'cgroup2 '],
    ]);
    expect(ops.slice(1).every((op) => op.kind === 'mount' && (op.flags & 1n) === 1n)).toBe(true);
    expect(cgroupFsContainerOps(hybrid)).toEqual([{ kind: 'readonly', target: '/sys/fs/cgroup' }]);
  });

  it('mounts cgroup2 itself on a pure v2 host', () => {
    const v2: CgroupMount[] = [{ fstype: 'cgroup2', root: '/', mountPoint: '/sys/fs/cgroup', superOptions: ['rw'] }];
    expect(cgroupFsOps(v2, '/r')).toEqual([
      expect.objectContaining({ target: '/r/sys/fs/cgroup', fstype: 'cgroup2', flags: 15n }),
    ]);
    expect(cgroupFsContainerOps(v2)).toEqual([]);
  });

  it('adds nothing without cgroup mounts', () => {
    expect(cgroupFsOps([], '/r')).toEqual([]);
  });
});
