/**
 * tsdock-runtime's native create against the TypeScript one: for a corpus of bundles, the plan
 * `spec_plan` (native/src/runtime/spec.c and the C plan encoder, built with ASan and UBSan by
 * native/Makefile) writes is byte for byte the plan `specToPlan` + `completePlan` encode, or the
 * native side hands the call to Node (exit 3) — which it must for every spec Node refuses.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openContainerCgroup } from '../../src/runtime/cgroups/index.js';
import { encodePlan } from '../../src/runtime/plan-codec.js';
import { cgroupPlace } from '../../src/oci/cgroups-path.js';
import { resourcesToLimits } from '../../src/oci/resources.js';
import { completePlan } from '../../src/oci/commands/create.js';
import { hostFacts } from '../../src/oci/host-facts.js';
import { parseSpec } from '../../src/oci/spec.js';
import { specToPlan } from '../../src/oci/spec-plan.js';
import type { StoredState } from '../../src/oci/state.js';

const nativeDir = join(import.meta.dirname, '..', '..', 'native');
const specPlan = join(nativeDir, 'build', 'test', 'spec_plan');
const ROOT = '/run/tsdock-runtime-test';
const ID = 'c1';
const CREATED = '2026-11-26T03:00:00.123Z';
const NOT_NATIVE = 3;

let dir = '';
let count = 0;

beforeAll(() => {
  execFileSync('make', ['-s', '-C', nativeDir, 'build/test/spec_plan'], { stdio: 'inherit' });
  dir = mkdtempSync(join(tmpdir(), 'tsdock-native-plan-'));
  mkdirSync(join(dir, 'file-source'));
  writeFileSync(join(dir, 'a-file'), '');
});

afterAll(() => {
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
});

type Json = Record<string, unknown>;

/** `runc spec` (runc 1.1), with a command and no terminal. */
function runcSpec(): Json {
  return {
    ociVersion: '1.0.2-dev',
    process: {
      terminal: false,
      user: { uid: 0, gid: 0 },
      args: ['sh'],
      env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'TERM=xterm'],
      cwd: '/',
      capabilities: {
        bounding: ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'],
        effective: ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'],
        permitted: ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'],
        ambient: ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'],
      },
      rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }],
      noNewPrivileges: true,
    },
    root: { path: 'rootfs', readonly: true },
    hostname: 'runc',
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      {
        destination: '/dev',
        type: 'tmpfs',
        source: 'tmpfs',
        options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'],
      },
      {
        destination: '/dev/pts',
        type: 'devpts',
        source: 'devpts',
        options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'],
      },
      {
        destination: '/dev/shm',
        type: 'tmpfs',
        source: 'shm',
        options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'],
      },
      { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
      { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
      {
        destination: '/sys/fs/cgroup',
        type: 'cgroup',
        source: 'cgroup',
        options: ['nosuid', 'noexec', 'nodev', 'relatime', 'ro'],
      },
    ],
    linux: {
      resources: { devices: [{ allow: false, access: 'rwm' }] },
      namespaces: [{ type: 'pid' }, { type: 'network' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }],
      maskedPaths: ['/proc/acpi', '/proc/asound', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/sys/firmware'],
      readonlyPaths: ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
    },
  };
}

/** What `ctr run -t` gives the runtime (containerd 1.6's default spec, its args, env and path). */
function ctrSpec(): Json {
  const caps = ['CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW', 'CAP_SETGID'];
  const spec = runcSpec();
  return {
    ...spec,
    process: {
      terminal: true,
      user: { uid: 0, gid: 0, additionalGids: [10] },
      args: ['sh', '-c', 'echo "hi"'],
      env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
      cwd: '/',
      capabilities: { bounding: caps, effective: caps, permitted: caps },
      rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }],
      noNewPrivileges: true,
    },
    root: { path: '/run/containerd/io.containerd.runtime.v2.task/ns/c1/rootfs' },
    hostname: undefined,
    mounts: [
      ...(spec.mounts as Json[]).slice(0, 6),
      {
        destination: '/run',
        type: 'tmpfs',
        source: 'tmpfs',
        options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'],
      },
      { destination: '/etc/resolv.conf', type: 'bind', source: join(dir, 'a-file'), options: ['rbind', 'ro'] },
    ],
    annotations: { 'io.containerd.image.name': 'docker.io/library/busybox:latest' },
    linux: {
      resources: { devices: [{ allow: false, access: 'rwm' }] },
      cgroupsPath: '/default/c1',
      namespaces: [{ type: 'pid' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }, { type: 'network' }],
      maskedPaths: ['/proc/acpi', '/proc/kcore'],
      readonlyPaths: ['/proc/bus', '/proc/sys'],
    },
  };
}

