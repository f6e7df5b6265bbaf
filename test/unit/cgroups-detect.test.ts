import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import {
  buildHierarchy,
  CONTROLLERS,
  detectHierarchy,
  parseMountinfo,
  parseProcCgroup,
  servingHierarchy,
  type CgroupHierarchy,
  type Controller,
} from '../../src/runtime/cgroups/detect.js';

/** A systemd host on cgroup v2 only (Debian 12, Fedora), tsdock started from a user session. */
const pureV2 = {
  mountinfo: `22 28 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw
25 28 0:23 / /run rw,nosuid,nodev,noexec,relatime shared:2 - tmpfs tmpfs rw,size=1621268k,mode=755
28 1 254:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw,errors=remount-ro
30 24 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
31 24 0:27 / /sys/fs/pstore rw,nosuid,nodev,noexec,relatime shared:5 - pstore pstore rw`,
  cgroup: '0::/user.slice/user-0.slice/session-3.scope\n',
  controllers: 'cpuset cpu io memory hugetlb pids rdma misc\n',
};

/** CentOS 7 style: v1 only, cpu and cpuacct comounted, named systemd hierarchy, net_cls,net_prio. */
const pureV1 = {
  mountinfo: `18 41 0:17 / /sys rw,nosuid,nodev,noexec,relatime shared:6 - sysfs sysfs rw
24 18 0:20 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:7 - tmpfs tmpfs ro,mode=755
25 24 0:21 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:8 - cgroup cgroup rw,xattr,release_agent=/usr/lib/systemd/systemd-cgroups-agent,name=systemd
28 24 0:24 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:9 - cgroup cgroup rw,cpu,cpuacct
29 24 0:25 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:10 - cgroup cgroup rw,memory
30 24 0:26 / /sys/fs/cgroup/net_cls,net_prio rw,nosuid,nodev,noexec,relatime shared:11 - cgroup cgroup rw,net_cls,net_prio
31 24 0:27 / /sys/fs/cgroup/pids rw,nosuid,nodev,noexec,relatime shared:12 - cgroup cgroup rw,pids
32 24 0:28 / /sys/fs/cgroup/cpuset rw,nosuid,nodev,noexec,relatime shared:13 - cgroup cgroup rw,cpuset
33 24 0:29 / /sys/fs/cgroup/freezer rw,nosuid,nodev,noexec,relatime shared:14 - cgroup cgroup rw,freezer
34 24 0:30 / /sys/fs/cgroup/devices rw,nosuid,nodev,noexec,relatime shared:15 - cgroup cgroup rw,devices
35 24 0:31 / /sys/fs/cgroup/blkio rw,nosuid,nodev,noexec,relatime shared:16 - cgroup cgroup rw,blkio`,
  cgroup: `11:blkio:/user.slice
10:devices:/user.slice
9:freezer:/
8:cpuset:/
7:pids:/user.slice/user-0.slice/session-1.scope
6:net_cls,net_prio:/
5:memory:/user.slice
4:cpu,cpuacct:/user.slice
1:name=systemd:/user.slice/user-0.slice/session-1.scope
`,
};

/** This development host, as captured: v1 controllers mounted one by one, plus an empty cgroup2 tree. */
const hybrid = {
  mountinfo: `31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw`,
  cgroup: `9:name=systemd:/
8:pids:/
7:blkio:/
6:freezer:/
5:devices:/
4:memory:/process_api/d1b99e2317ce19840204e6d9105bacf3
3:cpuset:/
2:cpuacct:/
1:cpu:/
0::/
`,
  controllers: 'hugetlb\n',
};

/**
 * Inside a Docker container on a v1 host: the mounts' roots are the container's cgroup, while
 * /proc/self/cgroup (no cgroup namespace) shows the full path; one mount point has a space.
 */
