/**
 * The security decisions of the plan builder and the flag parsers: seccomp per option,
 * `--privileged`, `--device`, `--security-opt`, /proc and /sys reached without symlinks.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseSecurityOpts } from '../../src/cli/security-opt.js';
import { deviceRulesFor, v1DeviceLine } from '../../src/runtime/cgroups/devices.js';
import { parseDevice } from '../../src/runtime/options.js';
import { buildSpawnPlan, type PlanInput } from '../../src/runtime/plan-builder.js';
import type { FsOp } from '../../src/runtime/plan.js';
import { hostBoundingSet } from '../../src/runtime/host.js';

function input(options: PlanInput['options'] = {}): PlanInput {
  return {
    id: 'abcdef0123456789',
    config: { Cmd: ['sh'] },
    layerDirs: ['/s/layers/aaa'],
    options,
    user: { uid: 0, gid: 0, additionalGids: [], home: '/root' },
    paths: {
      rootfs: '/s/c/rootfs',
      upper: '/s/c/upper',
      work: '/s/c/work',
      hostname: '/s/c/hostname',
      hosts: '/s/c/hosts',
      resolvConf: '/s/c/resolv.conf',
      exitFile: '/s/c/exit.json',
    },
    bindKinds: [],
    cgroup: { procsFiles: [], dirs: [], oom: undefined },
    nofileHardLimit: 20000n,
    cgroupMounts: [],
  };
}

const mountAt = (ops: FsOp[], target: string): FsOp | undefined => ops.find((op) => op.target === target);

describe('plan security', () => {
  it('loads the default seccomp profile and keeps masks by default', () => {
    const plan = buildSpawnPlan(input());
    expect(plan.seccomp?.length).toBeGreaterThan(100);
    expect(plan.containerOps.filter((op) => op.kind === 'mask').length).toBeGreaterThan(5);
    expect(mountAt(plan.rootfsOps, '/s/c/rootfs/sys')).toMatchObject({ fstype: 'sysfs', noSymlinks: true });
    expect(mountAt(plan.rootfsOps, '/s/c/rootfs/proc')).toMatchObject({ fstype: 'proc', noSymlinks: true });
  });

  it('drops seccomp when unconfined', () => {
    expect(buildSpawnPlan(input({ seccomp: 'unconfined' })).seccomp).toBeUndefined();
  });

  it('compiles a Docker JSON profile given as text, and refuses a bad one', () => {
    const profile = JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [] });
    expect(buildSpawnPlan(input({ seccomp: profile })).seccomp?.length).toBeLessThan(20);
    expect(() => buildSpawnPlan(input({ seccomp: '{"defaultAction":"X"}' }))).toThrow(/invalid seccomp profile/);
  });

  it('--privileged: the host bounding set, no seccomp, no masks or read-only paths, writable sysfs', () => {
    const plan = buildSpawnPlan(input({ privileged: true }));
    expect(plan.seccomp).toBeUndefined();
    expect(plan.capabilities.effective).toEqual([...hostBoundingSet()].sort((a, b) => a - b));
    expect(plan.containerOps.map((op) => op.kind)).toEqual(['mkdir']);
    const sys = mountAt(plan.rootfsOps, '/s/c/rootfs/sys');
    expect(sys?.kind === 'mount' && sys.flags & 1n).toBe(0n);
  });

  it('creates --device nodes (bound in a user namespace)', () => {
    const device = {
      hostPath: '/dev/loop0',
      containerPath: '/dev/disk0',
      permissions: 'r',
      type: 'b' as const,
      major: 7,
      minor: 0,
      mode: 0o660,
    };
    expect(mountAt(buildSpawnPlan(input({ devices: [device] })).rootfsOps, '/s/c/rootfs/dev/disk0')).toEqual({
      kind: 'mknod',
      target: '/s/c/rootfs/dev/disk0',
      mode: 0o060660,
      major: 7,
      minor: 0,
    });
    const userns = buildSpawnPlan({
      ...input({ devices: [device], userns: 'private' }),
      idMappings: { uid: [{ containerID: 0, hostID: 100000, size: 65536 }], gid: [] },
    });
    expect(mountAt(userns.rootfsOps, '/s/c/rootfs/dev/disk0')).toMatchObject({ kind: 'mount', source: '/dev/loop0' });
  });
});

describe('device rules', () => {
  it('denies everything, then allows the defaults and each --device', () => {
    const lines = deviceRulesFor([{ type: 'b', major: 7, minor: 0, permissions: 'rw' }], false).map(
      (r) => `${r.allow ? 'allow' : 'deny'} ${v1DeviceLine(r)}`,
    );
    expect(lines[0]).toBe('deny a *:* rwm');
    expect(lines).toContain('allow c 1:3 rwm');
    expect(lines).toContain('allow c 136:* rwm');
    expect(lines).toContain('allow b *:* m');
    expect(lines).not.toContain('allow b 8:0 rwm');
    expect(lines.at(-1)).toBe('allow b 7:0 rw');
    expect(deviceRulesFor([], true).map(v1DeviceLine)).toEqual(['a *:* rwm']);
  });
});

describe('parseDevice', () => {
  it.each([
    ['/dev/null', { containerPath: '/dev/null', permissions: 'rwm', type: 'c', major: 1, minor: 3 }],
    ['/dev/null:/dev/nothing', { containerPath: '/dev/nothing', permissions: 'rwm' }],
    ['/dev/null:r', { containerPath: '/dev/null', permissions: 'r' }],
    ['/dev/zero:/dev/z:mw', { containerPath: '/dev/z', permissions: 'mw', major: 1, minor: 5 }],
  ])('%s', (spec, expected) => {
    expect(parseDevice(spec)).toMatchObject(expected);
  });
  it.each([
    ['/dev/null:rx', /subset of rwm/],
    ['/dev/null:rr', /subset of rwm/],
    ['/dev/null:/etc/x', /under \/dev/],
    ['/etc/passwd:/dev/passwd', /not a device node/],
    ['/dev/no-such-device', /ENOENT/],
    ['dev/null', /expected --device/],
    ['/dev/null:/dev/x:r:w', /expected --device/],
  ])('refuses %s', (spec, message) => {
    expect(() => parseDevice(spec)).toThrow(message);
  });
});

describe('--security-opt', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsdock-secopt-'));
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads a profile file, checks it and keeps its text', () => {
    const file = join(dir, 'p.json');
    writeFileSync(file, '{"defaultAction":"SCMP_ACT_ALLOW"}');
    expect(parseSecurityOpts([`seccomp=${file}`, 'no-new-privileges'])).toEqual({
      noNewPrivileges: true,
      seccomp: '{"defaultAction":"SCMP_ACT_ALLOW"}',
    });
  });
  it.each([
    [['seccomp=unconfined'], { noNewPrivileges: false, seccomp: 'unconfined' }],
    [['no-new-privileges:true', 'no-new-privileges=false'], { noNewPrivileges: false }],
    [[], { noNewPrivileges: false }],
  ])('%j', (opts, expected) => {
    expect(parseSecurityOpts(opts)).toEqual(expected);
  });
  it.each([
    [['apparmor=unconfined'], /unsupported --security-opt/],
    [['seccomp='], /unsupported --security-opt/],
    [['no-new-privileges=maybe'], /unsupported --security-opt/],
    [['seccomp=/no/such/profile.json'], /cannot read seccomp profile/],
  ])('refuses %j', (opts, message) => {
    expect(() => parseSecurityOpts(opts)).toThrow(message);
  });
  it('refuses a file that is not a valid profile', () => {
    const file = join(dir, 'bad.json');
    writeFileSync(file, '{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"NOPE"}]}');
    expect(() => parseSecurityOpts([`seccomp=${file}`])).toThrow(/syscalls\[0\]\.action "NOPE"/);
  });
});
