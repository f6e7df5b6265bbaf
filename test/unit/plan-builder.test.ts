import { describe, expect, it } from 'vitest';
import { MS } from '../../src/runtime/mount-flags.js';
import { buildSpawnPlan, resolveArgs, resolveEnv, type PlanInput } from '../../src/runtime/plan-builder.js';
import type { FsOp } from '../../src/runtime/plan.js';

const paths = {
  rootfs: '/s/c/rootfs',
  upper: '/s/c/upper',
  work: '/s/c/work',
  hostname: '/s/c/hostname',
  hosts: '/s/c/hosts',
  resolvConf: '/s/c/resolv.conf',
  exitFile: '/s/c/exit.json',
};

function input(overrides: Partial<PlanInput> = {}): PlanInput {
  return {
    id: 'abcdef0123456789',
    config: { Cmd: ['sh'], Env: ['PATH=/bin', 'FOO=image'], WorkingDir: '/srv' },
    layerDirs: ['/s/layers/aaa', '/s/layers/bbb'],
    options: {},
    user: { uid: 0, gid: 0, additionalGids: [], home: '/root' },
    paths,
    bindKinds: [],
    cgroup: { procsFiles: ['/cg/memory/x/cgroup.procs'], dirs: ['/cg/memory/x'], oom: undefined },
    nofileHardLimit: 20000n,
    cgroupMounts: [],
    ...overrides,
  };
}

const targets = (ops: FsOp[]): string[] => ops.map((op) => `${op.kind} ${op.target}`);

describe('resolveArgs', () => {
  it.each([
    [{ Entrypoint: ['/ep'], Cmd: ['a'] }, {}, ['/ep', 'a']],
    [{ Entrypoint: ['/ep'], Cmd: ['a'] }, { command: ['b'] }, ['/ep', 'b']],
    [{ Entrypoint: ['/ep'], Cmd: ['a'] }, { entrypoint: ['/other'] }, ['/other']],
    [{ Entrypoint: ['/ep'], Cmd: ['a'] }, { entrypoint: [], command: ['ls'] }, ['ls']],
    [{ Cmd: ['sh'] }, {}, ['sh']],
  ])('%j + %j', (config, options, expected) => {
    expect(resolveArgs(config, options)).toEqual(expected);
  });

  it('fails clearly without any command', () => {
    expect(() => resolveArgs({}, {})).toThrow(/no command specified/);
  });
});

describe('resolveEnv', () => {
  it('layers image env, user env and defaults', () => {
    const env = resolveEnv({ Env: ['PATH=/bin', 'A=1'] }, { env: ['A=2', 'B=3'] }, 'host1', '/root');
    expect(env).toEqual(['PATH=/bin', 'HOSTNAME=host1', 'A=2', 'B=3', 'HOME=/root']);
  });
});