/** A copy of the spec with `change` applied to it. */
function withChange(base: Json, change: (spec: Json & { process: Json; linux: Json }) => void): Json {
  const spec = structuredClone(base) as Json & { process: Json; linux: Json };
  change(spec);
  return spec;
}

/** TypeScript's plan for the bundle, as create encodes it. */
async function tsPlan(bundle: string, text: string): Promise<Buffer> {
  const spec = parseSpec(text, join(bundle, 'config.json'));
  const plan = specToPlan(spec, hostFacts(bundle));
  resourcesToLimits(spec.linux.resources ?? {});
  const place = cgroupPlace(spec.linux.cgroupsPath, ID);
  const cgroup = await openContainerCgroup({ name: place.name, parent: place.parent });
  const state: StoredState = {
    id: ID,
    bundle,
    rootfs: plan.rootfs ?? '',
    pid: 0,
    startTime: '',
    created: CREATED,
    annotations: spec.annotations ?? {},
    cgroup: place,
    cgroupPaths: { procs: cgroup.procsFiles, dirs: cgroup.dirs, parents: cgroup.parentDirs },
    hooks: {},
  };
  completePlan(plan, spec, state, join(ROOT, ID), 2);
  return encodePlan(plan);
}

/** Both plans for a config.json text: TypeScript's (or its error) and the native one (or 3). */
async function both(text: string): Promise<{ ts: Buffer | Error; native: Buffer | number }> {
  const bundle = join(dir, `bundle-${String(count++)}`);
  mkdirSync(bundle);
  writeFileSync(join(bundle, 'config.json'), text);
  let ts: Buffer | Error;
  try {
    ts = await tsPlan(bundle, text);
  } catch (err) {
    ts = err as Error;
  }
  const r = spawnSync(specPlan, [bundle, ROOT, ID, CREATED, '2'], { maxBuffer: 1 << 24 });
  if (r.status !== 0 && r.status !== NOT_NATIVE)
    throw new Error(`spec_plan exited ${String(r.status)}: ${r.stderr.toString()}`);
  return { ts, native: r.status === 0 ? r.stdout : NOT_NATIVE };
}

async function expectSamePlan(spec: Json | string): Promise<void> {
  const { ts, native } = await both(typeof spec === 'string' ? spec : JSON.stringify(spec));
  expect(ts).toBeInstanceOf(Buffer);
  expect(native).toBeInstanceOf(Buffer);
  expect((native as Buffer).toString('hex')).toBe((ts as Buffer).toString('hex'));
}

async function expectToNode(spec: Json | string, tsRefuses: boolean): Promise<void> {
  const { ts, native } = await both(typeof spec === 'string' ? spec : JSON.stringify(spec));
  expect(native).toBe(NOT_NATIVE);
  expect(ts instanceof Error).toBe(tsRefuses);
}

