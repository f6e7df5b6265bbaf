/**
 * tsdock-runtime on a bundle, as containerd's shim drives it, on the real kernel: create leaves
 * the init set up but not exec'd until start; state, kill, pause/resume, exec, ps, delete; hooks
 * get the state; a failing create leaves nothing and says why in the JSON log.
 */
import { chownSync, closeSync, existsSync, openSync, readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { monitorPath } from '../../src/native.js';
import { processStartTime } from '../../src/runtime/proc-stat.js';
import { cgroupParentDirs, cgroupsUnder, hostMounts, removeCgroupParent, uniqueCgroupParent } from '../helpers/host.js';
import { consoleReceiver, makeBundle, runtime } from '../helpers/oci.js';

const parent = uniqueCgroupParent('oci');
let work: string;
let root: string;
let counter = 0;
/** Every init this file created, killed by pid and start time at the end if still there. */
const inits: { pid: number; startTime: string | undefined }[] = [];

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'tsdock-oci-'));
  root = join(work, 'state');
});

afterAll(async () => {
  for (const init of inits) {
    if (init.startTime !== undefined && processStartTime(init.pid) === init.startTime)
      process.kill(init.pid, 'SIGKILL');
  }
  await sleep(50);
  await removeCgroupParent(parent);
  await rm(work, { recursive: true, force: true });
});

function rt(
  args: string[],
  options: { output?: number; input?: string; extraFds?: number[] } = {},
): ReturnType<typeof runtime> {
  return runtime(['--root', root, '--log', join(work, 'log.json'), '--log-format', 'json', ...args], options);
}

interface Made {
  id: string;
  bundle: string;
  out: string;
}

/** A bundle running args, its cgroup under this file's parent; output goes to `out`. */
async function bundle(args: string[], edit?: (c: Record<string, unknown>) => void): Promise<Made> {
  counter++;
  const id = `oci-${String(process.pid)}-${String(counter)}`;
  const dir = join(work, id);
  await makeBundle(dir, `${parent}/${id}`, args, edit);
  return { id, bundle: dir, out: join(work, `${id}.out`) };
}

async function create(m: Made, extra: string[] = [], extraFds: number[] = []): Promise<number> {
  const fd = openSync(m.out, 'a');
  const pidFile = join(work, `${m.id}.pid`);
  const r = await rt(['create', '--bundle', m.bundle, '--pid-file', pidFile, ...extra, m.id], { output: fd, extraFds });
  closeSync(fd);
  expect(r.code, readFileSync(m.out, 'utf8')).toBe(0);
  const pid = Number(await readFile(pidFile, 'utf8'));
  inits.push({ pid, startTime: processStartTime(pid) });
  return pid;
}

async function status(id: string): Promise<{ status: string; pid: number; bundle: string; id: string }> {
  const r = await rt(['state', id]);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as { status: string; pid: number; bundle: string; id: string };
}

async function until(id: string, wanted: string): Promise<void> {
  for (let i = 0; i < 500 && (await status(id)).status !== wanted; i++) await sleep(20);
  expect((await status(id)).status).toBe(wanted);
}