const containerView = {
  mountinfo: `700 690 0:51 /docker/abc /sys/fs/cgroup/memory ro,nosuid,nodev,noexec,relatime master:10 - cgroup cgroup rw,memory
701 690 0:52 /docker/abc /sys/fs/cgroup/my\\040pids ro,nosuid,nodev,noexec,relatime master:11 - cgroup cgroup rw,pids`,
  cgroup: `5:memory:/docker/abc
7:pids:/docker/abc/sub
`,
};

function build(sample: { mountinfo: string; cgroup: string; controllers?: string }): CgroupHierarchy {
  return buildHierarchy(parseMountinfo(sample.mountinfo), parseProcCgroup(sample.cgroup), sample.controllers ?? '');
}

function served(h: CgroupHierarchy): Record<Controller, string | undefined> {
  return Object.fromEntries(CONTROLLERS.map((c) => [c, servingHierarchy(h, c)])) as Record<
    Controller,
    string | undefined
  >;
}

describe('parseMountinfo', () => {
  it('keeps only cgroup and cgroup2 mounts, with root, mount point and super options', () => {
    const mounts = parseMountinfo(pureV1.mountinfo);
    expect(mounts.map((m) => m.mountPoint)).toStrictEqual([
      '/sys/fs/cgroup/systemd',
      '/sys/fs/cgroup/cpu,cpuacct',
      '/sys/fs/cgroup/memory',
      '/sys/fs/cgroup/net_cls,net_prio',
      '/sys/fs/cgroup/pids',
      '/sys/fs/cgroup/cpuset',
      '/sys/fs/cgroup/freezer',
      '/sys/fs/cgroup/devices',
      '/sys/fs/cgroup/blkio',
    ]);
    expect(mounts[1]).toStrictEqual({
      fstype: 'cgroup',
      root: '/',
      mountPoint: '/sys/fs/cgroup/cpu,cpuacct',
      superOptions: ['rw', 'cpu', 'cpuacct'],
    });
  });

  it('handles optional fields of any count and a cgroup2 mount', () => {
    expect(parseMountinfo(pureV2.mountinfo)).toStrictEqual([
      {
        fstype: 'cgroup2',
        root: '/',
        mountPoint: '/sys/fs/cgroup',
        superOptions: ['rw', 'nsdelegate', 'memory_recursiveprot'],
      },
    ]);
    expect(parseMountinfo(hybrid.mountinfo).at(-1)?.fstype).toBe('cgroup2');
  });

  it('decodes octal escapes in paths', () => {
    expect(parseMountinfo(containerView.mountinfo)[1]?.mountPoint).toBe('/sys/fs/cgroup/my pids');
  });
});

describe('parseProcCgroup', () => {
  it('maps every comounted subsystem to its path and finds the v2 line', () => {
    const parsed = parseProcCgroup(pureV1.cgroup);
    expect(parsed.v1.get('cpu')).toBe('/user.slice');
    expect(parsed.v1.get('cpuacct')).toBe('/user.slice');
    expect(parsed.v1.get('name=systemd')).toBe('/user.slice/user-0.slice/session-1.scope');
    expect(parsed.v2).toBeUndefined();
    expect(parseProcCgroup(pureV2.cgroup)).toStrictEqual({
      v1: new Map(),
      v2: '/user.slice/user-0.slice/session-3.scope',
    });
  });

  it('keeps colons inside a path', () => {
    expect(parseProcCgroup('0::/a:b/c\n').v2).toBe('/a:b/c');
  });
});

