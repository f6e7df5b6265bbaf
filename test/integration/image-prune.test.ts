/**
 * `image inspect`, `image prune` and `rmi` through the CLI: Docker's JSON shape, garbage
 * collection of images, blobs, layers and abandoned partial downloads, and never an image a
 * container was created from.
 */
import { execFile } from 'node:child_process';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { busyboxRoot, type BusyboxRoot } from '../helpers/busybox.js';
import { repoRoot, tsdock } from '../helpers/host.js';

const run = promisify(execFile);
let box: BusyboxRoot;

function cli(args: string[], input?: string): ReturnType<typeof tsdock> {
  return tsdock(['--root', box.root, ...args], { input });
}

async function ok(args: string[], input?: string): Promise<string> {
  const r = await cli(args, input);
  if (r.code !== 0) throw new Error(`tsdock ${args.join(' ')} failed (${String(r.code)}): ${r.stderr}`);
  return r.stdout;
}

async function imageIds(): Promise<string[]> {
  return (await ok(['images', '-q'])).split('\n').filter((l) => l !== '');
}

async function storeFiles(): Promise<{ blobs: string[]; layers: string[]; downloads: string[] }> {
  const list = async (dir: string): Promise<string[]> => (await readdir(join(box.root, dir))).sort();
  return { blobs: await list('blobs/sha256'), layers: await list('layers'), downloads: await list('downloads') };
}

/** A second busybox image (another build time: another config and layer) loaded as busybox:latest. */
async function loadRebuilt(epoch: number): Promise<void> {
  const out = join(box.root, '..', `rebuilt-${String(epoch)}`);
  await run(
    process.execPath,
    [join(repoRoot, 'dist/images/busybox/build.js'), '--out', out, '--archive', `${out}.tar`],
    { env: { ...process.env, SOURCE_DATE_EPOCH: String(epoch) } },
  );
  await ok(['load', '-q', '-i', `${out}.tar`]);
}

beforeAll(async () => {
  box = await busyboxRoot('image-prune');
  await mkdir(join(box.root, 'downloads'), { recursive: true });
}, 60_000);

afterAll(async () => {
  await box.remove();
});

describe('image inspect', () => {
  it("shows Docker's shape, and exits 1 naming an image it does not find", async () => {
    const [image] = JSON.parse(await ok(['image', 'inspect', 'busybox'])) as {
      Id: string;
      RepoTags: string[];
      RepoDigests: string[];
      Created: string;
      Architecture: string;
      Os: string;
      Config: { Cmd: string[] };
      RootFS: { Type: string; Layers: string[] };
      Size: number;
    }[];
    expect(image?.Id).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect((await imageIds())[0]).toBe(image?.Id.slice(7, 19));
    expect(image?.RepoTags).toEqual(['busybox:latest']);
    expect(image?.RepoDigests).toEqual([expect.stringMatching(/^busybox@sha256:[0-9a-f]{64}$/)]);
    expect(Date.parse(image?.Created ?? '')).not.toBeNaN();
    expect([image?.Architecture, image?.Os]).toEqual(['amd64', 'linux']);
    expect(image?.Config.Cmd).toEqual(['sh']);
    expect(image?.RootFS).toEqual({ Type: 'layers', Layers: [expect.stringMatching(/^sha256:/)] });
    expect(image?.Size).toBeGreaterThan(500_000);

    const missing = await cli(['image', 'inspect', 'busybox', 'no-such-image']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('no-such-image');
    expect(JSON.parse(missing.stdout)).toHaveLength(1);
  });
});

describe('image prune and rmi', () => {
  it('removes dangling images and their blobs, layers and partial downloads, never one a container uses', async () => {
    const [original] = await imageIds();
    // A container from the original image, then its name moves to a rebuilt image: dangling but used.
    await ok(['run', '--name', 'user-of-old', '--network', 'none', 'busybox', 'true']);
    await loadRebuilt(1_000_000);
    const ids = await imageIds();
    expect(ids).toHaveLength(2);
    const before = await storeFiles();
    await writeFile(join(box.root, 'downloads', 'e'.repeat(64)), 'abandoned partial download');

    // Without -f the question is asked, and "n" leaves everything alone.
    const declined = await ok(['image', 'prune'], 'n\n');
    expect(declined).toContain('Are you sure you want to continue? [y/N]');
    expect(await imageIds()).toEqual(ids);

    const kept = await ok(['image', 'prune', '-f']);
    expect(kept).toBe('Total reclaimed space: 26B\n');
    expect(await imageIds()).toEqual(ids);
    expect((await storeFiles()).downloads).toEqual([]);

    await ok(['rm', 'user-of-old']);
    const pruned = await ok(['image', 'prune', '-f']);
    expect(pruned).toMatch(
      new RegExp(`^Deleted Images:\\ndeleted: sha256:${original ?? ''}[0-9a-f]{52}\\n\\nTotal reclaimed space: \\d`),
    );
    expect(await imageIds()).toEqual(ids.filter((i) => i !== original));
    const after = await storeFiles();
    expect(after.blobs.length).toBe(before.blobs.length - 3);
    expect(after.layers.length).toBe(before.layers.length - 1);
    expect(await ok(['run', '--rm', '--network', 'none', 'busybox', 'echo', 'still runs'])).toBe('still runs\n');
  });

  it('rmi refuses an image a container was created from; -f only untags it; prune -a then keeps it', async () => {
    await ok(['run', '--name', 'user', '--network', 'none', 'busybox', 'true']);
    const refused = await cli(['rmi', 'busybox']);
    expect(refused.code).toBe(125);
    expect(refused.stderr).toBe(
      'tsdock: unable to remove image busybox: container user uses it (remove the container, or -f to untag only)\n',
    );
    expect(await ok(['rmi', '-f', 'busybox'])).toBe('Untagged: busybox:latest\n');
    expect(await ok(['images'])).toMatch(/^<none> +<none> /m);
    expect((await ok(['image', 'prune', '-a', '-f'])).startsWith('Deleted Images:')).toBe(false);
    expect(await imageIds()).toHaveLength(1);

    await ok(['rm', 'user']);
    expect(await ok(['image', 'prune', '-a', '-f'])).toMatch(/^Deleted Images:\ndeleted: sha256:/);
    expect(await imageIds()).toEqual([]);
    expect(await storeFiles()).toEqual({ blobs: [], layers: [], downloads: [] });
  });
});
