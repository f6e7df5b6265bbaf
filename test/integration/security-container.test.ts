/**
 * What a container must not be able to do, checked from inside it through the CLI: seccomp,
 * capabilities, devices, read-only and masked kernel files, setuid with and without
 * no-new-privileges, signals to the host, leaked descriptors. After every case a canary on the
 * host must be exactly as it was.
 */
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { busyboxRoot, type BusyboxRoot } from '../helpers/busybox.js';
import { makeCanary, type Canary } from '../helpers/canary.js';
import { removeCgroupParent, repoRoot, tsdock, uniqueCgroupParent } from '../helpers/host.js';

let box: BusyboxRoot;
let canary: Canary;
let before: string[];
/** Holds the static probes, bound read-only at /p in the containers that need them. */
let probes: string;
const parent = uniqueCgroupParent('security');

beforeAll(async () => {
  box = await busyboxRoot('security');
  probes = await mkdtemp(join(tmpdir(), 'tsdock-probes-'));
  chmodSync(probes, 0o755);
  const cc = (source: string, out: string): void => {
    execFileSync('gcc', ['-static', '-O2', '-o', join(probes, out), join(repoRoot, 'test/helpers', source)]);
  };
  cc('security-probe.c', 'probe');
  cc('suid-euid.c', 'euid');
  copyFileSync(join(probes, 'euid'), join(probes, 'suid-euid'));
  chownSync(join(probes, 'suid-euid'), 0, 0);
  chmodSync(join(probes, 'suid-euid'), 0o4755);
  canary = await makeCanary();
  before = await canary.snapshot();
});

afterEach(async () => {
  expect(await canary.snapshot()).toEqual(before);
});

afterAll(async () => {
  await box.remove();
  await canary.remove();
  await rm(probes, { recursive: true, force: true });
  await removeCgroupParent(parent);
});

/** Without a network unless a test asks for one: network.test.ts covers the default bridge. */
function run(args: string[]): ReturnType<typeof tsdock> {
  return tsdock(['--root', box.root, 'run', '--rm', '--cgroup-parent', parent, '--network', 'none', ...args]);
}

async function sh(script: string, flags: string[] = []): Promise<string> {
  const r = await run([...flags, 'busybox', 'sh', '-c', script]);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return r.stdout;
}

/** The probe's report as { call: result }. */
async function probe(flags: string[]): Promise<Record<string, string>> {
  const r = await run([...flags, '-v', `${probes}:/p:ro`, 'busybox', '/p/probe']);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return Object.fromEntries(
    r.stdout
      .trim()
      .split('\n')
      .map((line) => line.split(' ') as [string, string]),
  );
}

describe('seccomp, from inside', () => {
  const refused = {
    mount: 'EPERM',
    unshare: 'EPERM',
    keyctl: 'EPERM',
    bpf: 'EPERM',
    userfaultfd: 'EPERM',
    clone_newns: 'EPERM',
    clone_thread_flags: 'ok',
    clone3: 'ENOSYS',
    socket_vsock: 'EPERM',
    socket_alg: 'EPERM',
    socket_unix: 'ok',
    personality_exec: 'EPERM',
    syscall_1000: 'ENOSYS',
  };
  it.each([
    ['the default profile', [], refused],
    ['no-new-privileges (the filter loaded last)', ['--security-opt', 'no-new-privileges'], refused],
    ['a user namespace', ['--userns', 'private'], refused],
    // The kernel itself answers: clone3 checks its arguments, keyctl works, 1000 does not exist.
    [
      'unconfined',
      ['--security-opt', 'seccomp=unconfined'],
      { clone3: 'EINVAL', keyctl: 'ok', syscall_1000: 'ENOSYS' },
    ],
    ['--privileged', ['--privileged'], { clone3: 'EINVAL', keyctl: 'ok', socket_vsock: 'ok' }],
    // CAP_SYS_ADMIN opens the namespace calls, as in Docker; keyctl stays refused.
    ['--cap-add SYS_ADMIN', ['--cap-add', 'SYS_ADMIN'], { clone3: 'EINVAL', unshare: 'ok', keyctl: 'EPERM' }],
  ])('%s', async (_name, flags, expected) => {
    expect(await probe(flags)).toMatchObject(expected);
  });

  it('reports the filter in /proc/self/status', async () => {
    expect(await sh('grep Seccomp: /proc/self/status')).toBe('Seccomp:\t2\n');
    expect(await sh('grep Seccomp: /proc/self/status', ['--security-opt', 'seccomp=unconfined'])).toBe('Seccomp:\t0\n');
  });
});

describe('capabilities, from inside', () => {
  const bounding = /^CapBnd:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
  it.each([
    ['default', [], '00000000a80425fb'],
    ['--cap-drop ALL', ['--cap-drop', 'ALL'], '0000000000000000'],
    ['--cap-add SYS_ADMIN', ['--cap-add', 'SYS_ADMIN'], '00000000a82425fb'],
    ['--cap-drop NET_RAW', ['--cap-drop', 'NET_RAW'], '00000000a80405fb'],
    ['a non-root user', ['-u', 'nobody'], '0000000000000000'],
    ['--userns private', ['--userns', 'private'], '00000000a80425fb'],
    ['--privileged', ['--privileged'], bounding],
  ])('%s', async (_name, flags, expected) => {
    expect(await sh('grep CapEff: /proc/self/status', flags)).toBe(`CapEff:\t${String(expected)}\n`);
  });
});

