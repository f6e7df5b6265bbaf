import { describe, expect, it } from 'vitest';
import { cgroupPlace, expandSlice } from '../../src/oci/cgroups-path.js';
import { resourcesToLimits } from '../../src/oci/resources.js';
import { parseProcess, parseResources, parseSpec, type OciSpec } from '../../src/oci/spec.js';
import { processToExecPlan, specToPlan, type HostFacts } from '../../src/oci/spec-plan.js';
import { MS } from '../../src/runtime/mount-flags.js';
import { failure } from '../helpers/errors.js';

const facts: HostFacts = {
  bundle: '/b',
  sourceKind: (path) => (path.endsWith('.conf') ? 'file' : 'dir'),
  cgroupMounts: [{ fstype: 'cgroup', root: '/', mountPoint: '/sys/fs/cgroup/memory', superOptions: ['rw', 'memory'] }],
  // As on the development host: everything up to 40 but CAP_SYS_RESOURCE (24).
  hostCaps: [...Array(41).keys()].filter((n) => n !== 24),
};

/** A config.json as containerd writes one, trimmed to what the tests look at. */
function config(over: Record<string, unknown> = {}, linux: Record<string, unknown> = {}): string {
  return JSON.stringify({
    ociVersion: '1.0.2',
    root: { path: 'rootfs' },
    process: {
      args: ['sh', '-c', 'true'],
      env: ['PATH=/bin'],
      cwd: '/work',
      user: { uid: 1000, gid: 1000, additionalGids: [10] },
      capabilities: { bounding: ['CAP_KILL', 'CAP_CHOWN'], effective: ['CAP_KILL'], permitted: ['CAP_KILL'] },
      rlimits: [{ type: 'RLIMIT_NOFILE', soft: 1024, hard: 4096 }],
      noNewPrivileges: true,
      oomScoreAdj: 100,
    },
    hostname: 'box',
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755'] },
      { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'newinstance', 'gid=5'] },
      { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'ro'] },
      { destination: '/etc/resolv.conf', type: 'bind', source: '/host/resolv.conf', options: ['rbind', 'ro'] },
      { destination: '/data', source: 'vol', options: ['bind', 'rshared'] },
    ],
    ...over,
    linux: {
      namespaces: [{ type: 'pid' }, { type: 'mount' }, { type: 'uts' }, { type: 'network', path: '/run/netns/n1' }],
      maskedPaths: ['/proc/kcore'],
      readonlyPaths: ['/proc/sys'],
      sysctl: { 'net.ipv4.ip_forward': '1' },
      ...linux,
    },
  });
}

const plan = (over: Record<string, unknown> = {}, linux: Record<string, unknown> = {}) =>
  specToPlan(parseSpec(config(over, linux)), facts);

