import { describe, expect, it } from 'vitest';
import { buildExecPlan, type ExecBase } from '../../src/runtime/exec-plan.js';

const base: ExecBase = {
  env: ['PATH=/bin', 'HOSTNAME=box', 'FOO=1'],
  cwd: '/srv',
  user: { uid: 5, gid: 6, additionalGids: [7] },
  capabilities: { bounding: [0], effective: [0], permitted: [0], inheritable: [], ambient: [] },
  noNewPrivileges: true,
  rlimits: [{ resource: 7, soft: '1024', hard: '18446744073709551615' }],
  seccomp: [{ code: 6, jt: 0, jf: 0, k: 0x7fff0000 }],
};
const joins = [
  { type: 'mount' as const, path: '/proc/9/ns/mnt' },
  { type: 'pid' as const, path: '/proc/9/ns/pid' },
];

describe('buildExecPlan', () => {
  it("takes the container's settings, joins its namespaces, creates none, keeps its cgroup", () => {
    const plan = buildExecPlan(base, { args: ['sh'], joins, cgroupProcs: ['/cg/cgroup.procs'] });
    expect(plan).toMatchObject({
      args: ['sh'],
      env: base.env,
      cwd: '/srv',
      user: base.user,
      namespaces: [],
      joinNamespaces: joins,
      noNewPrivileges: true,
      seccomp: base.seccomp,
      cgroupProcs: ['/cg/cgroup.procs'],
      cgroupDirs: [],
      rootfsOps: [],
    });
    expect(plan.rootfs).toBeUndefined();
    expect(plan.rlimits).toEqual([{ resource: 7, soft: 1024n, hard: 2n ** 64n - 1n }]);
  });

  it('overrides env by key, cwd and user', () => {
    const plan = buildExecPlan(base, {
      args: ['id'],
      env: ['FOO=2', 'NEW=x'],
      cwd: '/tmp',
      user: { uid: 1000, gid: 1000, additionalGids: [] },
      joins,
      cgroupProcs: [],
    });
    expect(plan.env).toEqual(['PATH=/bin', 'HOSTNAME=box', 'FOO=2', 'NEW=x']);
    expect(plan.cwd).toBe('/tmp');
    expect(plan.user.uid).toBe(1000);
  });

  it('gives exec -t a terminal, and TERM=xterm unless -e sets one', () => {
    const req = { args: ['sh'], joins, cgroupProcs: [], terminal: { rows: 25, cols: 90 } };
    expect(buildExecPlan(base, req)).toMatchObject({ terminal: { rows: 25, cols: 90 } });
    expect(buildExecPlan(base, req).env).toContain('TERM=xterm');
    expect(buildExecPlan(base, { ...req, env: ['TERM=dumb'] }).env).toContain('TERM=dumb');
    expect(buildExecPlan(base, { ...req, terminal: undefined }).terminal).toBeUndefined();
  });

  it.each([
    [{ args: [], joins }, 'needs a command'],
    [{ args: ['sh'], cwd: 'rel', joins }, 'absolute'],
    [{ args: ['sh'], joins: [] }, 'no mount namespace'],
  ])('refuses %j', (req, message) => {
    expect(() => buildExecPlan(base, { cgroupProcs: [], ...req })).toThrow(message);
  });
});