describe('native create plan = TypeScript plan', () => {
  it("runc spec's default", () => expectSamePlan(runcSpec()));

  it("containerd's ctr run spec, with a terminal and a file bind mount", () => expectSamePlan(ctrSpec()));

  const cases: [string, (s: Json & { process: Json; linux: Json }) => void][] = [
    [
      'joined namespaces',
      (s) =>
        (s.linux.namespaces = [
          { type: 'mount' },
          { type: 'network', path: '/proc/1/ns/net' },
          { type: 'uts', path: '' },
        ]),
    ],
    [
      'a user namespace with mappings (devices bound, not made)',
      (s) => {
        s.linux.namespaces = [{ type: 'mount' }, { type: 'user' }, { type: 'uts' }];
        s.linux.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
        s.linux.gidMappings = [
          { containerID: 0, hostID: 100000, size: 65536 },
          { containerID: 70000, hostID: 9, size: 1 },
        ];
        s.linux.devices = [{ type: 'c', path: '/dev/fuse', major: 10, minor: 229 }];
      },
    ],
    [
      'rlimits, oomScoreAdj, user and groups',
      (s) => {
        s.process.rlimits = [
          { type: 'RLIMIT_NOFILE', hard: 4096, soft: 1024 },
          { type: 'RLIMIT_CORE', hard: 2 ** 53 - 1, soft: 0 },
          { type: 'RLIMIT_RTTIME', hard: 5, soft: 5 },
        ];
        s.process.oomScoreAdj = -500;
        s.process.user = { uid: 1000, gid: 1000, additionalGids: [1, 2, 4294967295] };
        s.process.noNewPrivileges = false;
      },
    ],
    [
      'devices: the defaults, overridden and added, a fifo',
      (s) => {
        s.linux.devices = [
          { type: 'c', path: '/dev/null', major: 1, minor: 3, fileMode: 0o600, uid: 0, gid: 0 },
          { type: 'b', path: '/dev/loop7', major: 7, minor: 7 },
          { type: 'u', path: '/dev/x', major: 1, minor: 1, fileMode: 0 },
          { type: 'p', path: '/dev/fifo' },
        ];
      },
    ],
    [
      'resources and a relative cgroupsPath',
      (s) => {
        s.linux.resources = {
          memory: { limit: 64 << 20, swap: -1, reservation: 1 },
          cpu: { shares: 512, quota: 50000, period: 100000, cpus: '0', mems: '0' },
          pids: { limit: 0 },
          devices: [
            { allow: false, access: 'rwm' },
            { allow: true, type: 'c', major: 1, minor: -1, access: 'rw' },
          ],
        };
        s.linux.cgroupsPath = 'tests/c9';
      },
    ],
    ['a systemd cgroupsPath', (s) => (s.linux.cgroupsPath = 'machine-a.slice:tsd:c1')],
    ['cgroupsPath /x', (s) => (s.linux.cgroupsPath = '/c1/')],
    [
      'a terminal with a size',
      (s) => Object.assign(s.process, { terminal: true, consoleSize: { height: 50, width: 65535 } }),
    ],
    ['no capabilities object: all of the host', (s) => delete s.process.capabilities],
    [
      'capabilities in any case, unknown to the host dropped',
      (s) =>
        (s.process.capabilities = { bounding: ['net_admin', 'CAP_CHECKPOINT_RESTORE', 'Sys_Admin'], effective: [] }),
    ],
    [
      'sysctl',
      (s) => (s.linux.sysctl = { 'net.ipv4.ip_forward': '1', 'kernel/msgmax': '8192', 'net.core.x-y_z': ' v ' }),
    ],
    ['rootfsPropagation rshared', (s) => (s.linux.rootfsPropagation = 'rshared')],
    ['rootfsPropagation private', (s) => (s.linux.rootfsPropagation = 'private')],
    ['rootfsPropagation runbindable', (s) => (s.linux.rootfsPropagation = 'runbindable')],
    [
      'bind mounts: a dir, a file, a missing and a relative source, odd destinations',
      (s) => {
        (s.mounts as Json[]).push(
          {
            destination: '/data/',
            type: 'bind',
            source: join(dir, 'file-source'),
            options: ['rbind', 'rw', 'rprivate', 'nosuid'],
          },
          { destination: '/etc/../etc//hosts', source: join(dir, 'a-file'), options: ['bind', 'ro'] },
          { destination: '/missing', type: 'none', source: '/no/such/path', options: ['bind'] },
          { destination: '/rel', type: 'bind', source: '../file-source', options: ['rbind'] },
          {
            destination: '/proc/x',
            type: 'tmpfs',
            options: ['defaults', 'size=1m', 'tmpcopyup', 'noatime', 'atime', 'shared'],
          },
        );
      },
    ],
    ['cwd to normalise', (s) => (s.process.cwd = '/a/./b//../c/')],
    [
      'no /dev mount: no default nodes or links',
      (s) => (s.mounts = (s.mounts as Json[]).filter((m) => m.destination !== '/dev')),
    ],
    ['a relative root with ..', (s) => (s.root = { path: '../x/./rootfs/', readonly: false })],
    [
      'strings JSON escapes, unicode and annotations',
      (s) => {
        s.process.env = ['A=\u00e9\u4e2d\ud83d\ude00', 'B=\t"\\', 'C=\u2028'];
        s.annotations = { 'a\u00e9': 'x"y\u0001', z: '\u00ff', 'org.opencontainers.image.title': 'busybox' };
        s.hostname = 'h\u00e9';
      },
    ],
    [
      'only a mount namespace, no hostname',
      (s) => {
        s.linux.namespaces = [{ type: 'mount' }];
        delete s.hostname;
      },
    ],
  ];
  for (const [name, change] of cases) it(name, () => expectSamePlan(withChange(runcSpec(), change)));

  it('reads JSON as JSON.parse does: escaped keys, the last of duplicate keys', () =>
    expectSamePlan(
      JSON.stringify(runcSpec())
        .replace('"hostname":"runc"', '"hostname":"a","host\\u006eame":"b"')
        .replace('"cwd":"/"', '"cwd":"/x","cwd":"\\/y"'),
    ));
});