describe('specToPlan', () => {
  it('carries the process over: argv, env, cwd, ids, capability sets, rlimits, no_new_privs, oom score', () => {
    const p = plan();
    expect(p).toMatchObject({
      args: ['sh', '-c', 'true'],
      env: ['PATH=/bin'],
      cwd: '/work',
      hostname: 'box',
      rootfs: '/b/rootfs',
      user: { uid: 1000, gid: 1000, additionalGids: [10] },
      capabilities: { bounding: [5, 0], effective: [5], permitted: [5], inheritable: [], ambient: [] },
      rlimits: [{ resource: 7, soft: 1024n, hard: 4096n }],
      noNewPrivileges: true,
      oomScoreAdj: 100,
      cgroupDirs: [],
    });
  });

  it('creates the listed namespaces, joins those with a path, and brings lo up only in its own netns', () => {
    const p = plan();
    expect(p.namespaces).toEqual(['pid', 'mount', 'uts']);
    expect(p.joinNamespaces).toEqual([{ type: 'network', path: '/run/netns/n1' }]);
    expect(p.loopbackUp).toBe(false);
    expect(plan({}, { namespaces: [{ type: 'mount' }, { type: 'uts' }, { type: 'network' }] }).loopbackUp).toBe(true);
  });

  it('binds the rootfs onto itself first, then the mounts in order, then /dev nodes and links', () => {
    const ops = plan().rootfsOps;
    expect(ops[0]).toMatchObject({ kind: 'mount', source: '/b/rootfs', target: '/b/rootfs', flags: MS.BIND | MS.REC });
    expect(ops[1]).toMatchObject({ kind: 'mount', target: '/b/rootfs/proc', fstype: 'proc', noSymlinks: true });
    expect(ops[2]).toMatchObject({ target: '/b/rootfs/dev', flags: MS.NOSUID | MS.STRICTATIME, data: 'mode=755' });
    expect(ops[4]).toMatchObject({ target: '/b/rootfs/sys', flags: MS.NOSUID | MS.RDONLY, noSymlinks: true });
    // A bind mount is made first and made read-only by a remount; a file source gets a file target.
    expect(ops[5]).toMatchObject({
      source: '/host/resolv.conf',
      flags: MS.BIND | MS.REC,
      readonly: true,
      createTarget: 'file',
    });
    // A relative source is the bundle's; propagation rides along.
    expect(ops[6]).toMatchObject({ source: '/b/vol', flags: MS.BIND | MS.SHARED | MS.REC, createTarget: 'dir' });
    const dev = ops.slice(7);
    expect(dev.filter((o) => o.kind === 'mknod').map((o) => o.target)).toEqual(
      ['null', 'zero', 'full', 'random', 'urandom', 'tty'].map((n) => `/b/rootfs/dev/${n}`),
    );
    expect(dev.filter((o) => o.kind === 'symlink').map((o) => o.target)).toContain('/b/rootfs/dev/ptmx');
  });

  it('writes sysctls, then masks, then read-only paths, after pivot_root', () => {
    expect(plan().containerOps).toEqual([
      { kind: 'mkdir', target: '/work', mode: 0o755 },
      { kind: 'write', target: '/proc/sys/net/ipv4/ip_forward', data: '1' },
      { kind: 'mask', target: '/proc/kcore' },
      { kind: 'readonly', target: '/proc/sys' },
    ]);
  });

  it("mirrors the host's cgroup hierarchies for a cgroup mount", () => {
    const p = plan({ mounts: [{ destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup' }] });
    expect(p.rootfsOps.map((o) => o.target)).toEqual([
      '/b/rootfs',
      '/b/rootfs/sys/fs/cgroup',
      '/b/rootfs/sys/fs/cgroup/memory',
    ]);
    expect(p.containerOps).toContainEqual({ kind: 'readonly', target: '/sys/fs/cgroup' });
  });

  it('user namespaces: maps ids, and binds device nodes instead of mknod', () => {
    const p = plan(
      {},
      {
        namespaces: [{ type: 'mount' }, { type: 'uts' }, { type: 'user' }],
        uidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }],
        gidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }],
        devices: [{ type: 'c', path: '/dev/fuse', major: 10, minor: 229 }],
      },
    );
    expect(p.uidMappings).toEqual([{ containerID: 0, hostID: 100000, size: 65536 }]);
    expect(p.rootfsOps.filter((o) => o.kind === 'mknod')).toEqual([]);
    expect(p.rootfsOps).toContainEqual(expect.objectContaining({ source: '/dev/fuse', target: '/b/rootfs/dev/fuse' }));
  });

  it('idmaps a bind mount with uidMappings/gidMappings to them, or with idmap alone to the user namespace', () => {
    const maps = {
      uid: [{ containerID: 0, hostID: 1000, size: 10 }],
      gid: [{ containerID: 0, hostID: 2000, size: 10 }],
    };
    const mounts = (mount: Record<string, unknown>) => ({
      mounts: [{ destination: '/data', type: 'bind', source: '/host/data', options: ['rbind', 'ro'], ...mount }],
    });
    const own = plan(mounts({ uidMappings: maps.uid, gidMappings: maps.gid, options: ['rbind', 'ro', 'idmap'] }));
    expect(own.rootfsOps).toContainEqual(
      expect.objectContaining({
        target: '/b/rootfs/data',
        flags: MS.BIND,
        readonly: true,
        idmap: true,
        idmapMappings: maps,
      }),
    );
    const userns = plan(mounts({ options: ['rbind', 'idmap'] }), {
      namespaces: [{ type: 'mount' }, { type: 'uts' }, { type: 'user' }],
      uidMappings: maps.uid,
      gidMappings: maps.gid,
    });
    const bind = userns.rootfsOps.find((o) => o.target === '/b/rootfs/data');
    expect(bind).toMatchObject({ flags: MS.BIND, idmap: true });
    expect(bind).not.toHaveProperty('idmapMappings');
    expect(plan(mounts({})).rootfsOps).toContainEqual(
      expect.objectContaining({ target: '/b/rootfs/data', flags: MS.BIND | MS.REC }),
    );
  });

  it.each([
    ['uidMappings alone', { uidMappings: [{ containerID: 0, hostID: 1, size: 1 }] }, /go together/],
    ['ridmap', { options: ['rbind', 'ridmap'], uidMappings: [], gidMappings: [] }, /ridmap .* is not supported/],
    ['idmap without a user namespace', { options: ['rbind', 'idmap'] }, /needs a new "user" namespace/],
    ['an idmapped tmpfs', { type: 'tmpfs', source: 'tmpfs', options: ['idmap'] }, /only bind mounts can be idmapped/],
  ])('refuses a mount with %s', (_, mount, message) => {
    const over = {
      mounts: [{ destination: '/data', type: 'bind', source: '/host/data', options: ['rbind'], ...mount }],
    };
    expect(failure(() => plan(over)).message).toMatch(message);
  });

  it('makes / rslave by default, rprivate on request, never shared', () => {
    expect(plan().rootfsPropagation).toBe(MS.REC | MS.SLAVE);
    expect(plan({}, { rootfsPropagation: 'rprivate' }).rootfsPropagation).toBe(MS.REC | MS.PRIVATE);
    const shared = plan({}, { rootfsPropagation: 'rshared' });
    expect(shared.rootfsPropagation).toBe(MS.REC | MS.SLAVE);
    expect(shared.rootfsOps[0]).toMatchObject({ flags: MS.BIND | MS.REC | MS.SHARED });
  });

  it('keeps every capability when the spec names none, and sizes a terminal', () => {
    const p = plan({
      process: {
        args: ['sh'],
        cwd: '/',
        user: { uid: 0, gid: 0 },
        terminal: true,
        consoleSize: { height: 24, width: 80 },
      },
    });
    expect(p.capabilities.bounding).toHaveLength(40);
    expect(p.capabilities.bounding).not.toContain(24);
    expect(p.terminal).toEqual({ rows: 24, cols: 80 });
  });

  it('compiles the spec seccomp profile', () => {
    const seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mount'], action: 'SCMP_ACT_ERRNO' }] };
    expect(plan({}, { seccomp }).seccomp?.length).toBeGreaterThan(3);
    expect(plan().seccomp).toBeUndefined();
  });

  it.each([
    [
      'a namespace it does not know',
      {},
      { namespaces: [{ type: 'mount' }, { type: 'time' }] },
      /"time" is not supported/,
    ],
    ['no mount namespace', {}, { namespaces: [{ type: 'pid' }] }, /"mount" namespace is required/],
    ['a namespace twice', {}, { namespaces: [{ type: 'mount' }, { type: 'mount' }] }, /listed twice/],
    ['a hostname without a uts namespace', {}, { namespaces: [{ type: 'mount' }] }, /needs a new "uts"/],
    [
      'a user namespace without maps',
      {},
      { namespaces: [{ type: 'mount' }, { type: 'uts' }, { type: 'user' }] },
      /uidMappings/,
    ],
    [
      'an unknown rlimit',
      {
        process: { args: ['x'], cwd: '/', user: { uid: 0, gid: 0 }, rlimits: [{ type: 'RLIMIT_X', soft: 1, hard: 1 }] },
      },
      {},
      /unknown type "RLIMIT_X"/,
    ],
    ['a bad sysctl key', {}, { sysctl: { '../x': '1' } }, /invalid key/],
    ['a bad propagation', {}, { rootfsPropagation: 'weird' }, /unknown value "weird"/],
    ['a device outside /dev', {}, { devices: [{ type: 'c', path: '/x', major: 1, minor: 1 }] }, /not below \/dev/],
  ])('refuses %s', (_, over, linux, message) => {
    expect(failure(() => plan(over, linux)).message).toMatch(message);
  });
});