describe('buildSpawnPlan', () => {
  it('builds the default isolation', () => {
    const plan = buildSpawnPlan(input());
    expect(plan.args).toEqual(['sh']);
    expect(plan.cwd).toBe('/srv');
    expect(plan.hostname).toBe('abcdef012345');
    expect(plan.namespaces.sort()).toEqual(['cgroup', 'ipc', 'mount', 'network', 'pid', 'uts']);
    expect(plan.loopbackUp).toBe(true);
    expect(plan.rlimits).toEqual([{ resource: 7, soft: 1024n, hard: 20000n }]);
    expect(plan.cgroupProcs).toEqual(['/cg/memory/x/cgroup.procs']);
    const overlay = plan.rootfsOps[1];
    expect(plan.rootfsOps[0]).toEqual({ kind: 'chdir', target: '/s/layers' });
    expect(overlay).toMatchObject({ kind: 'mount', fstype: 'overlay', target: '/s/c/rootfs' });
    expect(overlay?.kind === 'mount' && overlay.data).toBe(
      'lowerdir=bbb:aaa,upperdir=/s/c/upper,workdir=/s/c/work,redirect_dir=nofollow,metacopy=off',
    );
    expect(targets(plan.rootfsOps)).toEqual(
      expect.arrayContaining([
        'mount /s/c/rootfs/proc',
        'mount /s/c/rootfs/dev',
        'mknod /s/c/rootfs/dev/null',
        'mount /s/c/rootfs/dev/pts',
        'mount /s/c/rootfs/sys',
        'mount /s/c/rootfs/etc/hosts',
      ]),
    );
    expect(targets(plan.containerOps)).toEqual(
      expect.arrayContaining(['mask /proc/kcore', 'readonly /proc/sysrq-trigger']),
    );
  });

  it('shares host namespaces on request and keeps the host name then', () => {
    const plan = buildSpawnPlan(input({ options: { network: 'host', pid: 'host', ipc: 'host', uts: 'host' } }));
    expect(plan.namespaces.sort()).toEqual(['cgroup', 'mount']);
    expect(plan.hostname).toBeUndefined();
    expect(plan.loopbackUp).toBe(false);
  });

  it("joins a pod's namespaces instead of creating them, and keeps the pod's host name", () => {
    const plan = buildSpawnPlan(
      input({
        options: { hostname: 'pod1' },
        networkNamespace: '/run/p/net',
        sharedNamespaces: [
          { type: 'ipc', path: '/run/p/ipc' },
          { type: 'uts', path: '/run/p/uts' },
          { type: 'pid', path: '/run/p/pid' },
        ],
      }),
    );
    expect(plan.namespaces.sort()).toEqual(['cgroup', 'mount']);
    expect(plan.joinNamespaces.map((j) => j.type)).toEqual(['network', 'ipc', 'uts', 'pid']);
    expect(plan.hostname).toBeUndefined();
    expect(plan.env).toContain('HOSTNAME=pod1');
    expect(plan.loopbackUp).toBe(false);
  });

  it.each(['private', 'auto'] as const)(
    'binds devices instead of mknod in a user namespace (%s) and maps ids',
    (userns) => {
      const map = [{ containerID: 0, hostID: 100000, size: 65536 }];
      const plan = buildSpawnPlan(input({ options: { userns }, idMappings: { uid: map, gid: map } }));
      expect(plan.namespaces).toContain('user');
      expect(plan.uidMappings).toEqual(map);
      expect(targets(plan.rootfsOps)).not.toContain('mknod /s/c/rootfs/dev/null');
      expect(plan.rootfsOps).toContainEqual(
        expect.objectContaining({ source: '/dev/null', target: '/s/c/rootfs/dev/null', flags: MS.BIND }),
      );
      expect(plan.rootfsOps[1]).toMatchObject({ data: expect.stringMatching(/,userxattr$/) as unknown });
    },
  );

  it('idmaps each layer onto itself before the overlay, in a user namespace only', () => {
    const map = [{ containerID: 0, hostID: 200000, size: 65536 }];
    const idmapped = buildSpawnPlan(
      input({ options: { userns: 'auto' }, idMappings: { uid: map, gid: map }, idmappedLayers: true }),
    );
    expect(idmapped.rootfsOps.slice(0, 4)).toEqual([
      {
        kind: 'mount',
        source: '/s/layers/aaa',
        target: '/s/layers/aaa',
        fstype: '',
        flags: MS.BIND,
        data: '',
        idmap: true,
      },
      {
        kind: 'mount',
        source: '/s/layers/bbb',
        target: '/s/layers/bbb',
        fstype: '',
        flags: MS.BIND,
        data: '',
        idmap: true,
      },
      { kind: 'chdir', target: '/s/layers' },
      expect.objectContaining({
        fstype: 'overlay',
        data: expect.stringMatching(/^lowerdir=bbb:aaa,.*,userxattr$/) as unknown,
      }),
    ]);
    const copies = buildSpawnPlan(input({ options: { userns: 'auto' }, idMappings: { uid: map, gid: map } }));
    expect(copies.rootfsOps.filter((op) => op.kind === 'mount' && op.idmap === true)).toEqual([]);
    const tooMany = Array.from({ length: 254 }, (_, i) => `/s/layers/l${String(i)}`);
    expect(() =>
      buildSpawnPlan(
        input({
          options: { userns: 'auto' },
          idMappings: { uid: map, gid: map },
          idmappedLayers: true,
          layerDirs: tooMany,
        }),
      ),
    ).toThrow(/254 layers cannot be idmapped/);
  });

  it('makes an idmap volume an idmapped bind of its source alone, counted with the layers', () => {
    const map = [{ containerID: 0, hostID: 100000, size: 65536 }];
    const userns = { options: { userns: 'private' as const }, idMappings: { uid: map, gid: map } };
    const volume = (idmap: boolean) => ({ source: '/h/v', target: '/v', readonly: true, ...(idmap ? { idmap } : {}) });
    const bindOf = (plan: ReturnType<typeof buildSpawnPlan>): FsOp | undefined =>
      plan.rootfsOps.find((op) => op.target === '/s/c/rootfs/v');
    const plain = buildSpawnPlan(input({ ...userns, options: { ...userns.options, binds: [volume(false)] } }));
    expect(bindOf(plain)).toMatchObject({ flags: MS.BIND | MS.REC, readonly: true });
    expect(bindOf(plain)).not.toHaveProperty('idmap');
    const idmapped = buildSpawnPlan(input({ ...userns, options: { ...userns.options, binds: [volume(true)] } }));
    expect(bindOf(idmapped)).toMatchObject({ source: '/h/v', flags: MS.BIND, readonly: true, idmap: true });
    const layers = Array.from({ length: 253 }, (_, i) => `/s/layers/l${String(i)}`);
    expect(() =>
      buildSpawnPlan(
        input({
          ...userns,
          idmappedLayers: true,
          layerDirs: layers,
          options: { ...userns.options, binds: [volume(true)] },
        }),
      ),
    ).toThrow(/254 idmapped mounts \(layers and volumes\) are too many/);
  });

  it('orders volumes parents first, read-only where asked', () => {
    const plan = buildSpawnPlan(
      input({
        options: {
          binds: [
            { source: '/h/b', target: '/a/b', readonly: true },
            { source: '/h/a', target: '/a', readonly: false },
          ],
          tmpfs: [{ target: '/run', options: ['nosuid', 'size=1m'] }],
        },
        bindKinds: ['file', 'dir'],
      }),
    );
    const user = plan.rootfsOps.slice(-3);
    expect(user.map((op) => op.target)).toEqual(['/s/c/rootfs/a', '/s/c/rootfs/run', '/s/c/rootfs/a/b']);
    expect(user[2]).toMatchObject({ readonly: true, createTarget: 'file', flags: MS.BIND | MS.REC });
    expect(user[1]).toMatchObject({ fstype: 'tmpfs', flags: MS.NOSUID, data: 'size=1m' });
  });

  it('binds the /etc files before the cgroupfs mounts (which wait for the placement), volumes after', () => {
    const plan = buildSpawnPlan(
      input({
        options: { binds: [{ source: '/h/cg', target: '/sys/fs/cgroup/x', readonly: true }] },
        bindKinds: ['dir'],
        cgroupMounts: [
          { mountPoint: '/sys/fs/cgroup/memory', fstype: 'cgroup', root: '/', superOptions: ['rw', 'memory'] },
        ],
      }),
    );
    const mounts = targets(plan.rootfsOps).filter((t) => /etc|cgroup/.test(t));
    expect(mounts).toEqual([
      'mount /s/c/rootfs/etc/hostname',
      'mount /s/c/rootfs/etc/hosts',
      'mount /s/c/rootfs/etc/resolv.conf',
      'mount /s/c/rootfs/sys/fs/cgroup',
      'mount /s/c/rootfs/sys/fs/cgroup/memory',
      'mount /s/c/rootfs/sys/fs/cgroup/x',
    ]);
  });

  it('clamps NOFILE to the host hard limit', () => {
    expect(buildSpawnPlan(input({ nofileHardLimit: 512n })).rlimits).toEqual([{ resource: 7, soft: 512n, hard: 512n }]);
  });

  it('rejects a relative working directory', () => {
    expect(() => buildSpawnPlan(input({ options: { workdir: 'srv' } }))).toThrow(/must be an absolute path/);
  });

  it('gives a -t container a terminal of the size asked for, and TERM=xterm unless set', () => {
    const plain = buildSpawnPlan(input());
    expect(plain.terminal).toBeUndefined();
    expect(plain.env.some((e) => e.startsWith('TERM='))).toBe(false);
    const tty = buildSpawnPlan(input({ options: { tty: true, consoleSize: { rows: 40, cols: 120 } } }));
    expect(tty.terminal).toEqual({ rows: 40, cols: 120 });
    expect(tty.env).toContain('TERM=xterm');
    const own = buildSpawnPlan(input({ options: { tty: true, env: ['TERM=vt100'] } }));
    expect(own.terminal).toEqual({ rows: 0, cols: 0 });
    expect(own.env.filter((e) => e.startsWith('TERM='))).toEqual(['TERM=vt100']);
    expect(() => buildSpawnPlan(input({ options: { tty: true, consoleSize: { rows: 70000, cols: 1 } } }))).toThrow(
      /invalid console size 70000x1/,
    );
  });
});