describe('native create hands the call to Node', () => {
  const kept: [string, (s: Json & { process: Json; linux: Json }) => void][] = [
    [
      'seccomp (tsdock has one BPF compiler, in TypeScript)',
      (s) => (s.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW' }),
    ],
    ['hooks', (s) => (s.hooks = { poststop: [{ path: '/bin/true' }] })],
    ['an integer-like annotation key (JavaScript orders it first)', (s) => (s.annotations = { b: '1', '7': '2' })],
    ['a lone surrogate (JSON.stringify would keep it escaped)', (s) => (s.process.env = ['A=\ud800'])],
    [
      'an idmapped bind mount (uidMappings, gidMappings)',
      (s) => {
        const maps = [{ containerID: 0, hostID: 1000, size: 10 }];
        s.mounts = [{ destination: '/d', type: 'bind', source: '/tmp', uidMappings: maps, gidMappings: maps }];
      },
    ],
  ];
  for (const [name, change] of kept) it(name, () => expectToNode(withChange(runcSpec(), change), false));

  it('a number written with a fraction', () =>
    expectToNode(JSON.stringify(runcSpec()).replace('"hard":1024', '"hard":1024.0'), false));

  const refused: [string, (s: Json & { process: Json; linux: Json }) => void][] = [
    ['an unknown capability', (s) => (s.process.capabilities = { bounding: ['CAP_NOPE'] })],
    ['no mount namespace', (s) => (s.linux.namespaces = [{ type: 'pid' }])],
    ['a namespace twice', (s) => (s.linux.namespaces = [{ type: 'mount' }, { type: 'mount' }])],
    ['a hostname without a uts namespace', (s) => (s.linux.namespaces = [{ type: 'mount' }])],
    ['mappings without a user namespace', (s) => (s.linux.uidMappings = [{ containerID: 0, hostID: 1, size: 1 }])],
    ['soft above hard', (s) => (s.process.rlimits = [{ type: 'RLIMIT_NOFILE', hard: 1, soft: 2 }])],
    ['an unknown rlimit', (s) => (s.process.rlimits = [{ type: 'NOFILE', hard: 1, soft: 1 }])],
    ['a relative cwd', (s) => (s.process.cwd = 'x')],
    ['no args', (s) => (s.process.args = [])],
    ['an unsafe integer', (s) => (s.process.user = { uid: 2 ** 53, gid: 0 })],
    ['a bad sysctl key', (s) => (s.linux.sysctl = { 'a..b': '1' })],
    ['a device outside /dev', (s) => (s.linux.devices = [{ type: 'c', path: '/x', major: 1, minor: 1 }])],
    ['a device without numbers', (s) => (s.linux.devices = [{ type: 'c', path: '/dev/x' }])],
    ['an unknown propagation', (s) => (s.linux.rootfsPropagation = 'sideways')],
    ['a bind mount without a source', (s) => (s.mounts = [{ destination: '/x', type: 'bind' }])],
    ['a relative destination', (s) => (s.mounts = [{ destination: 'x', type: 'tmpfs' }])],
    [
      'an idmap option without a user namespace',
      (s) => (s.mounts = [{ destination: '/d', type: 'bind', source: '/tmp', options: ['idmap'] }]),
    ],
    [
      'a console too large',
      (s) => Object.assign(s.process, { terminal: true, consoleSize: { height: 65536, width: 1 } }),
    ],
    ['a bad device rule', (s) => (s.linux.resources = { devices: [{ allow: true, type: 'x' }] })],
    ['a wrong type', (s) => (s.process.noNewPrivileges = 'yes')],
    ['an oomScoreAdj beyond 32 bits', (s) => (s.process.oomScoreAdj = 2 ** 31)],
    ['a bad cgroupsPath', (s) => (s.linux.cgroupsPath = 'justaname')],
    ['a bad slice', (s) => (s.linux.cgroupsPath = 'a--b.slice:p:n')],
  ];
  for (const [name, change] of refused) it(name, () => expectToNode(withChange(runcSpec(), change), true));

  it('not JSON', () => expectToNode('{"ociVersion": ', true));
});
