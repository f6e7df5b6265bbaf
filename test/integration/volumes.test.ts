/**
 * Named and anonymous volumes with real containers: data that outlives its container, Docker's
 * copy-up from the image (owners, modes, links, never the host's files), `--rm`/`rm -v` and
 * prune taking only what they should, in-use volumes refused, and a user namespace's root
 * writing a new volume.
 */
import { lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Runtime, TsdockError, type VolumeInspect } from '../../src/index.js';
import { busyboxRoot, type BusyboxRoot } from '../helpers/busybox.js';
import { removeCgroupParent, tsdock, uniqueCgroupParent } from '../helpers/host.js';

let box: BusyboxRoot;
let context: string;
const parent = uniqueCgroupParent('volumes');

const cli = (args: string[], input?: string): ReturnType<typeof tsdock> =>
  tsdock(['--root', box.root, ...args], { input });

/** A foreground `--rm` run without a network; its stdout, failing the test on any error. */
async function sh(script: string, flags: string[] = [], image = 'busybox'): Promise<string> {
  const r = await cli([
    'run',
    '--rm',
    '--cgroup-parent',
    parent,
    '--network',
    'none',
    ...flags,
    image,
    'sh',
    '-c',
    script,
  ]);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return r.stdout;
}

async function volumeNames(): Promise<string[]> {
  const r = await cli(['volume', 'ls', '-q']);
  expect(r.code).toBe(0);
  return r.stdout.split('\n').filter(Boolean);
}

async function inspectVolume(name: string): Promise<VolumeInspect> {
  const r = await cli(['volume', 'inspect', name]);
  expect(r.code).toBe(0);
  const [volume] = JSON.parse(r.stdout) as VolumeInspect[];
  if (volume === undefined) throw new Error(`no volume ${name}`);
  return volume;
}

beforeAll(async () => {
  box = await busyboxRoot('volumes');
  // An image with a VOLUME over content of its own, a link to the host's /etc inside it, and a
  // link to / that a volume path may go through.
  context = await mkdtemp(join(tmpdir(), 'tsdock-volumes-ctx-'));
  await mkdir(join(context, 'seed', 'sub'), { recursive: true });
  await mkdir(join(context, 'top'));
  await writeFile(join(context, 'seed', 'file'), 'seeded\n');
  await symlink('/etc', join(context, 'seed', 'hostlink'));
  await symlink('/', join(context, 'top', 'escape'));
  await writeFile(
    join(context, 'Dockerfile'),
    'FROM busybox\nCOPY --chown=1234:5678 seed /seed\nCOPY top/ /\nVOLUME /seed\n',
  );
  const built = await cli(['build', '-q', '--network', 'none', '-t', 'seeded', context]);
  expect(built.stderr).toBe('');
  expect(built.code).toBe(0);
}, 120_000);

afterAll(async () => {
  await box.remove();
  await rm(context, { recursive: true, force: true });
  await removeCgroupParent(parent);
});

