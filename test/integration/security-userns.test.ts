/**
 * User namespaces end to end: `--userns auto` gives each container a host range of its own
 * (seen from the host in /proc/<pid>/uid_map), files owned as the image says inside, the
 * allocation recorded in the root and freed by `rm`. The image's layers are idmapped mounts
 * that exist only in the container's mount namespace (this kernel supports them); the fallback,
 * a chowned copy of each layer per range, is forced with `TSDOCK_IDMAPPED_LAYERS=0` and must
 * present the same files. Volumes under a mapping keep their host owners (ids outside the
 * mapping read as nobody) and are writable once owned by the mapped root, or idmapped (`:idmap`:
 * host owners shown as they are), or chowned into the range (`:U`).
 */
import { chmodSync, chownSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { busyboxRoot, type BusyboxRoot } from '../helpers/busybox.js';
import { containerRecords } from '../helpers/container-bed.js';
import { hostMounts, removeCgroupParent, tsdock, uniqueCgroupParent } from '../helpers/host.js';

let box: BusyboxRoot;
const parent = uniqueCgroupParent('userns');
const names: string[] = [];

/**
 * An image whose files belong to ids other than root (1000:1001, 1234:5678) and whose second
 * layer replaces a directory (an opaque directory: `/o` shows `new` only).
 */
const OWNERS = 'owners';
const OWNERS_LISTING = '1000:1001 /data\n1234:5678 /data/f\nnew\n';

beforeAll(async () => {
  box = await busyboxRoot('userns');
  const context = join(box.root, '..', 'owners');
  mkdirSync(context);
  writeFileSync(
    join(context, 'Dockerfile'),
    [
      'FROM busybox',
      'RUN mkdir -p /data /o && touch /data/f /o/old && chown 1000:1001 /data && chown 1234:5678 /data/f',
      'RUN rm -rf /o && mkdir /o && touch /o/new',
    ].join('\n'),
  );
  // As the build suite's: a build's RUN containers take tsdock's default cgroup parent.
  const built = await cli(['build', '--network', 'none', '-t', OWNERS, context]);
  expect(built).toMatchObject({ code: 0, stderr: '' });
});

afterAll(async () => {
  if (names.length > 0) await cli(['rm', '-f', ...names]);
  await removeCgroupParent(parent);
  await box.remove();
});

/** The chowned-copy fallback, forced. */
const COPIES = { TSDOCK_IDMAPPED_LAYERS: '0' };

function cli(args: string[], env: NodeJS.ProcessEnv = {}): ReturnType<typeof tsdock> {
  return tsdock(['--root', box.root, ...args], { env });
}

async function startDetached(name: string, flags: string[], env: NodeJS.ProcessEnv = {}): Promise<void> {
  names.push(name);
  const r = await cli(['run', '-d', '--name', name, '--cgroup-parent', parent, ...flags, OWNERS, 'sleep', '300'], env);
  expect(r.stderr).toBe('');
}

/** What the image's owners and its opaque directory look like from inside. */
const ownersInside = (name: string): Promise<string> => sh(name, 'stat -c "%u:%g %n" /data /data/f; ls /o');

async function inspect(name: string): Promise<{ State: { Pid: number }; HostConfig: Record<string, unknown> }> {
  const r = await cli(['inspect', name]);
  expect(r.stderr).toBe('');
  return (JSON.parse(r.stdout) as { State: { Pid: number }; HostConfig: Record<string, unknown> }[])[0] ?? fail();
}

function fail(): never {
  throw new Error('inspect printed nothing');
}

async function sh(name: string, script: string): Promise<string> {
  const r = await cli(['exec', name, 'sh', '-c', script]);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return r.stdout;
}

/** `[container, host, size]` of the one line of /proc/<pid>/uid_map (or gid_map), read from the host. */
function hostMap(pid: number, file: 'uid_map' | 'gid_map'): [number, number, number] {
  const lines = readFileSync(`/proc/${String(pid)}/${file}`, 'utf8')
    .trim()
    .split('\n');
  expect(lines).toHaveLength(1);
  return (lines[0] ?? '').trim().split(/\s+/).map(Number) as [number, number, number];
}

const rangesFile = (): string => join(box.root, 'userns-ranges.json');
const mappedLayers = (): string[] => readdirSync(join(box.root, 'layers')).filter((n) => n.length > 64);
/** Mounts of the host's namespace at or below the store: an idmapped layer must never be one. */
const storeMounts = async (): Promise<string[]> => (await hostMounts()).filter((m) => m.startsWith(box.root));

describe('--userns auto', () => {
  const a = `auto-a-${String(process.pid)}`;
  const b = `auto-b-${String(process.pid)}`;

  it('gives two containers disjoint host ranges, with files owned as the image says', async () => {
    await startDetached(a, ['--userns', 'auto']);
    await startDetached(b, ['--userns', 'auto']);
    const [ia, ib] = [await inspect(a), await inspect(b)];
    const [, hostA, sizeA] = hostMap(ia.State.Pid, 'uid_map');
    const [, hostB, sizeB] = hostMap(ib.State.Pid, 'uid_map');
    expect(sizeA).toBe(65536);
    expect(sizeB).toBe(65536);
    expect(hostA + sizeA <= hostB || hostB + sizeB <= hostA).toBe(true);
    // Never the range `private` shares between containers.
    for (const host of [hostA, hostB]) expect(host + 65536 <= 100000 || host >= 165536).toBe(true);
    expect(hostMap(ia.State.Pid, 'gid_map')[1]).toBe(hostA);
    expect(ia.HostConfig).toMatchObject({
      UsernsMode: 'auto',
      IDMappings: { UidMap: [`0:${String(hostA)}:65536`], GidMap: [`0:${String(hostA)}:65536`] },
    });

    for (const name of [a, b]) {
      expect(await ownersInside(name)).toBe(OWNERS_LISTING);
      // Root inside, owning its files, and the image's other owners as they were.
      expect(await sh(name, 'id -u; stat -c %u:%g /bin /etc/passwd; ls -ln /etc/passwd | wc -l')).toBe(
        '0\n0:0\n0:0\n1\n',
      );
      expect(await sh(name, 'cat /etc/passwd | head -1 | cut -d: -f1; echo x > /root/file && cat /root/file')).toBe(
        'root\nx\n',
      );
    }
    // On the host, each container's files belong to its own range.
    const ownerOnHost = await sh(a, 'cat /proc/self/uid_map');
    expect(ownerOnHost.trim().split(/\s+/)).toEqual(['0', String(hostA), '65536']);
    const table = JSON.parse(readFileSync(rangesFile(), 'utf8')) as Record<string, { uid: { start: number } }>;
    expect(
      Object.values(table)
        .map((t) => t.uid.start)
        .sort(),
    ).toEqual([hostA, hostB].sort());
  });

  it('idmaps the image layers inside the container only: no copies, no mount on the host', async () => {
    expect(mappedLayers()).toEqual([]);
    expect(await storeMounts()).toEqual([]);
    // A file the host adds to the image's own layer shows inside, its owner shifted by the idmap.
    const layer = readdirSync(join(box.root, 'layers')).find((n) => n.length === 64) ?? '';
    const added = join(box.root, 'layers', layer, 'from-host');
    writeFileSync(added, '');
    chownSync(added, 7, 8);
    try {
      expect(await sh(a, 'stat -c %u:%g /from-host')).toBe('7:8\n');
    } finally {
      rmSync(added);
    }
  });

  it('leaves no idmapped mount behind when the monitor and the container are killed', async () => {
    const crash = `auto-crash-${String(process.pid)}`;
    await startDetached(crash, ['--userns', 'auto']);
    const record = containerRecords(box.root).find((r) => r.name === crash);
    const monitor = record?.state.monitor?.pid ?? 0;
    const init = (await inspect(crash)).State.Pid;
    expect(monitor).toBeGreaterThan(0);
    expect(init).toBeGreaterThan(0);
    process.kill(monitor, 'SIGKILL');
    process.kill(init, 'SIGKILL');
    expect(await storeMounts()).toEqual([]);
  });

  it('keeps the container root out of host files outside its range', async () => {
    const volume = join(box.root, '..', 'shared');
    mkdirSync(volume);
    chmodSync(volume, 0o777);
    const [, hostB] = hostMap((await inspect(b)).State.Pid, 'uid_map');
    // Files of the host's root and of another container's root, writable by their owners only.
    const owned = { host: [0, 0], b: [hostB, hostB] } as const;
    for (const [name, [uid, gid]] of Object.entries(owned)) {
      writeFileSync(join(volume, name), `${name}\n`, { mode: 0o644 });
      chownSync(join(volume, name), uid, gid);
    }
    const r = await cli([
      'run',
      '--rm',
      '--userns',
      'auto',
      '--cgroup-parent',
      parent,
      '-v',
      `${volume}:/shared`,
      OWNERS,
      'sh',
      '-c',
      'for f in host b; do echo x >> /shared/$f || echo refused $f; done; stat -c %u /shared/host /shared/b',
    ]);
    expect(r.stdout).toBe('refused host\nrefused b\n65534\n65534\n');
    expect(readFileSync(join(volume, 'host'), 'utf8')).toBe('host\n');
    expect(readFileSync(join(volume, 'b'), 'utf8')).toBe('b\n');
  });

  it('frees the range on rm', async () => {
    const { State } = await inspect(a);
    const [, hostA] = hostMap(State.Pid, 'uid_map');
    const removed = await cli(['rm', '-f', a]);
    expect(removed.stderr).toBe('');
    const table = JSON.parse(readFileSync(rangesFile(), 'utf8')) as Record<string, { uid: { start: number } }>;
    expect(Object.values(table).map((t) => t.uid.start)).not.toContain(hostA);
    // The freed range is given again.
    const c = `auto-c-${String(process.pid)}`;
    await startDetached(c, ['--userns', 'auto']);
    expect(hostMap((await inspect(c)).State.Pid, 'uid_map')[1]).toBe(hostA);
  });

  it('a failed create leaves no allocation behind', async () => {
    const before = readFileSync(rangesFile(), 'utf8');
    const r = await cli([
      'run',
      '--rm',
      '--userns',
      'auto',
      '--cgroup-parent',
      parent,
      '--pull',
      'never',
      'no-such-image',
      'true',
    ]);
    expect(r.code).toBe(125);
    expect(readFileSync(rangesFile(), 'utf8')).toBe(before);
  });
});

describe('chowned layer copies (the fallback, forced)', () => {
  it('present the same files, and go with the last container of their range', async () => {
    const name = `copies-${String(process.pid)}`;
    await startDetached(name, ['--userns', 'auto'], COPIES);
    const [, host] = hostMap((await inspect(name)).State.Pid, 'uid_map');
    const copies = (): string[] => mappedLayers().filter((n) => n.includes(`-${String(host)}-`));
    expect(copies()).toHaveLength(3);
    expect(await ownersInside(name)).toBe(OWNERS_LISTING);
    expect(await sh(name, 'id -u; stat -c %u:%g /bin /etc/passwd')).toBe('0\n0:0\n0:0\n');
    expect(await cli(['rm', '-f', name])).toMatchObject({ code: 0, stderr: '' });
    expect(copies()).toEqual([]);
  });
});

describe('volumes under a user namespace', () => {
  it('keep their host owners: readable, owned by nobody inside, writable once owned by the mapped root', async () => {
    const volume = join(box.root, '..', 'volume');
    mkdirSync(volume);
    writeFileSync(join(volume, 'file'), 'from the host\n');
    chmodSync(volume, 0o755);
    const run = (flags: string[], script: string): ReturnType<typeof tsdock> =>
      cli(['run', '--rm', '--cgroup-parent', parent, ...flags, '-v', `${volume}:/data`, 'busybox', 'sh', '-c', script]);

    const readOnly = await run(['--userns', 'private'], 'cat /data/file; stat -c %u:%g /data; touch /data/new');
    expect(readOnly.stdout).toBe('from the host\n65534:65534\n');
    expect(readOnly.stderr).toMatch(/touch: \/data\/new: Permission denied/);

    chownSync(volume, 100000, 100000);
    const owned = await run(['--userns', 'private'], 'stat -c %u:%g /data; echo x > /data/new; id -u');
    expect(owned).toMatchObject({ code: 0, stdout: '0:0\n0\n', stderr: '' });
    expect(statSync(join(volume, 'new')).uid).toBe(100000);
  });

  /** A fresh root-owned 0755 directory with one root-owned file, as most host dirs are. */
  function rootOwnedDir(name: string): string {
    const dir = join(box.root, '..', name);
    mkdirSync(dir);
    chmodSync(dir, 0o755);
    writeFileSync(join(dir, 'file'), 'from the host\n', { mode: 0o644 });
    return dir;
  }

  const runIn = (flags: string[], script: string): ReturnType<typeof tsdock> =>
    cli(['run', '--rm', '--cgroup-parent', parent, ...flags, 'busybox', 'sh', '-c', script]);

  it(":idmap shows host owners inside and makes what the container root writes the host root's", async () => {
    const dir = rootOwnedDir('idmapped');
    const write = 'stat -c %u:%g /data /data/file; echo x >> /data/file && echo y > /data/new && id -u';
    // Without idmap the container's root is an unprivileged host id there: refused.
    const plain = await runIn(['--userns', 'private', '-v', `${dir}:/data`], write);
    expect(plain.stdout).toBe('65534:65534\n65534:65534\n');
    expect(plain.stderr).toMatch(/\/data\/file: Permission denied/);

    const idmapped = await runIn(['--userns', 'private', '-v', `${dir}:/data:idmap`], write);
    expect(idmapped).toMatchObject({ code: 0, stdout: '0:0\n0:0\n0\n', stderr: '' });
    expect(readFileSync(join(dir, 'file'), 'utf8')).toBe('from the host\nx\n');
    expect(statSync(join(dir, 'new'))).toMatchObject({ uid: 0, gid: 0 });
    // Read-only as asked, still idmapped.
    const ro = await runIn(
      ['--userns', 'private', '-v', `${dir}:/data:ro,idmap`],
      'stat -c %u /data/new; touch /data/z',
    );
    expect(ro.stdout).toBe('0\n');
    expect(ro.stderr).toMatch(/Read-only file system/);
    expect(await storeMounts()).toEqual([]);
  });

  it(':idmap lets two --userns auto containers share one directory with the same owners', async () => {
    const dir = rootOwnedDir('shared-idmapped');
    const [x, y] = [`idmap-x-${String(process.pid)}`, `idmap-y-${String(process.pid)}`];
    for (const name of [x, y]) await startDetached(name, ['--userns', 'auto', '-v', `${dir}:/data:idmap`]);
    await sh(x, 'echo from-x > /data/x');
    expect(await sh(y, 'stat -c %u:%g /data/x; cat /data/x; echo from-y > /data/y')).toBe('0:0\nfrom-x\n');
    expect(statSync(join(dir, 'x')).uid).toBe(0);
    expect(statSync(join(dir, 'y')).uid).toBe(0);
    expect(await cli(['rm', '-f', x, y])).toMatchObject({ code: 0, stderr: '' });
  });

  it(":U chowns the source to the container user's host ids before it starts", async () => {
    const dir = rootOwnedDir('chowned');
    mkdirSync(join(dir, 'sub'));
    const r = await runIn(
      ['--userns', 'private', '-u', '1000:1001', '-v', `${dir}:/data:U`],
      'stat -c %u:%g /data /data/sub/; echo x > /data/sub/new && id -u',
    );
    expect(r).toMatchObject({ code: 0, stdout: '1000:1001\n1000:1001\n1000\n', stderr: '' });
    for (const path of [dir, join(dir, 'file'), join(dir, 'sub'), join(dir, 'sub', 'new')]) {
      expect(statSync(path)).toMatchObject({ uid: 101000, gid: 101001 });
    }
    // Without a user namespace the ids are the host's own.
    expect((await runIn(['-v', `${dir}:/data:U`], 'stat -c %u:%g /data/file')).stdout).toBe('0:0\n');
    expect(statSync(join(dir, 'sub', 'new'))).toMatchObject({ uid: 0, gid: 0 });
  });

  it('shares a named volume between --userns auto containers only through idmap', async () => {
    // /vol is not in the image: nothing is copied up. Made for the first container's range, a volume is nobody's to the second one's root;
    // made for an idmapped mount it belongs to host root, which both see as their root.
    const [x, y] = [`vol-x-${String(process.pid)}`, `vol-y-${String(process.pid)}`];
    for (const name of [x, y]) {
      await startDetached(name, [
        '--userns',
        'auto',
        '-v',
        `ranged-${String(process.pid)}:/vol`,
        '-v',
        `mapped-${String(process.pid)}:/m:idmap`,
      ]);
    }
    expect(await sh(x, 'touch /vol/x && stat -c %u /vol')).toBe('0\n');
    const other = await cli(['exec', y, 'sh', '-c', 'stat -c %u /vol; touch /vol/y']);
    expect(other.stdout).toBe('65534\n');
    expect(other.stderr).toMatch(/Permission denied/);
    await sh(x, 'echo x > /m/x');
    expect(await sh(y, 'echo y > /m/y; stat -c %u:%g /m /m/x /m/y')).toBe('0:0\n0:0\n0:0\n');
    expect(await cli(['rm', '-f', x, y])).toMatchObject({ code: 0, stderr: '' });
  });

  it('refuses idmap without a user namespace, and where the filesystem cannot be idmapped', async () => {
    const dir = rootOwnedDir('refused');
    const without = await runIn(['-v', `${dir}:/data:idmap`], 'true');
    expect(without.code).toBe(125);
    expect(without.stderr).toBe(
      `tsdock: volume ${dir}:/data: idmap needs a user namespace of the container's own (add --userns private or --userns auto)\n`,
    );
    // sysfs does not allow idmapped mounts (no FS_ALLOW_IDMAP).
    const sysfs = await runIn(['--userns', 'private', '-v', '/sys/fs:/data:ro,idmap'], 'true');
    expect(sysfs.code).toBe(125);
    expect(sysfs.stderr).toMatch(
      /^tsdock: volume \/sys\/fs:\/data: the kernel or filesystem refuses an idmapped mount \(.+\): drop idmap and use U to chown it into the container's range\n$/,
    );
  });
});