describe('parseSpec', () => {
  it.each([
    ['not JSON', '{', /config.json: not JSON/],
    ['no root', JSON.stringify({ ociVersion: '1', process: {} }), /root: expected an object/],
    [
      'args of the wrong type',
      config({ process: { args: ['a', 1], cwd: '/', user: {} } }),
      /process.args\[1\]: expected a string/,
    ],
    ['empty args', config({ process: { args: [], cwd: '/', user: {} } }), /process.args: expected at least one/],
    [
      'a relative cwd',
      config({ process: { args: ['a'], cwd: 'x', user: {} } }),
      /process.cwd: expected an absolute path/,
    ],
    [
      'a negative uid',
      config({ process: { args: ['a'], cwd: '/', user: { uid: -1 } } }),
      /process.user.uid: expected a non-negative/,
    ],
    ['a relative mount destination', config({ mounts: [{ destination: 'x' }] }), /mounts\[0\].destination/],
  ])('names the field for %s', (_, text, message) => {
    expect(failure(() => parseSpec(text)).message).toMatch(message);
  });

  it('reads exec process files and update documents', () => {
    expect(parseProcess('{"args":["id"],"cwd":"/","user":{"uid":5,"gid":6}}', 'p.json').user).toEqual({
      uid: 5,
      gid: 6,
      additionalGids: undefined,
    });
    expect(parseResources('{"pids":{"limit":10}}', '-').pids).toEqual({ limit: 10 });
  });
});

