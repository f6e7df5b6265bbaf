/**
 * `tsdock run` end to end, as root on the real kernel: every isolation claim is checked from
 * inside a busybox container, every exit status through the CLI a user runs.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, readdirSync, readFileSync, realpathSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Runtime } from '../../src/index.js';
import { busyboxRoot, type BusyboxRoot } from '../helpers/busybox.js';
import { cgroupsUnder, hostMounts, removeCgroupParent, tsdock, uniqueCgroupParent } from '../helpers/host.js';
import { until } from '../helpers/until.js';
import { isTmpfs, volatileContainersDir } from '../../src/runtime/volatile-dir.js';

let box: BusyboxRoot;
const parent = uniqueCgroupParent('run');
let scratch: string;

beforeAll(async () => {
  box = await busyboxRoot('run');
  scratch = await mkdtemp(join(tmpdir(), 'tsdock-run-scratch-'));
});

afterAll(async () => {
  await box.remove();
  await rm(scratch, { recursive: true, force: true });
  await removeCgroupParent(parent);
});

function cli(args: string[], input?: string): ReturnType<typeof tsdock> {
  return tsdock(['--root', box.root, ...args], { input });
}

/** Without a network unless a test asks for one: network.test.ts covers the default bridge. */
const ISOLATED = ['--cgroup-parent', parent, '--network', 'none'];

function run(args: string[], input?: string): ReturnType<typeof tsdock> {
  return cli(['run', '--rm', ...ISOLATED, ...args], input);
}

async function sh(script: string, flags: string[] = []): Promise<string> {
  const r = await run([...flags, 'busybox', 'sh', '-c', script]);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return r.stdout;
}

function containers(): string[] {
  const dir = join(box.root, 'containers');
  return existsSync(dir) ? readdirSync(dir) : [];
}

