/**
 * `tsdock save` in both archive forms: skopeo and oci-image-tool accept them, `tsdock load` reads
 * them (from a file and from stdin) into a fresh root where the image runs, and a failed save
 * leaves no file behind.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { busyboxRoot, type BusyboxRoot } from '../helpers/busybox.js';
import { repoRoot, tsdock } from '../helpers/host.js';

const run = promisify(execFile);

let busybox: BusyboxRoot;
let work: string;
let imageId: string;

beforeAll(async () => {
  busybox = await busyboxRoot('save');
  work = await mkdtemp(join(tmpdir(), 'tsdock-save-'));
  imageId = (await tsdock(['--root', busybox.root, 'images', '-q'])).stdout.trim();
  expect(imageId).toMatch(/^[0-9a-f]{12}$/);
}, 120_000);

afterAll(async () => {
  await busybox.remove();
  await rm(work, { recursive: true, force: true });
});

/** Loads `archive` into a new root, checks the image's ID and runs it there. */
async function loadAndRun(archive: string, label: string): Promise<void> {
  const root = join(work, `root-${label}`);
  const loaded = await tsdock(['--root', root, 'load', '-i', archive]);
  expect(loaded.stderr).toBe('');
  expect(loaded.stdout).toBe('Loaded image: busybox:latest\n');
  expect((await tsdock(['--root', root, 'images', '-q'])).stdout.trim()).toBe(imageId);
  const ran = await tsdock(['--root', root, 'run', '--rm', 'busybox', 'sh', '-c', `echo ran-${label}`]);
  expect(ran.stdout).toBe(`ran-${label}\n`);
  expect(ran.code).toBe(0);
}

describe.each([
  { format: 'docker', transport: 'docker-archive' },
  { format: 'oci', transport: 'oci-archive' },
])('tsdock save --format $format', ({ format, transport }) => {
  it('writes an archive skopeo and oci-image-tool accept, which loads and runs in a fresh root', async () => {
    const archive = join(work, `busybox-${format}.tar`);
    const saved = await tsdock(['--root', busybox.root, 'save', '--format', format, '-o', archive, 'busybox']);
    expect(saved.stderr).toBe('');
    expect(saved.code).toBe(0);

    const { stdout } = await run('skopeo', ['inspect', `${transport}:${archive}`]);
    const inspected = JSON.parse(stdout) as { Os: string; Layers: string[]; Env: string[] };
    expect(inspected.Os).toBe('linux');
    expect(inspected.Layers).toHaveLength(1);
    expect(inspected.Env).toContain('PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin');

    // oci-image-tool cannot walk tar files; both forms hold an OCI layout, checked extracted.
    const layout = join(work, `layout-${format}`);
    await mkdir(layout);
    await run('tar', ['-xf', archive, '-C', layout]);
    await run('oci-image-tool', ['validate', '--type', 'image', '--ref', 'name=latest', layout]);

    await loadAndRun(archive, format);
  });

  it('round-trips through a pipe: save to stdout, load from stdin', async () => {
    const tsdockJs = join(repoRoot, 'bin', 'tsdock.js');
    const root = join(work, `root-pipe-${format}`);
    await run('bash', [
      '-o',
      'pipefail',
      '-c',
      `"${process.execPath}" "${tsdockJs}" --root "$1" save --format ${format} busybox | "${process.execPath}" "${tsdockJs}" --root "$2" load`,
      'pipe',
      busybox.root,
      root,
    ]);
    expect((await tsdock(['--root', root, 'images', '-q'])).stdout.trim()).toBe(imageId);
  });
});

describe('tsdock save: bad requests leave nothing behind', () => {
  it.each([
    [['nosuchimage'], /^tsdock: image not found: nosuchimage:latest/],
    [['--format', 'tar', 'busybox'], /^tsdock: unknown archive format "tar" \(use --format docker or --format oci\)/],
  ])('save %j', async (args, message) => {
    const dir = join(work, `bad-${args.join('-')}`);
    await mkdir(dir);
    const result = await tsdock(['--root', busybox.root, 'save', '-o', join(dir, 'out.tar'), ...args]);
    expect(result.code).toBe(125);
    expect(result.stderr).toMatch(message);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(await readdir(dir)).toEqual([]);
  });

  it('names a destination it cannot create', async () => {
    const result = await tsdock(['--root', busybox.root, 'save', '-o', join(work, 'missing', 'out.tar'), 'busybox']);
    expect(result.code).toBe(125);
    expect(result.stderr).toBe(`tsdock: cannot write ${join(work, 'missing', 'out.tar')}: no such file or directory\n`);
  });

  it('load from an empty stdin says what it got', async () => {
    const result = await tsdock(['--root', join(work, 'root-empty'), 'load']);
    expect(result.code).toBe(125);
    expect(result.stderr).toMatch(/^tsdock: stdin: /);
  });
});
