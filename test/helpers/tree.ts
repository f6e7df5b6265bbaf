/** Describing a directory tree file by file, to compare what two unpackers produced. */
import { createHash } from 'node:crypto';
import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { native } from '../../src/native.js';

/** One line per path: type, mode, owner, size, content hash or link target, xattrs, hardlink group. */
export async function describeTree(root: string): Promise<string[]> {
  const lines: string[] = [];
  const inodes = new Map<number, string>();
  const walk = async (dir: string, rel: string): Promise<void> => {
    for (const name of (await readdir(dir)).sort()) {
      const path = join(dir, name);
      const relPath = rel === '' ? name : `${rel}/${name}`;
      const st = await lstat(path);
      const xattrs = native()
        .llistxattr(path)
        .filter((x) => !x.startsWith('trusted.overlay.'))
        .sort()
        .map((x) => `${x}=${native().lgetxattr(path, x)?.toString('hex') ?? ''}`)
        .join(',');
      let what: string;
      if (st.isSymbolicLink()) what = `link -> ${await readlink(path)}`;
      else if (st.isFile()) {
        const first = st.nlink > 1 ? inodes.get(st.ino) : undefined;
        if (st.nlink > 1 && first === undefined) inodes.set(st.ino, relPath);
        const hash = createHash('sha256')
          .update(await readFile(path))
          .digest('hex')
          .slice(0, 16);
        what = `file ${st.size} ${hash}${first === undefined ? '' : ` hardlink ${first}`}`;
      } else if (st.isDirectory()) what = 'dir';
      else what = `special ${st.rdev}`;
      lines.push(`${relPath} ${(st.mode & 0o7777).toString(8)} ${st.uid}:${st.gid} ${what} [${xattrs}]`);
      if (st.isDirectory()) await walk(path, relPath);
    }
  };
  await walk(root, '');
  return lines;
}
