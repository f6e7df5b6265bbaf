/**
 * Decompression bombs: layers over the size, member-size, member-count or nesting caps are
 * refused by `load` and by `pull` (on the worker-thread unpacker) in one line that names the
 * layer, the cap and how to raise it, and leave the store as it was. Raised caps let them in.
 */
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeOciArchive, writeOciLayout } from '../../src/image/oci-layout-writer.js';
import { tsdock } from '../helpers/host.js';
import { buildLayout, skopeoCopy, startRegistry, type Registry } from '../helpers/registry.js';

let dir: string;
const MiB = 1024 * 1024;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tsdock-bombs-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** An OCI archive of one layer made by `fill` in an empty directory. */
async function archive(name: string, fill: (rootfs: string) => Promise<void>): Promise<string> {
  const rootfs = join(dir, `${name}-rootfs`);
  await mkdir(rootfs);
  await fill(rootfs);
  const layout = join(dir, `${name}-layout`);
  await writeOciLayout(layout, { name: `bombs/${name}:latest`, config: { Cmd: ['true'] }, layers: [rootfs] });
  const file = join(dir, `${name}.tar`);
  await writeOciArchive(layout, file);
  return file;
}

/** What a store holds that a refused layer must not have changed. */
async function storeState(root: string): Promise<{ images: string; layers: string[] }> {
  const images = await tsdock(['--root', root, 'images', '-q']);
  return { images: images.stdout, layers: await readdir(join(root, 'layers')) };
}

const zeros = async (rootfs: string): Promise<void> => {
  await writeFile(join(rootfs, 'zeros'), Buffer.alloc(4 * MiB));
};
const deep = async (rootfs: string): Promise<void> => {
  await mkdir(join(rootfs, ...Array.from({ length: 40 }, () => 'd')), { recursive: true });
};
const many = async (rootfs: string): Promise<void> => {
  await Promise.all(Array.from({ length: 300 }, (_, i) => writeFile(join(rootfs, `f${String(i)}`), '')));
};

describe('layer caps on load', () => {
  it.each([
    [
      'size',
      zeros,
      'size=1m',
      /uncompressed size over the layer size limit of 1 MiB \(raise it with --layer-limits size=N or TSDOCK_LAYER_LIMITS\)/,
    ],
    [
      'file-size',
      zeros,
      'file-size=1m',
      /archive member "zeros" over the layer file-size limit of 1 MiB \(raise it with --layer-limits file-size=N/,
    ],
    [
      'depth',
      deep,
      'depth=30',
      /archive member "d\/d\/.*" over the layer depth limit of 30 \(raise it with --layer-limits depth=N/,
    ],
    [
      'entries',
      many,
      'entries=100',
      /number of members over the layer entries limit of 100 \(raise it with --layer-limits entries=N/,
    ],
  ])(
    '%s: refused in one line naming the layer, nothing stored; a raised cap lets it in',
    async (name, fill, caps, message) => {
      const file = await archive(name, fill);
      const root = join(dir, `${name}-root`);
      const empty = await storeState((await tsdock(['--root', root, 'images']), root));
      const refused = await tsdock(['--root', root, '--layer-limits', caps, 'load', '-i', file]);
      expect(refused.code).toBe(125);
      expect(refused.stderr).toMatch(/^tsdock: .*: layer 1 \(sha256:[0-9a-f]{64}\): /);
      expect(refused.stderr).toMatch(message);
      expect(refused.stderr.split('\n')).toHaveLength(2);
      expect(await storeState(root)).toEqual(empty);

      // The environment raises it as the flag does.
      const raised = caps.replace(/=.*/, name === 'size' || name === 'file-size' ? '=8m' : '=1000');
      const loaded = await tsdock(['--root', root, 'load', '-i', file], { env: { TSDOCK_LAYER_LIMITS: raised } });
      expect(loaded).toMatchObject({ code: 0, stderr: '' });
    },
  );

  it('refuses a malformed --layer-limits', async () => {
    const r = await tsdock([
      '--root',
      join(dir, 'x'),
      '--layer-limits',
      'size=1m,weight=3',
      'load',
      '-i',
      '/nonexistent',
    ]);
    expect(r).toMatchObject({ code: 125 });
    expect(r.stderr).toBe(
      'tsdock: invalid --layer-limits "weight=3": expected size=N, file-size=N, entries=N, depth=N\n',
    );
  });
});

describe('layer caps on pull', () => {
  let registry: Registry;

  beforeAll(async () => {
    registry = await startRegistry();
  });

  afterAll(async () => {
    await registry.stop();
  });

  it('a bomb from a registry is refused by the unpacker and nothing is stored', async () => {
    const work = join(dir, 'pull');
    await mkdir(work);
    const layout = await buildLayout(work, [[{ path: 'zeros', content: Buffer.alloc(4 * MiB) }]]);
    await skopeoCopy(`oci:${layout}:latest`, `docker://${registry.host}/bombs/zeros:1`);
    const root = join(dir, 'pull-root');
    const empty = await storeState((await tsdock(['--root', root, 'images']), root));
    const ref = `${registry.host}/bombs/zeros:1`;
    const refused = await tsdock(['--root', root, '--layer-limits', 'size=1m', 'pull', ref]);
    expect(refused.code).toBe(125);
    expect(refused.stderr).toMatch(
      /^tsdock: 127\.0\.0\.1:\d+\/bombs\/zeros: layer 1 \(sha256:[0-9a-f]{64}\): uncompressed size over the layer size limit of 1 MiB \(raise it with --layer-limits size=N or TSDOCK_LAYER_LIMITS\)\n$/,
    );
    expect(await storeState(root)).toEqual(empty);
    const pulled = await tsdock(['--root', root, 'pull', '-q', ref]);
    expect(pulled.code).toBe(0);
  });
});