describe('named volumes', () => {
  it('keep data across containers: made on first use, seen by the next one', async () => {
    await sh('echo kept > /data/f', ['-v', 'shared:/data']);
    expect(await sh('cat /data/f', ['-v', 'shared:/data:ro'])).toBe('kept\n');
    expect(await sh('{ echo x > /data/g; } 2>/dev/null || echo refused', ['-v', 'shared:/data:ro'])).toMatch(/refused/);
    const volume = await inspectVolume('shared');
    expect(volume).toEqual({
      Name: 'shared',
      Driver: 'local',
      Mountpoint: join(box.root, 'volumes', 'shared', '_data'),
      CreatedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/) as string,
      Labels: {},
      Scope: 'local',
      Options: {},
    });
    expect(await readFile(join(volume.Mountpoint, 'f'), 'utf8')).toBe('kept\n');
  });

  it('are made by volume create with labels, listed and filtered', async () => {
    const created = await cli(['volume', 'create', '--label', 'team=a', 'labelled']);
    expect(created.stdout).toBe('labelled\n');
    expect((await cli(['volume', 'create', 'labelled'])).code).toBe(0); // idempotent, as Docker's
    expect((await inspectVolume('labelled')).Labels).toEqual({ team: 'a' });
    const ls = await cli(['volume', 'ls', '--filter', 'label=team=a']);
    expect(ls.stdout).toBe('DRIVER   VOLUME NAME\nlocal    labelled\n');
    expect((await cli(['volume', 'ls', '-q', '-f', 'name=abel'])).stdout).toBe('labelled\n');
    const bad = await cli(['volume', 'create', 'no/slash']);
    expect(bad.code).toBe(125);
    expect(bad.stderr).toMatch(/"no\/slash" includes invalid characters for a local volume name/);
  });

  it('cannot be removed while a container uses them, running or not (exit 1)', async () => {
    const id = (
      await cli([
        'run',
        '-d',
        '--cgroup-parent',
        parent,
        '--network',
        'none',
        '-v',
        'busy:/data',
        'busybox',
        'sleep',
        '60',
      ])
    ).stdout.trim();
    try {
      const refused = await cli(['volume', 'rm', 'busy']);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toBe(`tsdock: remove busy: volume is in use - [${id}]\n`);
      expect((await cli(['volume', 'rm', '-f', 'busy'])).code).toBe(1);
      expect((await cli(['stop', '-t', '0', id])).code).toBe(0);
      expect((await cli(['volume', 'rm', 'busy'])).code).toBe(1);
      const dangling = await cli(['volume', 'ls', '-q', '--filter', 'dangling=false']);
      expect(dangling.stdout.split('\n')).toContain('busy');
    } finally {
      await cli(['rm', '-f', id]);
    }
    expect(await cli(['volume', 'rm', 'busy'])).toMatchObject({ code: 0, stdout: 'busy\n' });
    expect(await volumeNames()).not.toContain('busy');
    const missing = await cli(['volume', 'rm', 'busy']);
    expect(missing).toMatchObject({ code: 1, stderr: 'tsdock: no such volume: busy\n' });
    expect((await cli(['volume', 'rm', '-f', 'busy'])).code).toBe(0);
  });
});

