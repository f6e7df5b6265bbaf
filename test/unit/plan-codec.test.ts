/**
 * The TypeScript encoder against the native decoder: plans are encoded here, decoded by
 * `plan_dump` (the monitor's own decoder, built with ASan and UBSan by native/Makefile) and the
 * dump compared line by line with what the plan says.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodePlan } from '../../src/runtime/plan-codec.js';
import type { SpawnPlan } from '../../src/runtime/plan.js';

const nativeDir = join(import.meta.dirname, '..', '..', 'native');
const planDump = join(nativeDir, 'build', 'test', 'plan_dump');

const MS_BIND = 0x1000n;
const MS_NOSUID = 0x2n;
const MS_REC = 0x4000n;
const MS_SLAVE = 0x80000n;
const U64_MAX = 2n ** 64n - 1n;

let dir = '';

beforeAll(() => {
  execFileSync('make', ['-s', '-C', nativeDir, 'build/test/plan_dump'], { stdio: 'inherit' });
  dir = mkdtempSync(join(tmpdir(), 'tsdock-plan-codec-'));
});

afterAll(() => {
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
});

/** Runs plan_dump on the bytes; returns its stdout, or throws with its stderr. */
function dump(bytes: Buffer): string {
  const file = join(dir, 'plan.bin');
  writeFileSync(file, bytes);
  const r = spawnSync(planDump, [file], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`plan_dump exited ${String(r.status)}: ${r.stderr}`);
  return r.stdout;
}

function minimalPlan(): SpawnPlan {
  return {
    args: ['true'],
    env: [],
    cwd: '/',
    rootfs: '/r',
    namespaces: [],
    joinNamespaces: [],
    uidMappings: [],
    gidMappings: [],
    user: { uid: 0, gid: 0, additionalGids: [] },
    capabilities: { bounding: [], effective: [], permitted: [], inheritable: [], ambient: [] },
    noNewPrivileges: false,
    rlimits: [],
    rootfsPropagation: 0n,
    rootfsOps: [],
    containerOps: [],
    readonlyRootfs: false,
    loopbackUp: false,
    cgroupProcs: [],
    cgroupDirs: [],
  };
}

/** A plan that sets every field, with strings that need escaping and numbers at their limits. */
const richPlan: SpawnPlan = {
  args: ['sh', '-c', 'echo "héllo ☃"\tdone\n', ''],
  env: ['PATH=/usr/bin:/bin', 'QUOTE="\\"'],
  cwd: '/home/user',
  hostname: 'box-1',
  rootfs: '/var/lib/tsdock/containers/abc/rootfs',
  namespaces: ['mount', 'pid', 'network', 'ipc', 'uts', 'user', 'cgroup'],
  joinNamespaces: [
    { type: 'network', path: '/run/netns/n1' },
    { type: 'ipc', path: '/proc/42/ns/ipc' },
  ],
  uidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }],
  gidMappings: [
    { containerID: 0, hostID: 100000, size: 1000 },
    { containerID: 1000, hostID: 1000, size: 1 },
  ],
  user: { uid: 1000, gid: 1001, additionalGids: [10, 4294967294] },
  capabilities: { bounding: [0, 1, 40], effective: [21], permitted: [21, 63], inheritable: [], ambient: [12] },
  noNewPrivileges: true,
  rlimits: [
    { resource: 7, soft: 1024n, hard: 4096n },
    { resource: 4, soft: U64_MAX, hard: U64_MAX },
  ],
  oomScoreAdj: -999,
  rootfsPropagation: MS_REC | MS_SLAVE,
  rootfsOps: [
    {
      kind: 'mount',
      source: '/var/lib/tsdock/layers/a',
      target: '/var/lib/tsdock/layers/a',
      fstype: '',
      flags: MS_BIND,
      data: '',
      idmap: true,
    },
    { kind: 'chdir', target: '/var/lib/tsdock/layers' },
    {
      kind: 'mount',
      source: 'overlay',
      target: '/r',
      fstype: 'overlay',
      flags: 0n,
      data: 'lowerdir=a:b,upperdir=/u,workdir=/w',
      createTarget: 'dir',
    },
    {
      kind: 'mount',
      source: '/etc/resolv.conf',
      target: '/r/etc/resolv.conf',
      fstype: '',
      flags: MS_BIND | MS_NOSUID,
      data: '',
      createTarget: 'file',
      readonly: true,
    },
    {
      kind: 'mount',
      source: '/srv/data',
      target: '/r/data',
      fstype: '',
      flags: MS_BIND,
      data: '',
      createTarget: 'dir',
      idmap: true,
      idmapMappings: {
        uid: [{ containerID: 0, hostID: 200000, size: 1000 }],
        gid: [
          { containerID: 0, hostID: 300000, size: 10 },
          { containerID: 10, hostID: 10, size: 1 },
        ],
      },
    },
  ],
  containerOps: [
    { kind: 'mkdir', target: '/dev/pts', mode: 0o755 },
    { kind: 'mknod', target: '/dev/null', mode: 0o20666, major: 1, minor: 3 },
    { kind: 'symlink', linkTarget: '/proc/self/fd', target: '/dev/fd' },
    { kind: 'mask', target: '/proc/kcore' },
    { kind: 'readonly', target: '/proc/sys' },
    { kind: 'write', target: '/proc/sys/net/ipv4/ip_forward', data: '1' },
  ],
  readonlyRootfs: true,
  loopbackUp: true,
  cgroupProcs: ['/sys/fs/cgroup/memory/t/abc/cgroup.procs', '/sys/fs/cgroup/pids/t/abc/cgroup.procs'],
  cgroupDirs: ['/sys/fs/cgroup/memory/t/abc', '/sys/fs/cgroup/pids/t/abc'],
  oom: { driver: 'v1', path: '/sys/fs/cgroup/memory/t/abc/memory.oom_control' },
  exitFile: '/run/tsdock/abc/exit.json',
  seccomp: [
    { code: 0x20, jt: 0, jf: 0, k: 4 },
    { code: 0x15, jt: 1, jf: 255, k: 0xc000003e },
    { code: 0x06, jt: 0, jf: 0, k: 0x7fff0000 },
  ],
  startSocket: '/run/tsdock-runtime/abc/start.sock',
  preserveFds: 2,
  terminal: { rows: 24, cols: 65535 },
  hooks: [
    { kind: 'createContainer', path: '/bin/sh', args: ['sh', '-c', 'cat'], env: ['A=1'], timeout: 5 },
    { kind: 'startContainer', path: '/bin/true', args: ['true'], env: [] },
  ],
  hookState: '{"id":"abc"}',
  runtimeHooks: true,
};

