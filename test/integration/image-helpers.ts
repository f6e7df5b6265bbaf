/** Shared by the image integration tests: temp dirs, tree listings, tar/overlay via host tools. */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstat, mkdtemp, readdir, readFile, readlink, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach } from 'vitest';
import { openImageStore, type ImageStore } from '../../src/image/store.js';

export const exec = promisify(execFile);

const made: string[] = [];

/** A fresh directory under os.tmpdir(), removed after the current test. */
export async function tempDir(prefix = 'tsdock-image-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}

afterEach(async () => {
  for (const dir of made.splice(0)) await rm(dir, { recursive: true, force: true });
});

/** One line per entry below `root`, sorted: path, type, mode, owner, size or target. */
export async function listTree(root: string, options: { times?: boolean; dirTimes?: boolean } = {}): Promise<string[]> {
  const lines: string[] = [];
  async function walk(rel: string): Promise<void> {
    for (const name of (await readdir(join(root, rel))).sort()) {
      const path = rel === '' ? name : `${rel}/${name}`;
      const st = await lstat(join(root, path));
      const type = st.isDirectory()
        ? 'd'
        : st.isSymbolicLink()
          ? 'l'
          : st.isFile()
            ? 'f'
            : st.isCharacterDevice()
              ? 'c'
              : st.isFIFO()
                ? 'p'
                : '?';
      const what =
        type === 'l' ? `-> ${await readlink(join(root, path))}` : type === 'c' ? `dev ${st.rdev}` : `size ${st.size}`;
      const mode = (st.mode & 0o7777).toString(8).padStart(4, '0');
      const timed = options.times === true && (type !== 'd' || options.dirTimes !== false);
      const time = timed ? ` mtime ${Math.floor(st.mtimeMs / 1000)}` : '';
      lines.push(`${path} ${type} ${mode} ${st.uid}:${st.gid} ${type === 'd' ? '' : what}${time}`.trimEnd());
      if (type === 'd') await walk(path);
    }
  }
  await walk('');
  return lines;
}

/**
 * A digest of a whole tree: listing plus every file's content and mtime. Directory mtimes are
 * left out: a temporary created and removed again changes them without changing the tree.
 */
export async function hashTree(root: string): Promise<string> {
  const hash = createHash('sha256');
  for (const line of await listTree(root, { times: true, dirTimes: false })) {
    hash.update(`${line}\n`);
    const [path, type] = line.split(' ');
    if (type === 'f' && path !== undefined) hash.update(await readFile(join(root, path)));
  }
  return hash.digest('hex');
}

/** GNU tar of `dir`'s contents (pax format, numeric owners, xattrs), optionally gzipped. */
export async function gnuTar(dir: string, out: string, gzip = false): Promise<string> {
  const args = ['--format=pax', '--numeric-owner', '--xattrs', '--xattrs-include=*', '-C', dir];
  await exec('tar', [...args, gzip ? '-czf' : '-cf', out, '.']);
  return out;
}

/**
 * Mounts an overlay of `lowerDirs` (bottom to top) in a private mount namespace and returns
 * `find`'s sorted listing of the merged tree, plus the content of `cat`. The mount lives only as
 * long as the `unshare`d shell, and nothing of it propagates to the host.
 */
export async function overlayView(lowerDirs: string[], cat: string): Promise<{ listing: string[]; content: string }> {
  const work = await tempDir('tsdock-overlay-');
  const script = [
    'set -e',
    'mkdir "$W/upper" "$W/work" "$W/merged"',
    'mount -t overlay overlay -o "lowerdir=$L,upperdir=$W/upper,workdir=$W/work" "$W/merged"',
    'cd "$W/merged"',
    'find . -mindepth 1 | sort',
    'echo ---',
    'cat "$C"',
  ].join('\n');
  const { stdout } = await exec('unshare', ['-m', '--propagation', 'private', 'sh', '-c', script], {
    env: { ...process.env, W: work, L: [...lowerDirs].reverse().join(':'), C: cat },
  });
  const [listing = '', content = ''] = stdout.split('---\n');
  return { listing: listing.split('\n').filter((l) => l !== ''), content };
}

/** A fresh, empty image store in its own temp dir. */
export async function store(): Promise<ImageStore> {
  return openImageStore(await tempDir('tsdock-store-'));
}