describe('isolation, seen from inside', () => {
  it('has its own host name, defaulting to the short container id', async () => {
    expect(await sh('hostname', ['-h', 'box1'])).toBe('box1\n');
    expect(await sh('hostname')).toMatch(/^[0-9a-f]{12}\n$/);
    expect(await sh('cat /etc/hostname', ['-h', 'box2'])).toBe('box2\n');
  });

  it('runs as pid 1 and sees only its own processes', async () => {
    expect(await sh('echo $$')).toBe('1\n');
    // `; true` keeps sh from exec'ing ps, so sh stays pid 1.
    const ps = await sh('sleep 5 & sleep 0.2; ps -o pid,comm; true');
    const rows = ps.trim().split('\n').slice(1);
    expect(rows.map((r) => r.trim().split(/\s+/)[1])).toEqual(['sh', 'sleep', 'ps']);
  });

  it('has only lo, and lo is up', async () => {
    const links = await sh('ip -o link');
    expect(links.trim().split('\n')).toHaveLength(1);
    expect(links).toMatch(/^1: lo: <LOOPBACK,UP/);
  });

  it('shares the host network with --network host', async () => {
    // Network tests running alongside add and remove tsdock's bridges and veths meanwhile.
    const others = (out: string): string[] =>
      out
        .trim()
        .split('\n')
        .filter((l) => !/^\d+: (tsd|tsv|tsbr-)/.test(l));
    const host = others(execFileSync('ip', ['-o', 'link']).toString()).length;
    expect(others(await sh('ip -o link', ['--network', 'host']))).toHaveLength(host);
  });

  it('has a separate IPC namespace unless --ipc host', async () => {
    const id = execFileSync('ipcmk', ['-M', '4096']).toString().match(/\d+/)?.[0] ?? '';
    try {
      // /proc/sysvipc/shm lists the segments of the reader's IPC namespace.
      const segments = (text: string): string[] =>
        text
          .split('\n')
          .slice(1)
          .map((l) => l.trim().split(/\s+/)[1] ?? '');
      expect(segments(await sh('cat /proc/sysvipc/shm'))).not.toContain(id);
      expect(segments(await sh('cat /proc/sysvipc/shm', ['--ipc', 'host']))).toContain(id);
    } finally {
      execFileSync('ipcrm', ['-m', id]);
    }
  });

  it('sees the overlay as / and none of the host mounts', async () => {
    const mounts = await sh('cat /proc/mounts');
    expect(mounts).toMatch(/^overlay \/ overlay /m);
    expect(mounts).not.toMatch(/ \/work /);
    expect(mounts).toMatch(/^proc \/proc proc /m);
    expect(mounts).toMatch(/^sysfs \/sys sysfs ro,/m);
    expect(mounts).toMatch(/^devpts \/dev\/pts devpts /m);
  });

  it('is placed in its cgroups, in a cgroup namespace of its own', async () => {
    const lines = (await sh('cat /proc/self/cgroup')).trim().split('\n');
    expect(lines.length).toBeGreaterThan(1);
    for (const line of lines) expect(line).toMatch(/:\/$/);
  });

  it('sees its own limits, read-only, at /sys/fs/cgroup', async () => {
    // v1 layout first, pure v2 as the fallback.
    const script = [
      'cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max',
      'cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max',
      'mkdir /sys/fs/cgroup/x',
    ].join('; ');
    const r = await run(['--memory', '32m', '--pids-limit', '20', 'busybox', 'sh', '-c', script]);
    expect(r.stdout).toBe('33554432\n20\n');
    expect(r.stderr).toMatch(/can't create directory '\/sys\/fs\/cgroup\/x': Read-only file system/);
  });

  it("has Docker's default capabilities and no_new_privs off", async () => {
    const status = await sh('grep -E "^(CapEff|CapBnd|CapInh|CapAmb|NoNewPrivs)" /proc/self/status');
    expect(status).toMatch(/CapEff:\s+00000000a80425fb/);
    expect(status).toMatch(/CapBnd:\s+00000000a80425fb/);
    expect(status).toMatch(/CapInh:\s+0000000000000000/);
    expect(status).toMatch(/CapAmb:\s+0000000000000000/);
    expect(status).toMatch(/NoNewPrivs:\s+0/);
  });

  it('applies --cap-add, --cap-drop and --security-opt no-new-privileges', async () => {
    const flags = ['--cap-add', 'NET_ADMIN', '--cap-drop', 'CHOWN', '--security-opt', 'no-new-privileges'];
    const status = await sh('grep -E "^(CapEff|NoNewPrivs)" /proc/self/status', flags);
    expect(status).toMatch(/CapEff:\s+00000000a80435fa/);
    expect(status).toMatch(/NoNewPrivs:\s+1/);
  });

  it('passes only fds 0, 1 and 2 (ls shows its own directory fd too)', async () => {
    expect((await sh('ls /proc/self/fd')).trim().split('\n')).toEqual(['0', '1', '2', '3']);
  });

  it("masks Docker's masked paths that this kernel has", async () => {
    const present = ['/proc/kcore', '/proc/keys', '/proc/timer_list', '/proc/sched_debug'].filter((p) => existsSync(p));
    expect(present.length).toBeGreaterThan(0);
    for (const path of present) expect(await sh(`cat ${path} | wc -c`)).toBe('0\n');
    expect(await sh('ls /sys/firmware | wc -l')).toBe('0\n');
  });

  it('keeps /proc/sys, /proc/sysrq-trigger and /sys read-only', async () => {
    const r = await run([
      'busybox',
      'sh',
      '-c',
      'echo x > /proc/sys/kernel/domainname; mkdir /sys/x; echo 1 > /proc/sysrq-trigger',
    ]);
    expect(r.stderr).toMatch(/can't create \/proc\/sys\/kernel\/domainname: Read-only file system/);
    expect(r.stderr).toMatch(/can't create directory '\/sys\/x': Read-only file system/);
    expect(r.stderr).toMatch(/\/proc\/sysrq-trigger: (Read-only file system|nonexistent directory)/);
  });

  it('resets the NOFILE limit instead of inheriting Node’s', async () => {
    expect(await sh('ulimit -n')).toBe('1024\n');
  });
});

describe('process', () => {
  it('takes env from the image, -e and --env-file', async () => {
    const envFile = join(scratch, 'env');
    await writeFile(envFile, '# comment\nFROM_FILE=1\nSHARED=file\n');
    const out = await sh('echo $PATH $FROM_FILE $SHARED $HOME', ['--env-file', envFile, '-e', 'SHARED=flag']);
    expect(out).toBe('/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin 1 flag /root\n');
  });

  it('honours -w (creating it) and -u with names and ids', async () => {
    expect(await sh('pwd', ['-w', '/made/here'])).toBe('/made/here\n');
    expect(await sh('id', ['-u', 'nobody'])).toBe('uid=65534(nobody) gid=65534(nogroup)\n');
    expect(await sh('id', ['-u', '1234:5678'])).toBe('uid=1234 gid=5678\n');
    expect(await sh('grep CapEff /proc/self/status', ['-u', '1234'])).toMatch(/CapEff:\s+0{16}/);
  });

  it('overrides the entrypoint', async () => {
    const r = await run(['--entrypoint', 'echo', 'busybox', 'from', 'entrypoint']);
    expect(r.stdout).toBe('from entrypoint\n');
  });

  it('attaches stdin only with -i', async () => {
    expect((await run(['-i', 'busybox', 'cat'], 'hello\n')).stdout).toBe('hello\n');
    expect((await run(['busybox', 'cat'], 'hello\n')).stdout).toBe('');
  });

  it('mounts -v binds (read-only with :ro), --tmpfs and --read-only', async () => {
    const data = join(scratch, 'data');
    await rm(data, { recursive: true, force: true });
    const flags = ['--read-only', '-v', `${data}:/data`, '-v', `${scratch}:/ro:ro`, '--tmpfs', '/run:size=1m'];
    const r = await run([
      ...flags,
      'busybox',
      'sh',
      '-c',
      'echo hi > /data/f && touch /ro/x; touch /x; echo ok > /run/f && cat /run/f && grep " /run " /proc/mounts',
    ]);
    expect(r.stderr).toMatch(/touch: \/ro\/x: Read-only file system/);
    expect(r.stderr).toMatch(/touch: \/x: Read-only file system/);
    expect(r.stdout).toMatch(/^ok\ntmpfs \/run tmpfs rw,nosuid,nodev,noexec,relatime,size=1024k/);
    expect(await readFile(join(data, 'f'), 'utf8')).toBe('hi\n');
  });

  it('runs in a private user namespace as mapped root, with the image readable', async () => {
    const out = await sh('id -u; cat /proc/self/uid_map; ls /bin/busybox; touch /new && echo wrote', [
      '--userns',
      'private',
    ]);
    expect(out.split('\n').map((l) => l.trim().replace(/\s+/g, ' '))).toEqual([
      '0',
      '0 100000 65536',
      '/bin/busybox',
      'wrote',
      '',
    ]);
  });
});

describe('exit status, Docker convention', () => {
  it.each([
    [['sh', '-c', 'exit 0'], 0],
    [['sh', '-c', 'exit 3'], 3],
  ])('%j exits %i', async (command, code) => {
    expect((await run(['busybox', ...command])).code).toBe(code);
  });

  it('127 for a command that is not found, with one clear line', async () => {
    const r = await run(['busybox', 'no-such-command']);
    expect(r.code).toBe(127);
    expect(r.stderr).toBe('tsdock: exec: no-such-command: executable file not found in $PATH\n');
  });

  it('126 for a command that cannot be executed', async () => {
    const r = await run(['busybox', '/etc/passwd']);
    expect(r.code).toBe(126);
    expect(r.stderr).toMatch(/^tsdock: exec \/etc\/passwd: permission denied/);
  });

  it('143 when SIGTERM reaches the CLI and is forwarded', async () => {
    // Not pid 1 of a pid namespace (which ignores signals it has no handler for): --pid host.
    const { spawn } = await import('node:child_process');
    const child = spawn(process.execPath, [
      join(import.meta.dirname, '..', '..', 'bin', 'tsdock.js'),
      ...[
        '--root',
        box.root,
        'run',
        '--rm',
        '--cgroup-parent',
        parent,
        '--pid',
        'host',
        'busybox',
        'sh',
        '-c',
        'echo up; exec sleep 30',
      ],
    ]);
    await new Promise<void>((resolve) => {
      child.stdout.once('data', () => {
        resolve();
      });
    });
    child.kill('SIGTERM');
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(code).toBe(143);
  });

  it.each([
    [['--memory', '12q', 'busybox', 'true'], /^tsdock: invalid --memory "12q": expected a number/],
    [['-v', 'relative/x', 'busybox', 'true'], /^tsdock: invalid volume "relative\/x"/],
    [['--pull', 'never', 'no-such-image', 'true'], /^tsdock: image not found: no-such-image:latest/],
    [['--network', 'container:', 'busybox', 'true'], /^tsdock: invalid --network "container:"/],
    [['-u', 'ghost', 'busybox', 'true'], /^tsdock: unable to find user ghost/],
  ])('125 and one line for bad input %j, leaving nothing behind', async (args, message) => {
    const mountsBefore = await hostMounts();
    const r = await run(args);
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(message);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(containers()).toEqual([]);
    expect(await cgroupsUnder(parent)).toEqual([]);
    expect(await hostMounts()).toEqual(mountsBefore);
  });

  it('a pids limit stops a fork loop', async () => {
    const r = await run([
      '--pids-limit',
      '10',
      'busybox',
      'sh',
      '-c',
      'for i in $(seq 30); do sleep 10 & done; echo survived',
    ]);
    expect(r.stderr).toMatch(/can't fork/);
    expect(r.stdout).toBe('');
    expect(r.code).not.toBe(0);
  });

  it("mounts a --rm run's upper dir volatile (no syncfs at its end) and ahead, and one that stays not volatile", async () => {
    // mountinfo's super options of the container's root: the overlay's own (Linux 6.x shows
    // `volatile` as `fsync=volatile`).
    const rootOptions = 'grep " / / " /proc/self/mountinfo | sed "s/.* - overlay overlay //"';
    const volatile = /(^|,)(fsync=)?volatile(,|$)/m;
    const own = await sh(rootOptions);
    expect(own).toMatch(volatile);
    // Mounted ahead, on a thread, while the container was created: its layers given one by one.
    expect(own).toMatch(/(^|,)lowerdir\+=/m);
    const name = `kept-${String(process.pid)}`;
    const kept = await cli(['run', '--name', name, ...ISOLATED, 'busybox', 'sh', '-c', rootOptions]);
    expect((await cli(['rm', name])).code).toBe(0);
    expect(kept.code).toBe(0);
    expect(kept.stdout).toContain(`upperdir=${join(box.root, 'containers.data')}/`);
    expect(kept.stdout).not.toMatch(volatile);
  });

  it('binds /etc/hostname, hosts and resolv.conf over targets of a shared layer: a quiet run writes nothing', async () => {
    const made = await cli(['create', ...ISOLATED, '-h', 'quiet', 'busybox', 'true']);
    const id = made.stdout.trim();
    try {
      expect((await cli(['start', '-a', id])).code).toBe(0);
      expect(readdirSync(join(box.root, 'containers.data', id, 'upper'))).toEqual([]);
    } finally {
      await cli(['rm', id]);
    }
    // The binds still hold: the container's own files, writable.
    expect(await sh('cat /etc/hostname; echo "10.0.0.9 x" >> /etc/hosts && tail -1 /etc/hosts', ['-h', 'named'])).toBe(
      'named\n10.0.0.9 x\n',
    );
  });

  it('leaves nothing behind after a failed exec either', async () => {
    const mountsBefore = await hostMounts();
    expect((await run(['busybox', 'no-such-command'])).code).toBe(127);
    expect(containers()).toEqual([]);
    expect(await cgroupsUnder(parent)).toEqual([]);
    expect(await hostMounts()).toEqual(mountsBefore);
  });
});

describe('cgroup limits (library)', () => {
  let runtime: Runtime;
  beforeAll(async () => {
    runtime = await Runtime.open({ root: box.root });
  });
  const quiet = { stdin: 'ignore', output: 'pipe' } as const;

  it('a limit the kernel refuses fails the run with one line and leaves no container, cgroup or monitor', async () => {
    // Past the CLI's parser on purpose: only the kernel knows this host has no CPU 63. The monitor
    // is already starting up then (it waits for its cgroup), and must be ended with the run.
    const error = await runtime
      .run('busybox', { command: ['true'], limits: { cpusetCpus: '63' }, cgroupParent: parent, stdio: quiet })
      .catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/^cannot write "63" to \S+\/cpuset\.cpus: /);
    expect(containers()).toEqual([]);
    expect(await cgroupsUnder(parent)).toEqual([]);
    const monitors = readdirSync('/proc').filter((p) => {
      try {
        return /^\d+$/.test(p) && readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(box.root);
      } catch {
        return false; // ended meanwhile
      }
    });
    expect(monitors).toEqual([]);
  });

  it('removes a container whose directory cannot be renamed into the trash (containers/ is a mount)', async () => {
    const dir = join(box.root, 'containers');
    await mkdir(dir, { recursive: true });
    execFileSync('mount', ['-t', 'tmpfs', 'tsdock-test', dir]);
    try {
      // Not --rm: its record's directory is a real one under containers/.
      const c = await runtime.start('busybox', { command: ['true'], cgroupParent: parent, stdio: quiet });
      expect((await c.waitAndRemove()).exitCode).toBe(0);
      expect(readdirSync(dir)).toEqual([]);
      expect(existsSync(join(box.root, 'containers.trash', c.id))).toBe(false);
      await until("the container's data to be deleted", () => !existsSync(join(box.root, 'containers.data', c.id)));
    } finally {
      execFileSync('umount', [dir]);
    }
  });

  it("keeps a --rm container's record and small files on a tmpfs, its upper dir on disk, and removes both", async () => {
    const c = await runtime.start('busybox', {
      command: ['sleep', '30'],
      autoRemove: true,
      cgroupParent: parent,
      stdio: quiet,
    });
    const link = join(box.root, 'containers', c.id);
    const data = join(box.root, 'containers.data', c.id);
    const files = join(volatileContainersDir(box.root), c.id);
    try {
      expect(lstatSync(link).isSymbolicLink()).toBe(true);
      expect(realpathSync(link)).toBe(files);
      expect(isTmpfs(files)).toBe(true);
      expect(readdirSync(files)).toEqual(expect.arrayContaining(['config.json', 'hosts', 'hostname', 'plan']));
      expect(isTmpfs(join(data, 'upper'))).toBe(isTmpfs(box.root));
      expect((await runtime.inspect(c.id)).State.Running).toBe(true);
    } finally {
      await runtime.remove(c.id, { force: true });
    }
    expect(existsSync(link)).toBe(false);
    await until("the container's files to be deleted", () => !existsSync(files) && !existsSync(data));
    expect(containers()).toEqual([]);
  });

  it('refuses to start again a --rm container whose volatile upper dir was mounted once', async () => {
    const c = await runtime.start('busybox', {
      command: ['true'],
      autoRemove: true,
      cgroupParent: parent,
      stdio: quiet,
    });
    try {
      expect((await c.wait()).exitCode).toBe(0);
      await expect(runtime.startContainer(c.id)).rejects.toMatchObject({
        code: 'CONFLICT',
        message: expect.stringMatching(/ran with --rm and is removed once it exits: run a new one instead$/) as string,
      });
    } finally {
      await runtime.remove(c.id, { force: true });
    }
    expect(containers()).toEqual([]);
  });

  it('a 64 MB allocation under a 32 MB limit is OOM-killed: 137, recorded as OOM', async () => {
    const result = await runtime.run('busybox', {
      command: ['sh', '-c', 'x=$(head -c 67108864 /dev/zero | tr "\\0" a); echo ${#x}'],
      limits: { memory: 32 * 1024 * 1024 },
      cgroupParent: parent,
      stdio: quiet,
    });
    expect(result).toMatchObject({ exitCode: 137, signal: 9, oomKilled: true });
  });

  it('a plain kill -9 is 137 but not OOM', async () => {
    const container = await runtime.start('busybox', { command: ['sleep', '30'], cgroupParent: parent, stdio: quiet });
    process.kill(container.pid, 'SIGKILL');
    expect(await container.waitAndRemove()).toMatchObject({ exitCode: 137, signal: 9, oomKilled: false });
  });

  it('a CPU quota shows throttling in the cgroup stats', async () => {
    const container = await runtime.start('busybox', {
      command: ['sh', '-c', 'timeout 1 sh -c "while :; do :; done"; sleep 10'],
      limits: { cpuQuota: 10000, cpuPeriod: 100000 },
      cgroupParent: parent,
      stdio: quiet,
    });
    await new Promise((r) => setTimeout(r, 1200));
    const stats = await container.cgroup.stats();
    await container.cgroup.kill();
    await container.waitAndRemove();
    expect(stats.cpuThrottling?.throttledPeriods).toBeGreaterThan(0);
  });

  it.runIf(existsSync('/sys/fs/cgroup/devices'))(
    'gives library callers the device allow-list their options ask for',
    async () => {
      const devicesList = async (options: { privileged?: boolean }): Promise<string> => {
        const c = await runtime.start('busybox', {
          command: ['sleep', '30'],
          cgroupParent: parent,
          stdio: quiet,
          ...options,
        });
        try {
          const cgroup = (await readFile(`/proc/${String(c.pid)}/cgroup`, 'utf8')).match(/:devices:(.*)/)?.[1];
          return await readFile(join('/sys/fs/cgroup/devices', cgroup ?? '/nowhere', 'devices.list'), 'utf8');
        } finally {
          process.kill(c.pid, 'SIGKILL');
          await c.waitAndRemove();
        }
      };
      const defaults = await devicesList({});
      expect(defaults).toContain('c 1:3 rwm');
      expect(defaults).not.toContain('a *:* rwm');
      expect(await devicesList({ privileged: true })).toBe('a *:* rwm\n');
    },
  );

  it('removes the container cgroup after exit', async () => {
    await runtime.run('busybox', { command: ['true'], cgroupParent: parent, stdio: quiet });
    expect(await cgroupsUnder(parent)).toEqual([]);
  });
});
