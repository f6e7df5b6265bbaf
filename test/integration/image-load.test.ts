/**
 * `tsdock load`: OCI archives and `docker save` archives (made by skopeo from our own layouts),
 * and malformed archives that must leave the store exactly as it was.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { digestHex, type Digest } from '../../src/image/digest.js';
import { loadArchive } from '../../src/image/load.js';
import { writeOciArchive, writeOciLayout, type WrittenLayout } from '../../src/image/oci-layout-writer.js';
import type { ImageStore } from '../../src/image/store.js';
import { exec, hashTree, listTree, store, tempDir } from './image-helpers.js';
import { rejection } from '../helpers/errors.js';

interface Fixture extends WrittenLayout {
  work: string;
  layout: string;
  archive: string;
}

/** An OCI layout and archive of a two-layer image named `name`. */
async function fixture(name = 'busybox:latest'): Promise<Fixture> {
  const work = await tempDir('tsdock-load-src-');
  const l1 = join(work, 'l1');
  const l2 = join(work, 'l2');
  await mkdir(join(l1, 'bin'), { recursive: true });
  await mkdir(join(l2, 'etc'), { recursive: true });
  await writeFile(join(l1, 'bin/sh'), '#!shell');
  await writeFile(join(l2, 'etc/motd'), 'hello');
  await writeFile(join(l2, 'etc/name'), name); // the top layer differs between fixtures, the bottom one is shared
  const layout = join(work, 'layout');
  const written = await writeOciLayout(layout, {
    name,
    config: { Cmd: ['sh'] },
    layers: [l1, l2],
    mtime: 1_700_000_000,
  });
  const archive = join(work, 'image-oci.tar');
  await writeOciArchive(layout, archive);
  return { work, layout, archive, ...written };
}

/** Re-tars a directory as an archive (GNU tar keeps the symlinks skopeo wrote). */
async function tarOf(dir: string, file: string): Promise<string> {
  await exec('tar', ['-C', dir, '-cf', file, '.']);
  return file;
}

async function expectLoaded(s: ImageStore, f: Fixture, name: string): Promise<void> {
  const image = await s.resolve(name);
  expect(image.id).toBe(f.config);
  expect(image.config.Cmd).toEqual(['sh']);
  const [bottom = '', top = ''] = image.layerDirs;
  expect(await listTree(bottom)).toEqual(['bin d 0755 0:0', 'bin/sh f 0644 0:0 size 7']);
  expect(await readFile(join(top, 'etc/motd'), 'utf8')).toBe('hello');
}

describe('loading archives', () => {
  it('loads an OCI archive, plain or gzipped', async () => {
    const f = await fixture();
    const s = await store();
    expect(await loadArchive(s, f.archive)).toEqual(['busybox:latest']);
    await expectLoaded(s, f, 'busybox');
    expect((await s.list()).map((r) => `${r.repository}:${r.tag}`)).toEqual(['busybox:latest']);

    await exec('gzip', ['-k', f.archive]);
    const s2 = await store();
    expect(await s2.load(`${f.archive}.gz`)).toEqual([{ id: f.config, names: ['busybox:latest'] }]);
    await expectLoaded(s2, f, 'busybox:latest');
    expect(await listTree(join(s2.root, 'ingest'))).toEqual([]);
  });

  it('loads a docker save archive (skopeo docker-archive), with the same image ID', async () => {
    const f = await fixture();
    const docker = join(f.work, 'docker.tar');
    await exec('skopeo', ['copy', '-q', `oci:${f.layout}`, `docker-archive:${docker}:busybox:latest`]);
    const s = await store();
    expect(await loadArchive(s, docker)).toEqual(['busybox:latest']);
    await expectLoaded(s, f, 'busybox');
  });

  it('follows the legacy <id>/layer.tar symlinks of a docker save archive', async () => {
    const f = await fixture();
    const docker = join(f.work, 'docker.tar');
    await exec('skopeo', ['copy', '-q', `oci:${f.layout}`, `docker-archive:${docker}:busybox:latest`]);
    const x = join(f.work, 'x');
    await mkdir(x);
    await exec('tar', ['-C', x, '-xf', docker]);
    const manifest = JSON.parse(await readFile(join(x, 'manifest.json'), 'utf8')) as { Layers: string[] }[];
    const { stdout } = await exec('sh', ['-c', `cd ${x} && ls -d */layer.tar`]);
    const legacy = stdout.trim().split('\n');
    expect(legacy).toHaveLength(2);
    // Point Layers at the symlinks, in the right order: each symlink names its target file.
    const targetOf = async (link: string): Promise<string> =>
      (await exec('readlink', [join(x, link)])).stdout.trim().replace('../', '');
    const byTarget = new Map(await Promise.all(legacy.map(async (l) => [await targetOf(l), l] as const)));
    const [entry] = manifest;
    if (entry === undefined) throw new Error('no image in manifest.json');
    entry.Layers = entry.Layers.map((layer) => byTarget.get(layer) ?? layer);
    expect(entry.Layers.every((l) => l.endsWith('/layer.tar'))).toBe(true);
    await writeFile(join(x, 'manifest.json'), JSON.stringify(manifest));

    const s = await store();
    expect(await loadArchive(s, await tarOf(x, join(f.work, 'legacy.tar')))).toEqual(['busybox:latest']);
    await expectLoaded(s, f, 'busybox');
  });

  it('loads an unnamed image by ID, and can name it on load', async () => {
    const f = await fixture();
    const docker = join(f.work, 'unnamed.tar');
    await exec('skopeo', ['copy', '-q', `oci:${f.layout}`, `docker-archive:${docker}`]);
    const s = await store();
    expect(await loadArchive(s, docker)).toEqual([f.config]);
    expect((await s.list()).map((r) => [r.repository, r.tag])).toEqual([['<none>', '<none>']]);
    expect(await loadArchive(s, docker, { name: 'mine:v1' })).toEqual(['mine:v1']);
    await expectLoaded(s, f, 'mine:v1');
  });
});

