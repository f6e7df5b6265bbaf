/**
 * The shared layer of /etc mount targets: which images it fits (as overlayfs would merge their
 * layers), and the layer it makes, with the image's /etc mode and owners. Layers are plain temp
 * directories; whiteouts are 0:0 character devices, made by the addon (root).
 */
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { chmod, chown } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { native } from '../../src/native.js';
import { mountTargetsLayer } from '../../src/runtime/mount-targets.js';

const S_IFCHR = 0o020000;
let base = '';
let layers = 0;

beforeAll(() => {
  base = mkdtempSync(join(tmpdir(), 'tsdock-mount-targets-'));
});

afterAll(() => {
  if (base !== '') rmSync(base, { recursive: true, force: true });
});

/** A layer directory with `entries` (path -> 'dir', 'file', 'whiteout' or a symlink's target). */
function layer(entries: Record<string, string>): string {
  const dir = join(base, 'layers', `l${String(++layers)}`);
  mkdirSync(dir, { recursive: true });
  for (const [path, kind] of Object.entries(entries)) {
    const at = join(dir, path);
    if (kind === 'dir') mkdirSync(at, { recursive: true });
    else if (kind === 'file') writeFileSync(at, 'x');
    else if (kind === 'whiteout') native().mknod(at, S_IFCHR | 0o600, 0, 0);
    else symlinkSync(kind, at);
  }
  return dir;
}

describe('mountTargetsLayer', () => {
  it("fits an image with an ordinary /etc, and repeats that /etc's mode and owners", async () => {
    const bottom = layer({ etc: 'dir', 'etc/hosts': 'file' });
    await chown(join(bottom, 'etc'), 7, 8);
    await chmod(join(bottom, 'etc'), 0o750);
    const root = join(base, 'root-a');
    const made = await mountTargetsLayer(root, [bottom]);
    expect(made).toBe(join(root, 'mount-targets', 'etc-750-7-8'));
    const etc = lstatSync(join(made ?? '', 'etc'));
    expect([etc.mode & 0o7777, etc.uid, etc.gid]).toEqual([0o750, 7, 8]);
    expect(readdirSync(join(made ?? '', 'etc')).sort()).toEqual(['hostname', 'hosts', 'resolv.conf']);
    // Made once: the same layer for the next container, nothing else left in its parent.
    expect(await mountTargetsLayer(root, [bottom])).toBe(made);
    expect(readdirSync(join(root, 'mount-targets'))).toEqual(['etc-750-7-8']);
  });

  it('fits an image without /etc as the child would make it, and sees through whiteouts', async () => {
    expect(await mountTargetsLayer(join(base, 'root-b'), [layer({ bin: 'dir' })])).toMatch(/etc-755-0-0$/);
    const symlinked = layer({ etc: 'dir', 'etc/hosts': '/run/hosts' });
    const hidden = layer({ etc: 'dir', 'etc/hosts': 'whiteout' });
    expect(await mountTargetsLayer(join(base, 'root-b'), [symlinked, hidden])).toMatch(/etc-755-0-0$/);
  });

  it('does not fit an image whose /etc or one of the targets is anything but a directory or file', async () => {
    const root = join(base, 'root-c');
    expect(await mountTargetsLayer(root, [layer({ etc: '/usr/etc' })])).toBeUndefined();
    expect(
      await mountTargetsLayer(root, [layer({ etc: 'dir', 'etc/resolv.conf': '../run/resolv.conf' })]),
    ).toBeUndefined();
    expect(await mountTargetsLayer(root, [layer({ 'etc/hostname': 'dir' })])).toBeUndefined();
    // The lower layer's regular file is not what the merged rootfs shows.
    const lower = layer({ etc: 'dir', 'etc/hosts': 'file' });
    expect(await mountTargetsLayer(root, [lower, layer({ etc: 'dir', 'etc/hosts': '/x' })])).toBeUndefined();
  });
});
