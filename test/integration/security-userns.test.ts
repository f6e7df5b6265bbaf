/**
 * User namespaces end to end: `--userns auto` gives each container a host range of its own
 * (seen from the host in /proc/<pid>/uid_map), files owned as the image says inside, the
 * allocation recorded in the root and freed by `rm`; volumes under a mapping keep their host
 * owners (ids outside the mapping read as nobody) and are writable once owned by the mapped root.
 */
import { chmodSync, chownSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { busyboxRoot, type BusyboxRoot } from '../helpers/busybox.js';
import { removeCgroupParent, tsdock, uniqueCgroupParent } from '../helpers/host.js';

let box: BusyboxRoot;
const parent = uniqueCgroupParent('userns');
const names: string[] = [];

beforeAll(async () => {
  box = await busyboxRoot('userns');
});

afterAll(async () => {
  if (names.length > 0) await cli(['rm', '-f', ...names]);
  await removeCgroupParent(parent);
  await box.remove();
});

function cli(args: string[]): ReturnType<typeof tsdock> {
  return tsdock(['--root', box.root, ...args]);
}

async function startDetached(name: string, flags: string[]): Promise<void> {
  names.push(name);
  const r = await cli(['run', '-d', '--name', name, '--cgroup-parent', parent, ...flags, 'busybox', 'sleep', '300']);
  expect(r.stderr).toBe('');
}

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

  it('frees the range and its layer copies on rm', async () => {
    const before = mappedLayers();
    expect(before.length).toBeGreaterThan(0);
    const { State } = await inspect(a);
    const [, hostA] = hostMap(State.Pid, 'uid_map');
    const removed = await cli(['rm', '-f', a]);
    expect(removed.stderr).toBe('');
    const table = JSON.parse(readFileSync(rangesFile(), 'utf8')) as Record<string, { uid: { start: number } }>;
    expect(Object.values(table).map((t) => t.uid.start)).not.toContain(hostA);
    expect(mappedLayers().some((n) => n.includes(`-${String(hostA)}-`) || n.endsWith(`-${String(hostA)}-65536`))).toBe(
      false,
    );
    // The other container's copy stays: it still runs on it.
    expect(await sh(b, 'cat /etc/hostname | wc -l')).toBe('1\n');
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
});