describe('exec plans', () => {
  it("join the init's namespaces and cgroup with the process's own settings", () => {
    const spec: OciSpec = parseSpec(config());
    const p = processToExecPlan(
      spec,
      parseProcess('{"args":["id"],"cwd":"/tmp","user":{"uid":1,"gid":2}}', 'p'),
      [{ type: 'mount', path: '/proc/9/ns/mnt' }],
      ['/cg/cgroup.procs'],
      facts.hostCaps,
    );
    expect(p).toMatchObject({ args: ['id'], cwd: '/tmp', namespaces: [], cgroupProcs: ['/cg/cgroup.procs'] });
    expect(p.rootfs).toBeUndefined();
  });
});

describe('cgroupPlace', () => {
  it.each([
    [undefined, { parent: '/tsdock-runtime', name: 'c1' }],
    ['/tsdocktest/c1', { parent: '/tsdocktest', name: 'c1' }],
    ['/c1', { parent: '/', name: 'c1' }],
    ['pods/c1', { parent: 'pods', name: 'c1' }],
    ['system.slice:cri:abc', { parent: '/system.slice', name: 'cri-abc.scope' }],
    ['kube-pods-x.slice:cri:abc', { parent: '/kube.slice/kube-pods.slice/kube-pods-x.slice', name: 'cri-abc.scope' }],
    [':cri:abc', { parent: '/system.slice', name: 'cri-abc.scope' }],
  ])('places %s', (path, expected) => {
    expect(cgroupPlace(path, 'c1')).toEqual(expected);
  });

  it('refuses what names no cgroup', () => {
    expect(failure(() => cgroupPlace('c1', 'c1')).message).toMatch(/linux.cgroupsPath "c1"/);
    expect(failure(() => expandSlice('a--b.slice')).message).toMatch(/empty/);
  });
});

describe('resourcesToLimits', () => {
  it('maps memory, swap, cpu, pids and device rules, -1 and 0 meaning no limit', () => {
    expect(
      resourcesToLimits({
        memory: { limit: 64 << 20, swap: -1 },
        cpu: { shares: 512, quota: 50000, period: 100000, cpus: '0' },
        pids: { limit: 0 },
        devices: [
          { allow: false, access: 'rwm' },
          { allow: true, type: 'c', major: 1, minor: -1, access: 'r' },
        ],
      }),
    ).toEqual({
      memory: 64 << 20,
      memorySwap: 'max',
      cpuShares: 512,
      cpuQuota: 50000,
      cpuPeriod: 100000,
      cpusetCpus: '0',
      pidsLimit: 'max',
      devices: [
        { allow: false, type: 'a', major: undefined, minor: undefined, access: 'rwm' },
        { allow: true, type: 'c', major: 1, minor: undefined, access: 'r' },
      ],
    });
    expect(resourcesToLimits({ cpu: { quota: -1 } })).toEqual({});
  });
});