describe('plan wire format', () => {
  it('round-trips every field through the native decoder', () => {
    const expected = [
      'arg "sh"',
      'arg "-c"',
      'arg "echo \\"héllo ☃\\"\\x09done\\n"',
      'arg ""',
      'env "PATH=/usr/bin:/bin"',
      'env "QUOTE=\\"\\\\\\""',
      'cwd "/home/user"',
      'hostname "box-1"',
      'rootfs "/var/lib/tsdock/containers/abc/rootfs"',
      'namespaces 0x7e020000',
      'ns_join 0x40000000 "/run/netns/n1"',
      'ns_join 0x8000000 "/proc/42/ns/ipc"',
      'uid 1000',
      'gid 1001',
      'additional_gid 10',
      'additional_gid 4294967294',
      'uid_map "0 100000 65536\\n"',
      'gid_map "0 100000 1000\\n1000 1000 1\\n"',
      'caps bounding=0x10000000003 effective=0x200000 permitted=0x8000000000200000 inheritable=0x0 ambient=0x1000',
      'no_new_privs 1',
      'rlimit 7 1024 4096',
      'rlimit 4 18446744073709551615 18446744073709551615',
      'oom_score_adj -999',
      'cgroup_procs "/sys/fs/cgroup/memory/t/abc/cgroup.procs"',
      'cgroup_procs "/sys/fs/cgroup/pids/t/abc/cgroup.procs"',
      'rootfs_op mount flags=0x10 mount_flags=0x1000 mode=00 dev=0:0 source="/var/lib/tsdock/layers/a" target="/var/lib/tsdock/layers/a" fstype="" data=""',
      'rootfs_op chdir flags=0x0 mount_flags=0x0 mode=00 dev=0:0 source="" target="/var/lib/tsdock/layers" fstype="" data=""',
      'rootfs_op mount flags=0x1 mount_flags=0x0 mode=00 dev=0:0 source="overlay" target="/r" fstype="overlay" data="lowerdir=a:b,upperdir=/u,workdir=/w"',
      'rootfs_op mount flags=0x6 mount_flags=0x1002 mode=00 dev=0:0 source="/etc/resolv.conf" target="/r/etc/resolv.conf" fstype="" data=""',
      'rootfs_op mount flags=0x11 mount_flags=0x1000 mode=00 dev=0:0 source="/srv/data" target="/r/data" fstype="" data="" uid_map="0 200000 1000\\n" gid_map="0 300000 10\\n10 10 1\\n"',
      'container_op mkdir flags=0x0 mount_flags=0x0 mode=0755 dev=0:0 source="" target="/dev/pts" fstype="" data=""',
      'container_op mknod flags=0x0 mount_flags=0x0 mode=020666 dev=1:3 source="" target="/dev/null" fstype="" data=""',
      'container_op symlink flags=0x0 mount_flags=0x0 mode=00 dev=0:0 source="/proc/self/fd" target="/dev/fd" fstype="" data=""',
      'container_op mask flags=0x0 mount_flags=0x0 mode=00 dev=0:0 source="" target="/proc/kcore" fstype="" data=""',
      'container_op readonly flags=0x0 mount_flags=0x0 mode=00 dev=0:0 source="" target="/proc/sys" fstype="" data=""',
      'container_op write flags=0x0 mount_flags=0x0 mode=00 dev=0:0 source="" target="/proc/sys/net/ipv4/ip_forward" fstype="" data="1"',
      'readonly_rootfs 1',
      'loopback_up 1',
      'propagation 0x84000',
      'cgroup_dir "/sys/fs/cgroup/memory/t/abc"',
      'cgroup_dir "/sys/fs/cgroup/pids/t/abc"',
      'oom v1 "/sys/fs/cgroup/memory/t/abc/memory.oom_control"',
      'exit_file "/run/tsdock/abc/exit.json"',
      'start_socket "/run/tsdock-runtime/abc/start.sock"',
      'preserve_fds 2',
      'seccomp code=0x20 jt=0 jf=0 k=0x4',
      'seccomp code=0x15 jt=1 jf=255 k=0xc000003e',
      'seccomp code=0x6 jt=0 jf=0 k=0x7fff0000',
      'terminal 24 65535',
      'hook 1 timeout=5 "/bin/sh" argv "sh" "-c" "cat" env "A=1"',
      'hook 2 timeout=0 "/bin/true" argv "true" env',
      'hook_state "{\\"id\\":\\"abc\\"}"',
      'runtime_hooks 1',
    ];
    expect(dump(encodePlan(richPlan)).split('\n')).toEqual([...expected, '']);
  });

  it('leaves out what a minimal plan does not set', () => {
    expect(dump(encodePlan(minimalPlan()))).toBe(
      [
        'arg "true"',
        'cwd "/"',
        'rootfs "/r"',
        'namespaces 0x0',
        'uid 0',
        'gid 0',
        'caps bounding=0x0 effective=0x0 permitted=0x0 inheritable=0x0 ambient=0x0',
        'no_new_privs 0',
        'readonly_rootfs 0',
        'loopback_up 0',
        'propagation 0x0',
        '',
      ].join('\n'),
    );
  });

  it('is rejected by the decoder when extended with an unknown record', () => {
    const unknown = Buffer.alloc(8);
    unknown.writeUInt32LE(99, 0);
    expect(() => dump(Buffer.concat([encodePlan(minimalPlan()), unknown]))).toThrow(/unknown tag/);
  });

  it.each<[string, (p: SpawnPlan) => void]>([
    ['an argument', (p) => p.args.push('a\0b')],
    ['an environment entry', (p) => p.env.push('A=\0')],
    ['the cwd', (p) => (p.cwd = '/\0')],
    ['the hostname', (p) => (p.hostname = 'h\0')],
    ['the rootfs', (p) => (p.rootfs = '/r\0')],
    ['a namespace path', (p) => p.joinNamespaces.push({ type: 'uts', path: '/proc/1/ns/\0uts' })],
    ['a cgroup.procs path', (p) => p.cgroupProcs.push('\0')],
    ['a cgroup dir', (p) => p.cgroupDirs.push('/sys\0')],
    ['an op target', (p) => p.containerOps.push({ kind: 'mask', target: '/proc/\0' })],
    [
      'a mount source',
      (p) => p.rootfsOps.push({ kind: 'mount', source: 'a\0', target: '/x', fstype: '', flags: 0n, data: '' }),
    ],
    [
      'mount data',
      (p) => p.rootfsOps.push({ kind: 'mount', source: '', target: '/x', fstype: 'tmpfs', flags: 0n, data: 'a\0' }),
    ],
    ['a symlink target', (p) => p.containerOps.push({ kind: 'symlink', linkTarget: '\0', target: '/l' })],
    ['the OOM file', (p) => (p.oom = { driver: 'v2', path: '/x\0' })],
    ['the exit file', (p) => (p.exitFile = '/x\0')],
  ])('refuses a NUL byte in %s', (_what, corrupt) => {
    const plan = minimalPlan();
    corrupt(plan);
    expect(() => encodePlan(plan)).toThrow(RangeError);
    expect(() => encodePlan(plan)).toThrow(/NUL/);
  });
});