describe('buildHierarchy', () => {
  it('pure v2: every controller from the unified tree, own path from the 0:: line', () => {
    const h = build(pureV2);
    expect(h.v1).toStrictEqual({});
    expect(h.v2).toStrictEqual({
      mountPoint: '/sys/fs/cgroup',
      controllers: ['cpuset', 'cpu', 'io', 'memory', 'hugetlb', 'pids', 'rdma', 'misc'],
      ownPath: '/user.slice/user-0.slice/session-3.scope',
    });
    expect(served(h)).toStrictEqual({
      memory: 'v2',
      cpu: 'v2',
      cpuacct: 'v2',
      cpuset: 'v2',
      pids: 'v2',
      freezer: 'v2',
      devices: 'v2',
      blkio: 'v2',
    });
  });

  it('pure v2 without delegated controllers still serves the core features', () => {
    const h = build({ ...pureV2, controllers: '\n' });
    expect(served(h)).toStrictEqual({
      memory: undefined,
      cpu: undefined,
      cpuacct: 'v2',
      cpuset: undefined,
      pids: undefined,
      freezer: 'v2',
      devices: 'v2',
      blkio: undefined,
    });
  });

  it('pure v1: comounted cpu,cpuacct share one hierarchy; named and unused hierarchies are ignored', () => {
    const h = build(pureV1);
    expect(h.v2).toBeUndefined();
    expect(h.v1.cpu).toStrictEqual({ mountPoint: '/sys/fs/cgroup/cpu,cpuacct', ownPath: '/user.slice' });
    expect(h.v1.cpuacct).toBe(h.v1.cpu);
    expect(h.v1.pids).toStrictEqual({
      mountPoint: '/sys/fs/cgroup/pids',
      ownPath: '/user.slice/user-0.slice/session-1.scope',
    });
    expect(Object.keys(h.v1).sort()).toStrictEqual([...CONTROLLERS].sort());
    expect(new Set(Object.values(served(h)))).toStrictEqual(new Set(['v1']));
  });

  it('hybrid: controllers from v1, the empty unified tree kept for freeze/kill/events', () => {
    const h = build(hybrid);
    expect(h.v1.memory).toStrictEqual({
      mountPoint: '/sys/fs/cgroup/memory',
      ownPath: '/process_api/d1b99e2317ce19840204e6d9105bacf3',
    });
    expect(h.v1.cpu).toStrictEqual({ mountPoint: '/sys/fs/cgroup/cpu', ownPath: '/' });
    expect(h.v1.cpuacct).toStrictEqual({ mountPoint: '/sys/fs/cgroup/cpuacct', ownPath: '/' });
    expect(h.v1.cpuacct).not.toBe(h.v1.cpu);
    expect(h.v2).toStrictEqual({ mountPoint: '/sys/fs/cgroup/unified', controllers: ['hugetlb'], ownPath: '/' });
    expect(new Set(Object.values(served(h)))).toStrictEqual(new Set(['v1']));
  });

  it('a mount rooted at a sub-cgroup sees the own path relative to that root', () => {
    const h = build(containerView);
    expect(h.v1.memory).toStrictEqual({ mountPoint: '/sys/fs/cgroup/memory', ownPath: '/' });
    expect(h.v1.pids).toStrictEqual({ mountPoint: '/sys/fs/cgroup/my pids', ownPath: '/sub' });
    expect(served(h).cpu).toBeUndefined();
  });

  it('the first mount of a hierarchy wins over later bind mounts', () => {
    const mounts = parseMountinfo(
      `${hybrid.mountinfo}\n90 31 0:32 / /mnt/memory-again rw,relatime - cgroup cgroup rw,memory\n91 31 0:38 / /mnt/unified-again rw - cgroup2 cgroup2 rw`,
    );
    const h = buildHierarchy(mounts, parseProcCgroup(hybrid.cgroup), '');
    expect(h.v1.memory?.mountPoint).toBe('/sys/fs/cgroup/memory');
    expect(h.v2?.mountPoint).toBe('/sys/fs/cgroup/unified');
  });
});

describe('detectHierarchy on this host', () => {
  it('agrees with /proc/self/cgroup for every hierarchy it reports', async () => {
    const h = detectHierarchy();
    const own = parseProcCgroup(await readFile('/proc/self/cgroup', 'utf8'));
    for (const controller of CONTROLLERS) {
      const v1 = h.v1[controller];
      if (v1 !== undefined) expect(v1.ownPath).toBe(own.v1.get(controller));
    }
    expect(h.v2?.ownPath).toBe(own.v2);
    expect(Object.keys(h.v1).length > 0 || h.v2 !== undefined).toBe(true);
  });
});