describe('setuid binaries', () => {
  it('raise a non-root user to root without no-new-privileges, and not with it', async () => {
    const flags = ['-u', 'nobody', '-v', `${probes}:/p:ro`];
    expect(await sh('/p/suid-euid', flags)).toBe('0\n');
    expect(await sh('/p/suid-euid', [...flags, '--security-opt', 'no-new-privileges'])).toBe('65534\n');
    expect(await sh('grep NoNewPrivs: /proc/self/status', [...flags, '--security-opt', 'no-new-privileges'])).toBe(
      'NoNewPrivs:\t1\n',
    );
  });
});

/**
 * A block device of this host that root may open: a loop device (this host's policy refuses
 * opening its disks even to the host's root, so a disk could not tell the cases apart).
 */
function hostBlockDevice(): { name: string; major: number; minor: number } {
  const name = readdirSync('/sys/block').find((b) => b.startsWith('loop'));
  if (name === undefined) throw new Error('no loop device on this host');
  const [major = 0, minor = 0] = readFileSync(`/sys/block/${name}/dev`, 'utf8').trim().split(':').map(Number);
  return { name, major, minor };
}

describe('devices', () => {
  const { name, major, minor } = hostBlockDevice();
  const mknodAndRead = `mknod /tmp/disk b ${String(major)} ${String(minor)} && head -c 512 /tmp/disk | wc -c`;

  it('a host block device made with mknod cannot be opened', async () => {
    const r = await run(['busybox', 'sh', '-c', mknodAndRead]);
    expect(r.stderr).toMatch(/\/tmp\/disk: Operation not permitted/);
  });

  it('--privileged may read it', async () => {
    // An unbound loop device reads as empty: what matters is that open(2) succeeds.
    expect(await sh(mknodAndRead, ['--privileged'])).toBe('0\n');
  });

  it('--device gives exactly the permissions asked for', async () => {
    const flags = ['--device', `/dev/${name}:/dev/xdisk:r`];
    expect(await sh('head -c 512 /dev/xdisk | wc -c', flags)).toBe('0\n');
    const r = await run([...flags, 'busybox', 'sh', '-c', 'echo x > /dev/xdisk']);
    expect(r.stderr).toMatch(/Operation not permitted/);
  });

  it('the default nodes work', async () => {
    expect(await sh('head -c 4 /dev/zero | wc -c; echo x > /dev/null; head -c 4 /dev/urandom | wc -c')).toBe('4\n4\n');
  });
});

describe('kernel files', () => {
  it.each([
    ['/proc/sys', 'echo 2 > /proc/sys/vm/overcommit_memory'],
    ['/proc/sysrq-trigger (or its absence)', 'echo h > /proc/sysrq-trigger'],
    ['/sys', 'echo x > /sys/kernel/uevent_helper'],
    ['/sys, a new file', 'touch /sys/kernel/tsdock'],
    ['/proc/irq', 'echo 1 > /proc/irq/default_smp_affinity'],
  ])('%s is not writable', async (_name, script) => {
    const r = await run(['busybox', 'sh', '-c', script]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/Read-only file system|nonexistent directory|Permission denied/);
  });

  it('masked paths read as nothing', async () => {
    expect(await sh('wc -c < /proc/keys; wc -c < /proc/timer_list; ls /sys/firmware | wc -l')).toBe('0\n0\n0\n');
  });

  it('--privileged leaves them unmasked', async () => {
    expect(await sh('ls /sys/firmware | wc -l', ['--privileged'])).not.toBe('0\n');
  });
});

describe('processes', () => {
  it('kill -9 -1 reaches only the container', async () => {
    const sentinel = spawn('sleep', ['60'], { stdio: 'ignore' });
    try {
      const out = await sh('sleep 30 & sleep 0.1; kill -9 -1; wait; echo survived');
      expect(out).toBe('survived\n');
      expect(sentinel.exitCode).toBeNull();
      expect(sentinel.signalCode).toBeNull();
      process.kill(sentinel.pid ?? 0, 0);
    } finally {
      sentinel.kill('SIGKILL');
    }
  });
});

describe('descriptors', () => {
  // `; true` keeps sh as pid 1 rather than exec'ing ls, whose own fd 3 would be listed.
  it('none leaks into 20 containers started at once', async () => {
    const outs = await Promise.all(Array.from({ length: 20 }, () => sh('ls /proc/1/fd; true')));
    for (const out of outs) expect(out).toBe('0\n1\n2\n');
  });

  it('--workdir /proc/self/fd/N names no directory of the host', async () => {
    const ns = Array.from({ length: 28 }, (_, i) => i + 3);
    for (let i = 0; i < ns.length; i += 7) {
      await Promise.all(
        ns.slice(i, i + 7).map(async (n) => {
          const r = await run(['--workdir', `/proc/self/fd/${String(n)}`, 'busybox', 'sh', '-c', 'pwd; ls']);
          // Either refused in one line, or in a directory of the container (none exists there).
          expect(r.code).toBe(125);
          expect(r.stderr).toMatch(new RegExp(`^tsdock: (mkdir|cwd) /proc/self/fd/${String(n)}: .+\\n$`));
        }),
      );
    }
  });
});
