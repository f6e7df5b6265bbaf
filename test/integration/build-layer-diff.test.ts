/**
 * An overlayfs upper directory as a layer: whiteouts and opaque directories become OCI's `.wh.`
 * members, everything else is copied with its metadata, runtime mount points are left out, and
 * the store's unpacker turns the result back into the same upper-dir form.
 */
import { constants } from 'node:fs';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { diffUpperDir } from '../../src/build/layer-diff.js';
import { native } from '../../src/native.js';
import { writeTar } from '../../src/image/tar-writer.js';
import { unpackLayer } from '../../src/image/unpack.js';
import { listTree, tempDir } from './image-helpers.js';

describe('upper dir -> layer', () => {
  it('translates whiteouts and opaque dirs, skips mount points, and unpacks back to the same tree', async () => {
    const upper = await tempDir('tsdock-upper-');
    await mkdir(join(upper, 'etc'));
    await writeFile(join(upper, 'etc/hosts'), ''); // a mount point the runtime made
    await mkdir(join(upper, 'data/replaced'), { recursive: true });
    native().lsetxattr(join(upper, 'data/replaced'), 'trusted.overlay.opaque', Buffer.from('y'));
    await writeFile(join(upper, 'data/replaced/new'), 'new\n');
    native().mknod(join(upper, 'data/deleted'), constants.S_IFCHR, 0, 0);
    native().lsetxattr(join(upper, 'data/replaced/new'), 'user.kept', Buffer.from('v'));
    await symlink('replaced/new', join(upper, 'data/link'));

    const members: string[] = [];
    for await (const entry of diffUpperDir(upper, new Set(['etc/hosts']))) {
      members.push(
        `${entry.type} ${entry.path}${entry.xattrs.size > 0 ? ` ${[...entry.xattrs.keys()].join(',')}` : ''}`,
      );
    }
    expect(members).toEqual([
      'directory data/',
      'file data/.wh.deleted',
      'symlink data/link',
      'directory data/replaced/',
      'file data/replaced/.wh..wh..opq',
      'file data/replaced/new user.kept',
    ]);

    const unpacked = await tempDir('tsdock-unpacked-');
    await unpackLayer(writeTar(diffUpperDir(upper, new Set(['etc/hosts']))), unpacked);
    const expected = (await listTree(upper)).filter((line) => !line.startsWith('etc'));
    expect(await listTree(unpacked)).toEqual(expected);
    expect(native().lgetxattr(join(unpacked, 'data/replaced'), 'trusted.overlay.opaque')?.toString()).toBe('y');
  });

  it.each(['redirect', 'metacopy'])('fails on an entry overlayfs left incomplete (%s)', async (mark) => {
    const upper = await tempDir('tsdock-upper-');
    await mkdir(join(upper, 'moved'));
    native().lsetxattr(join(upper, 'moved'), `trusted.overlay.${mark}`, Buffer.from('/data'));
    const drain = async (): Promise<string[]> => {
      const paths: string[] = [];
      for await (const entry of diffUpperDir(upper)) paths.push(entry.path);
      return paths;
    };
    await expect(drain()).rejects.toThrow(`overlayfs recorded a ${mark}`);
  });
});