describe('tsdock-runtime', () => {
  it('create leaves the init set up and waiting; start runs the command; delete removes it all', async () => {
    const m = await bundle(['sh', '-c', 'echo "hello from $(hostname)"; cat /proc/self/cgroup > /dev/null']);
    const pid = await create(m);
    expect(await status(m.id)).toMatchObject({ id: m.id, status: 'created', pid, bundle: m.bundle });
    // Not exec'd yet: the init is still the monitor's image, waiting for start.
    expect(readlinkSync(`/proc/${String(pid)}/exe`)).toBe(monitorPath());
    expect((await cgroupsUnder(parent)).length).toBeGreaterThan(0);
    const start = await rt(['start', m.id]);
    expect(start.code, start.stderr).toBe(0);
    await until(m.id, 'stopped');
    expect(await readFile(m.out, 'utf8')).toBe('hello from ocibox\n');
    expect((await rt(['start', m.id])).code).toBe(1);
    const del = await rt(['delete', m.id]);
    expect(del.code, del.stderr).toBe(0);
    expect(existsSync(join(root, m.id))).toBe(false);
    expect(await cgroupsUnder(parent)).toEqual([]);
    expect((await rt(['state', m.id])).stderr).toMatch(/does not exist/);
  });

  it('a missing command fails create with the reason in the JSON log, and leaves nothing', async () => {
    const m = await bundle(['no-such-command']);
    const r = await rt(['create', '--bundle', m.bundle, m.id]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('tsdock-runtime: exec: no-such-command: executable file not found in $PATH\n');
    const last = (await readFile(join(work, 'log.json'), 'utf8')).trim().split('\n').at(-1) ?? '';
    expect(JSON.parse(last)).toMatchObject({
      level: 'error',
      msg: 'exec: no-such-command: executable file not found in $PATH',
    });
    expect(existsSync(join(root, m.id))).toBe(false);
    expect(await cgroupsUnder(parent)).toEqual([]);
  });

  it('kill, pause/resume, exec, ps, and delete --force of a running container', async () => {
    const m = await bundle(['sleep', '1000']);
    const pid = await create(m);
    expect((await rt(['start', m.id])).code).toBe(0);
    expect(await status(m.id)).toMatchObject({ status: 'running', pid });

    const ps = await rt(['ps', '--format', 'json', m.id]);
    expect(JSON.parse(ps.stdout)).toEqual([pid]);

    const proc = join(work, `${m.id}-process.json`);
    await writeFile(
      proc,
      JSON.stringify({ args: ['sh', '-c', 'echo exec $(hostname); exit 3'], cwd: '/', user: { uid: 0, gid: 0 } }),
    );
    const execOut = join(work, `${m.id}-exec.out`);
    const fd = openSync(execOut, 'w');
    const exec = await rt(['exec', '--process', proc, m.id], { output: fd });
    closeSync(fd);
    expect(exec.code).toBe(3);
    expect(await readFile(execOut, 'utf8')).toBe('exec ocibox\n');

    expect((await rt(['pause', m.id])).code).toBe(0);
    expect((await status(m.id)).status).toBe('paused');
    expect((await rt(['resume', m.id])).code).toBe(0);
    expect((await status(m.id)).status).toBe('running');

    const refused = await rt(['delete', m.id]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/not stopped: running/);
    expect((await rt(['kill', m.id, 'KILL'])).code).toBe(0);
    await until(m.id, 'stopped');
    expect((await rt(['kill', m.id, 'KILL'])).stderr).toMatch(/container not running/);
    expect((await rt(['delete', m.id])).code).toBe(0);

    const again = await bundle(['sleep', '1000']);
    await create(again);
    expect((await rt(['start', again.id])).code).toBe(0);
    expect((await rt(['delete', '--force', again.id])).code).toBe(0);
    expect(existsSync(join(root, again.id))).toBe(false);
    expect(await cgroupsUnder(parent)).toEqual([]);
  });

  it('runs a foreground exec -t: the pty master to the console socket, the exit status back', async () => {
    const m = await bundle(['sleep', '1000']);
    await create(m);
    expect((await rt(['start', m.id])).code).toBe(0);
    const sock = join(work, `${m.id}.console`);
    const receiver = await consoleReceiver(sock);
    const exec = await rt(['exec', '-t', '--console-socket', sock, m.id, 'sh', '-c', 'tty; exit 6']);
    expect(exec.code, exec.stderr).toBe(6);
    expect(await receiver.output).toMatch(/^\/dev\/pts\/\d+\r\n$/);
    expect((await rt(['delete', '--force', m.id])).code).toBe(0);
  });

  it('honours limits, sysctls, masks, a read-only root and the user; update changes a limit', async () => {
    const m = await bundle(['sleep', '1000'], (c) => {
      const linux = c.linux as Record<string, unknown>;
      linux.resources = { pids: { limit: 20 }, memory: { limit: 64 << 20 } };
      linux.sysctl = { 'net.ipv4.ip_forward': '1' };
      (c.root as Record<string, unknown>).readonly = true;
    });
    const pid = await create(m);
    expect((await rt(['start', m.id])).code).toBe(0);
    const dirs = await cgroupParentDirs(join(parent, m.id));
    const pids = dirs.find((d) => existsSync(join(d, 'pids.max')));
    expect(pids).toBeDefined();
    expect((await readFile(join(pids ?? '', 'pids.max'), 'utf8')).trim()).toBe('20');
    expect((await readFile(join(pids ?? '', 'cgroup.procs'), 'utf8')).trim()).toBe(String(pid));

    const probe = join(work, `${m.id}-probe.json`);
    const script = [
      'cat /proc/sys/net/ipv4/ip_forward',
      'ls /sys/firmware | wc -l',
      'touch /x 2>/dev/null || echo ro',
      'id -u',
    ].join('; ');
    await writeFile(probe, JSON.stringify({ args: ['sh', '-c', script], cwd: '/', user: { uid: 1000, gid: 1000 } }));
    const out = join(work, `${m.id}-probe.out`);
    const fd = openSync(out, 'w');
    expect((await rt(['exec', '--process', probe, m.id], { output: fd })).code).toBe(0);
    closeSync(fd);
    expect(await readFile(out, 'utf8')).toBe('1\n0\nro\n1000\n');

    const update = await rt(['update', '--resources', '-', m.id], { input: '{"pids":{"limit":30}}' });
    expect(update.code, update.stderr).toBe(0);
    expect((await readFile(join(pids ?? '', 'pids.max'), 'utf8')).trim()).toBe('30');
    expect((await rt(['delete', '--force', m.id])).code).toBe(0);
  });

  it('passes --preserve-fds on to the process, and no other fd', async () => {
    const m = await bundle(['sh', '-c', 'echo to-fd-3 >&3; ls /proc/self/fd']);
    const extra = join(work, `${m.id}.fd3`);
    const fd3 = openSync(extra, 'w');
    await create(m, ['--preserve-fds', '1'], [fd3]);
    closeSync(fd3);
    expect((await rt(['start', m.id])).code).toBe(0);
    await until(m.id, 'stopped');
    expect(await readFile(extra, 'utf8')).toBe('to-fd-3\n');
    // stdin, stdout, stderr, fd 3, and the one ls opened for the listing.
    expect((await readFile(m.out, 'utf8')).split('\n').filter(Boolean)).toEqual(['0', '1', '2', '3', '4']);
    expect((await rt(['delete', m.id])).code).toBe(0);
  });

  it('runs hooks with the state on stdin, those of the runtime before those of the container', async () => {
    const seen = join(work, 'hook-state.json');
    const order = join(work, 'hook-order');
    const m = await bundle(['true'], (c) => {
      c.hooks = {
        createRuntime: [{ path: '/bin/sh', args: ['sh', '-c', `cat > ${seen}; echo runtime >> ${order}`] }],
        createContainer: [{ path: '/bin/sh', args: ['sh', '-c', `echo container >> ${order}`] }],
      };
    });
    const pid = await create(m);
    expect(JSON.parse(await readFile(seen, 'utf8'))).toMatchObject({
      id: m.id,
      pid,
      status: 'creating',
      bundle: m.bundle,
    });
    expect(await readFile(order, 'utf8')).toBe('runtime\ncontainer\n');
    expect((await rt(['delete', m.id])).code).toBe(0);

    const failing = await bundle(['true'], (c) => {
      c.hooks = {
        prestart: [{ path: '/bin/false' }],
        createContainer: [{ path: '/bin/sh', args: ['sh', '-c', `echo ran >> ${order}`] }],
      };
    });
    const r = await rt(['create', '--bundle', failing.bundle, failing.id]);
    expect(r.stderr).toMatch(/prestart hook \/bin\/false failed: exit status 1/);
    expect(existsSync(join(root, failing.id))).toBe(false);
    expect(await readFile(order, 'utf8')).toBe('runtime\ncontainer\n');
    expect(await cgroupsUnder(parent)).toEqual([]);
  });

  it('runs createContainer and startContainer hooks in the container, where the spec says', async () => {
    const seen = join(work, 'create-container-hook');
    const env = ['PATH=/usr/sbin:/usr/bin:/sbin:/bin'];
    const m = await bundle(['cat', '/started'], (c) => {
      c.hooks = {
        // Its path is the host's (before pivot_root); its namespaces are the container's.
        createContainer: [
          {
            path: '/bin/sh',
            args: ['sh', '-c', `{ readlink /proc/self/ns/mnt /proc/self/ns/uts; cat; } > ${seen}`],
            env,
          },
        ],
        // Its path is the container's: busybox's sh, which writes into the container's root.
        startContainer: [{ path: '/bin/sh', args: ['sh', '-c', '{ hostname; cat; } > /started'], env }],
      };
    });
    const pid = await create(m);
    const [mnt, uts, state] = readFileSync(seen, 'utf8').split('\n');
    expect([mnt, uts]).toEqual([
      readlinkSync(`/proc/${String(pid)}/ns/mnt`),
      readlinkSync(`/proc/${String(pid)}/ns/uts`),
    ]);
    expect(mnt).not.toBe(readlinkSync('/proc/self/ns/mnt'));
    expect(JSON.parse(state ?? '')).toMatchObject({ id: m.id, status: 'creating', pid: 1, bundle: m.bundle });
    expect(existsSync(join(m.bundle, 'rootfs', 'started'))).toBe(false);
    expect((await rt(['start', m.id])).code).toBe(0);
    await until(m.id, 'stopped');
    const [hostname, startState] = (await readFile(m.out, 'utf8')).split('\n');
    expect(hostname).toBe('ocibox');
    expect(JSON.parse(startState ?? '')).toMatchObject({ id: m.id, status: 'created', pid: 1 });
    expect((await rt(['delete', m.id])).code).toBe(0);

    const failing = await bundle(['true'], (c) => {
      c.hooks = { createContainer: [{ path: '/bin/sh', args: ['sh', '-c', 'echo broken >&2; exit 3'] }] };
    });
    const r = await rt(['create', '--bundle', failing.bundle, failing.id]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('tsdock-runtime: createContainer hook /bin/sh failed: exit status 3: broken\n');
    expect(existsSync(join(root, failing.id))).toBe(false);

    const late = await bundle(['true'], (c) => {
      c.hooks = { startContainer: [{ path: '/bin/no-such-hook' }] };
    });
    await create(late);
    const start = await rt(['start', late.id]);
    expect(start.code).toBe(1);
    expect(start.stderr).toBe('tsdock-runtime: startContainer hook /bin/no-such-hook failed: exit status 127\n');
    await until(late.id, 'stopped');
    expect((await rt(['delete', late.id])).code).toBe(0);
  });

  it('answers in the native front end exactly as in Node: output, errors, exit status, log line', async () => {
    const m = await bundle(['sleep', '1000'], (c) => {
      c.annotations = { 'org.example/a': 'x "quoted" \\ é' };
    });
    await create(m);
    let n = 0;
    /** One call both ways (it must not change the container), with a JSON and a text log. */
    async function same(call: string[]): Promise<void> {
      const answers = [];
      for (const node of [false, true]) {
        const logs = ['json', 'text'].map((format) => ({ format, file: join(work, `parity-${String(++n)}.log`) }));
        const results = [];
        for (const { format, file } of logs) {
          const r = await runtime(['--root', root, '--log', file, '--log-format', format, ...call], { node });
          const log = existsSync(file) ? readFileSync(file, 'utf8') : '';
          results.push({ ...r, log: log.replace(/(?<="time":"|time=")[^"]+/g, 'T') });
        }
        answers.push(results);
      }
      expect(answers[0], call.join(' ')).toEqual(answers[1]);
    }
    await same(['state', m.id]);
    await same(['resume', m.id]);
    await same(['ps', '--format', 'json', m.id]);
    await same(['state', 'no-such']);
    await same(['kill', 'no-such', 'KILL']);
    await same(['state', 'bad id']);
    await same(['start']);
    await same(['delete', '--force', 'no-such']);
    await same(['create', '--bundle', m.bundle, m.id]);
    const missing = await bundle(['no-such-command']);
    await same(['create', '--bundle', missing.bundle, missing.id]);
    expect(existsSync(join(root, missing.id))).toBe(false);
    await same(['create', '--bundle', m.bundle, '--preserve-fds', 'x', 'other']);
    expect((await rt(['start', m.id])).code).toBe(0);
    await same(['state', m.id]);
    await same(['delete', m.id]);
    await same(['start', m.id]);
    expect((await rt(['pause', m.id])).code).toBe(0);
    await same(['state', m.id]);
    await same(['pause', m.id]);
    expect((await rt(['kill', m.id, 'KILL'])).code).toBe(0);
    await until(m.id, 'stopped');
    await same(['state', m.id]);
    await same(['kill', m.id]);
    expect((await rt(['delete', m.id])).code).toBe(0);
    expect(existsSync(join(root, m.id))).toBe(false);
  });

  it('presents a bind mount with uidMappings/gidMappings through an idmapped mount, with or without a user namespace', async () => {
    const shared = join(work, 'idmapped-source');
    await mkdir(shared);
    // mkdtemp's 0700 would keep a user namespace's root (host id 100000) from the bundle.
    await chmod(work, 0o711);
    await writeFile(join(shared, 'root-file'), '');
    await writeFile(join(shared, 'other-file'), '');
    chownSync(join(shared, 'other-file'), 5, 6);
    const map = (hostID: number): { containerID: number; hostID: number; size: number }[] => [
      { containerID: 0, hostID, size: 65536 },
    ];
    const run = async (
      file: string,
      edit: (c: Record<string, unknown>, mount: Record<string, unknown>) => void,
    ): Promise<string> => {
      const m = await bundle(
        [
          'sh',
          '-c',
          `stat -c %u:%g /data/root-file /data/other-file; (echo x > /data/${file}) 2>/dev/null && echo wrote || echo refused`,
        ],
        (c) => {
          const mount: Record<string, unknown> = {
            destination: '/data',
            type: 'bind',
            source: shared,
            options: ['rbind', 'idmap'],
          };
          (c.mounts as unknown[]).push(mount);
          edit(c, mount);
        },
      );
      // The mount point: a user namespace's root could not make it in the host root's rootfs.
      await mkdir(join(m.bundle, 'rootfs', 'data'));
      await create(m);
      expect((await rt(['start', m.id])).code).toBe(0);
      await until(m.id, 'stopped');
      expect((await rt(['delete', m.id])).code).toBe(0);
      return readFile(m.out, 'utf8');
    };
    // The container's own user namespace maps 0 to 100000; the mount maps disk 0 to 100000: root's.
    const inUserns = await run('from-userns', (c, mount) => {
      const linux = c.linux as Record<string, unknown>;
      (linux.namespaces as unknown[]).push({ type: 'user' });
      linux.uidMappings = map(100000);
      linux.gidMappings = map(100000);
      mount.uidMappings = map(100000);
      mount.gidMappings = map(100000);
    });
    expect(inUserns).toBe('0:0\n5:6\nwrote\n');
    // What the container's root wrote belongs to the host's root on disk.
    expect(statSync(join(shared, 'from-userns'))).toMatchObject({ uid: 0, gid: 0 });
    // No user namespace: the mount's maps alone shift disk id N to 1000 + N (2000 + N for
    // groups), and the host root it runs as has no disk id there to write as (EOVERFLOW).
    const shifted = await run('from-host-root', (_c, mount) => {
      mount.uidMappings = map(1000);
      mount.gidMappings = map(2000);
    });
    expect(shifted).toBe('1000:2000\n1005:2006\nrefused\n');
    expect(readdirSync(shared).sort()).toEqual(['from-userns', 'other-file', 'root-file']);
    expect((await hostMounts()).filter((path) => path.startsWith(work))).toEqual([]);
  });

  it('refuses an idmapped mount it cannot make, naming the mount', async () => {
    const m = await bundle(['true'], (c) => {
      (c.mounts as unknown[]).push({
        destination: '/data',
        type: 'bind',
        source: work,
        options: ['rbind'],
        uidMappings: [{ containerID: 0, hostID: 1000, size: 10 }],
      });
    });
    const r = await rt(['create', '--bundle', m.bundle, m.id]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('tsdock-runtime: config.json: mounts (/data): uidMappings and gidMappings go together\n');
    expect(existsSync(join(root, m.id))).toBe(false);
  });

  it('creates without Node for a spec within the native subset, with the state Node writes', async () => {
    // A Node started with this fails at once: only what never starts Node succeeds.
    const noNode = { ...process.env, NODE_OPTIONS: '--require /no/such/module.js' };
    const createCall = (m: Made): string[] => ['--root', root, 'create', '--bundle', m.bundle, m.id];
    // The init holds create's stdout until it ends: a file, not a pipe the call would wait on.
    const output = openSync(join(work, 'native-create.out'), 'a');
    const native = await bundle(['true']);
    const viaNode = await bundle(['true']);
    try {
      expect((await runtime(createCall(native), { env: noNode, output })).code).toBe(0);
      expect((await runtime(createCall(viaNode), { node: true, output })).code).toBe(0);
    } finally {
      closeSync(output);
    }
    expect(readFileSync(join(work, 'native-create.out'), 'utf8')).toBe('');
    const state = (id: string): Record<string, unknown> =>
      JSON.parse(readFileSync(join(root, id, 'state.json'), 'utf8')) as Record<string, unknown>;
    const [a, b] = [state(native.id), state(viaNode.id)];
    expect(Object.keys(a)).toEqual(Object.keys(b));
    expect(a).toMatchObject({
      bundle: native.bundle,
      rootfs: join(native.bundle, 'rootfs'),
      annotations: {},
      hooks: {},
    });
    expect((a.cgroupPaths as { procs: string[] }).procs).toEqual(
      (b.cgroupPaths as { procs: string[] }).procs.map((p) => p.replaceAll(viaNode.id, native.id)),
    );
    for (const id of [native.id, viaNode.id]) {
      expect((await rt(['start', id])).code).toBe(0);
      await until(id, 'stopped');
      expect((await rt(['delete', id])).code).toBe(0);
    }
    // seccomp is compiled by TypeScript: that create goes to Node, which cannot start here.
    const filtered = await bundle(['true'], (c) => {
      (c.linux as Record<string, unknown>).seccomp = { defaultAction: 'SCMP_ACT_ALLOW' };
    });
    expect((await runtime(createCall(filtered), { env: noNode })).code).not.toBe(0);
    expect(existsSync(join(root, filtered.id))).toBe(false);
  });

  it('answers --version, features, list, and refuses --systemd-cgroup', async () => {
    expect((await rt(['--version'])).stdout.split('\n')[0]).toMatch(/^tsdock-runtime version \d+\.\d+\.\d+$/);
    expect(JSON.parse((await rt(['features'])).stdout)).toMatchObject({
      ociVersionMin: '1.0.0',
      linux: { mountExtensions: { idmap: { enabled: true } } },
    });
    expect((await rt(['list'])).stdout.split('\n')[0]).toMatch(/^ID\s+PID\s+STATUS\s+BUNDLE\s+CREATED\s+OWNER$/);
    const r = await rt(['--systemd-cgroup', 'list']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/--systemd-cgroup is not supported/);
  });
});