describe('malformed archives leave the store exactly as it was', () => {
  type Damage = (f: Fixture) => Promise<string>;
  const cases: [string, Damage, RegExp][] = [
    [
      'not a tar at all',
      async (f) => {
        const file = join(f.work, 'random.tar');
        await writeFile(file, Buffer.alloc(4096, 0x5a));
        return file;
      },
      /: malformed tar: not a tar archive$/,
    ],
    [
      'a truncated archive',
      async (f) => {
        const data = await readFile(f.archive);
        const file = join(f.work, 'cut.tar');
        await writeFile(file, data.subarray(0, Math.floor(data.length / 2) + 100));
        return file;
      },
      /: malformed tar: unexpected end of archive$/,
    ],
    [
      'a tar that is no image',
      async (f) => {
        const dir = join(f.work, 'other');
        await mkdir(dir);
        await writeFile(join(dir, 'README'), 'hello');
        return tarOf(dir, join(f.work, 'other.tar'));
      },
      /: neither an OCI archive .* nor a docker save archive/,
    ],
    [
      'an OCI archive with a corrupt layer',
      async (f) => {
        const path = join(f.layout, 'blobs/sha256', digestHex(f.layers[1] as Digest));
        const data = await readFile(path);
        data[data.length - 20] = (data[data.length - 20] ?? 0) ^ 1;
        await writeFile(path, data);
        return tarOf(f.layout, join(f.work, 'corrupt.tar'));
      },
      /: layer 2: blob sha256:[0-9a-f]{64} has digest sha256:[0-9a-f]{64}$/,
    ],
    [
      'an archive member outside the archive',
      async (f) => {
        const file = join(f.work, 'escape.tar');
        await exec('tar', ['-C', f.layout, '-cf', file, '--transform', 's,^\\./index.json,../index.json,', '-P', '.']);
        return file;
      },
      /: archive member "\.\.\/index\.json": "\.\." in path$/,
    ],
    [
      'a docker save archive missing a layer',
      async (f) => {
        const docker = join(f.work, 'docker.tar');
        await exec('skopeo', ['copy', '-q', `oci:${f.layout}`, `docker-archive:${docker}:busybox:latest`]);
        const x = join(f.work, 'x');
        await mkdir(x);
        await exec('tar', ['-C', x, '-xf', docker]);
        await exec('sh', ['-c', `rm ${x}/*.tar`]);
        return tarOf(x, join(f.work, 'docker-missing.tar'));
      },
      /: image 1 layer "[0-9a-f]{64}\.tar" is missing$/,
    ],
    [
      'a docker save archive with a broken manifest.json',
      async (f) => {
        const dir = join(f.work, 'broken');
        await mkdir(dir);
        await writeFile(join(dir, 'manifest.json'), '[{"Config": 7}]');
        return tarOf(dir, join(f.work, 'broken.tar'));
      },
      /: manifest\.json: \[0\]\.Config: not a string$/,
    ],
  ];

  it.each(cases)('%s', async (_what, damage, message) => {
    const f = await fixture('new:1');
    const s = await store();
    const keep = await fixture('keep:1');
    await loadArchive(s, keep.archive);
    const bad = await damage(f);
    const before = await hashTree(s.root);
    const err = await rejection(loadArchive(s, bad));
    expect(err.code).toBe('INVALID_IMAGE');
    expect(err.message.startsWith(`${bad}: `)).toBe(true);
    expect(err.message).toMatch(message);
    expect(err.message).not.toContain('\n');
    expect(await hashTree(s.root)).toBe(before);
    expect((await s.list()).map((r) => `${r.repository}:${r.tag}`)).toEqual(['keep:1']);
  });

  it('names a missing file as such', async () => {
    const err = await rejection(loadArchive(await store(), '/nonexistent/busybox.tar'));
    expect(err.code).toBe('INVALID_ARGUMENT');
    expect(err.message).toBe('/nonexistent/busybox.tar: no such file');
  });
});