describe('anonymous volumes', () => {
  it('go with run --rm; named ones stay', async () => {
    const before = await volumeNames();
    await sh('echo a > /anon/f && echo n > /named/f', ['-v', '/anon', '-v', 'kept-by-rm:/named']);
    const after = await volumeNames();
    expect(after.filter((v) => !before.includes(v))).toEqual(['kept-by-rm']);
  });

  it('go with a detached --rm container once it is over, through its exit command', async () => {
    const before = await volumeNames();
    const id = (
      await cli(['run', '-d', '--rm', '--cgroup-parent', parent, '--network', 'none', '-v', '/anon', 'busybox', 'true'])
    ).stdout.trim();
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    // The monitor's exit command removes the container, then its volumes: wait for both (bounded).
    for (let i = 0; i < 300 && (await volumeNames()).length > before.length; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(await volumeNames()).toEqual(before);
  });

  it('go with rm -v, stay with a plain rm, and show in inspect', async () => {
    const create = (name: string): ReturnType<typeof tsdock> =>
      cli(['create', '--name', name, '--network', 'none', '-v', '/anon', '-v', 'named-rm:/n', 'busybox', 'true']);
    expect((await create('anon-v')).code).toBe(0);
    const inspect = JSON.parse((await cli(['inspect', 'anon-v'])).stdout) as { Mounts: Record<string, unknown>[] }[];
    const mounts = inspect[0]?.Mounts ?? [];
    expect(mounts).toHaveLength(2);
    const anon = mounts.find((m) => m.Destination === '/anon');
    expect(anon).toMatchObject({
      Type: 'volume',
      Driver: 'local',
      RW: true,
    });
    expect(anon?.Name).toMatch(/^[0-9a-f]{64}$/);
    expect(mounts.find((m) => m.Destination === '/n')).toMatchObject({ Type: 'volume', Name: 'named-rm' });
    const name = anon?.Name as string;
    expect((await inspectVolume(name)).Labels).toEqual({ 'com.docker.volume.anonymous': '' });
    expect((await cli(['rm', '-v', 'anon-v'])).code).toBe(0);
    expect(await volumeNames()).not.toContain(name);
    expect(await volumeNames()).toContain('named-rm');

    expect((await create('anon-plain')).code).toBe(0);
    const kept = JSON.parse((await cli(['inspect', 'anon-plain'])).stdout) as { Mounts: { Name: string }[] }[];
    const keptName = kept[0]?.Mounts[0]?.Name ?? '';
    expect((await cli(['rm', 'anon-plain'])).code).toBe(0);
    expect(await volumeNames()).toContain(keptName);
    expect((await cli(['volume', 'rm', keptName])).code).toBe(0);
  });
});

describe('concurrent CLI processes', () => {
  it('make one volume of one name, and a create and an rm never leave a container without its volume', async () => {
    const creates = await Promise.all(Array.from({ length: 6 }, () => cli(['volume', 'create', 'raced'])));
    expect(creates.map((r) => r.code)).toEqual([0, 0, 0, 0, 0, 0]);
    expect((await volumeNames()).filter((v) => v === 'raced')).toEqual(['raced']);
    // A create that names the volume and an rm of it: either the rm wins (the create makes it
    // anew) or the create does (the rm is refused); the container's volume exists either way.
    const [created, removed] = await Promise.all([
      cli(['create', '--name', 'racer', '--network', 'none', '-v', 'raced:/r', 'busybox', 'true']),
      cli(['volume', 'rm', 'raced']),
    ]);
    expect(created.code).toBe(0);
    expect([0, 1]).toContain(removed.code);
    expect(await volumeNames()).toContain('raced');
    expect((await cli(['rm', 'racer'])).code).toBe(0);
    expect((await cli(['volume', 'rm', 'raced'])).code).toBe(0);
  });
});

describe('copy-up from the image', () => {
  it("fills a new volume at the image's VOLUME with its files, owners, modes and links", async () => {
    const out = await sh(
      'stat -c "%n %u:%g %a" /seed /seed/file /seed/sub; readlink /seed/hostlink; cat /seed/file',
      ['-v', 'seeded-vol:/seed'],
      'seeded',
    );
    expect(out).toBe('/seed 1234:5678 755\n/seed/file 1234:5678 644\n/seed/sub 1234:5678 755\n/etc\nseeded\n');
    const data = (await inspectVolume('seeded-vol')).Mountpoint;
    expect((await lstat(join(data, 'hostlink'))).isSymbolicLink()).toBe(true);
    expect(await readlink(join(data, 'hostlink'))).toBe('/etc');
    // Copied once: what the container changes stays, and is not refilled.
    await sh('rm /seed/file', ['-v', 'seeded-vol:/seed'], 'seeded');
    expect(await sh('ls /seed', ['-v', 'seeded-vol:/seed'], 'seeded')).toBe('hostlink\nsub\n');
  });

  it('gives the image VOLUME an anonymous volume, removed with --rm', async () => {
    const before = await volumeNames();
    expect(await sh('cat /seed/file; echo more > /seed/more', [], 'seeded')).toBe('seeded\n');
    expect(await volumeNames()).toEqual(before);
  });

  it("resolves the path inside the image: a link to / reads the image's files, never the host's", async () => {
    await sh('true', ['-v', 'through-link:/escape/etc'], 'seeded');
    const data = (await inspectVolume('through-link')).Mountpoint;
    const imagePasswd = await sh('cat /etc/passwd');
    expect(await readFile(join(data, 'passwd'), 'utf8')).toBe(imagePasswd);
    expect(await readFile('/etc/passwd', 'utf8')).not.toBe(imagePasswd);
    const copied = await readdir(data);
    const hostOnly = (await readdir('/etc')).filter((f) => !copied.includes(f));
    expect(hostOnly.length).toBeGreaterThan(10);
  });

  it('copies nothing with nocopy, nor into a volume that has data', async () => {
    expect(await sh('ls -A /seed', ['-v', 'nocopy-vol:/seed:nocopy'], 'seeded')).toBe('');
    await sh('echo mine > /data/own', ['-v', 'has-data:/data']);
    expect(await sh('ls /seed', ['-v', 'has-data:/seed'], 'seeded')).toBe('own\n');
  });
});

describe('prune', () => {
  it('removes unused anonymous volumes, and with -a unused named ones; never a used one', async () => {
    const runtime = await Runtime.open({ root: box.root });
    const anon = (await runtime.createVolume()).Name;
    await runtime.createVolume('prune-named');
    const holder = await runtime.create('busybox', {
      network: 'none',
      volumes: [{ target: '/held', readonly: false }],
    });
    const held = (await runtime.inspect(holder)).Mounts[0]?.Name ?? '';
    try {
      const first = await cli(['volume', 'prune', '-f']);
      expect(first.code).toBe(0);
      expect(first.stdout).toContain(`Deleted Volumes:\n${anon}\n`);
      const names = await volumeNames();
      expect(names).not.toContain(anon);
      expect(names).toContain('prune-named');
      expect(names).toContain(held);

      const declined = await cli(['volume', 'prune', '-a'], 'n\n');
      expect(declined.stdout).toMatch(/remove all local volumes not used by at least one container/);
      expect(await volumeNames()).toContain('prune-named');

      const { volumes } = await runtime.pruneVolumes({ all: true });
      expect(volumes).toContain('prune-named');
      expect(await volumeNames()).toEqual([held]);
    } finally {
      await runtime.remove(holder, { volumes: true });
    }
    expect(await volumeNames()).toEqual([]);
  });
});

describe('the library', () => {
  it('throws typed errors: VOLUME_NOT_FOUND, CONFLICT while in use', async () => {
    const runtime = await Runtime.open({ root: box.root });
    await expect(runtime.inspectVolume('absent')).rejects.toMatchObject({ code: 'VOLUME_NOT_FOUND' });
    await expect(runtime.removeVolume('absent')).rejects.toBeInstanceOf(TsdockError);
    const id = await runtime.create('busybox', {
      network: 'none',
      volumes: [{ name: 'lib-vol', target: '/v', readonly: false }],
    });
    await expect(runtime.removeVolume('lib-vol')).rejects.toMatchObject({ code: 'CONFLICT' });
    await runtime.remove(id);
    await runtime.removeVolume('lib-vol');
    await expect(runtime.inspectVolume('lib-vol')).rejects.toMatchObject({ code: 'VOLUME_NOT_FOUND' });
  });
});

describe('under a user namespace', () => {
  it("gives a new volume to the container's root, which writes it", async () => {
    expect(
      await sh('echo w > /data/f && stat -c "%u:%g" /data /data/f', ['--userns', 'private', '-v', 'userns-vol:/data']),
    ).toBe('0:0\n0:0\n');
    const data = (await inspectVolume('userns-vol')).Mountpoint;
    expect(await lstat(data)).toMatchObject({ uid: 100000, gid: 100000 });
    expect(await lstat(join(data, 'f'))).toMatchObject({ uid: 100000, gid: 100000 });
  });

  it("copies up with the image's owners as the container sees them", async () => {
    expect(
      await sh(
        'stat -c "%u:%g" /seed/file; echo x > /seed/new',
        ['--userns', 'private', '-v', 'userns-seed:/seed'],
        'seeded',
      ),
    ).toBe('1234:5678\n');
    const data = (await inspectVolume('userns-seed')).Mountpoint;
    expect(await lstat(join(data, 'file'))).toMatchObject({ uid: 101234, gid: 105678 });
  });

  it('idmaps a named volume like a bind: host root owns what container root writes', async () => {
    expect(
      await sh('echo w > /data/f && stat -c "%u:%g" /data/f', ['--userns', 'auto', '-v', 'idmapped-vol:/data:idmap']),
    ).toBe('0:0\n');
    const data = (await inspectVolume('idmapped-vol')).Mountpoint;
    expect(await lstat(join(data, 'f'))).toMatchObject({ uid: 0, gid: 0 });
  });
});
