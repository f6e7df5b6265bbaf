/**
 * A canary on the host: a file and a directory outside every container and store, whose content
 * hash, modes, owners, link counts and directory listing are recorded before a hostile case
 * and compared after it. A breakout that writes, chmods, chowns, links or creates next to it
 * changes the snapshot.
 */
import { createHash } from 'node:crypto';
import { chmod, lstat, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Canary {
  /** The directory holding everything (its own parent is a fresh temp dir). */
  dir: string;
  file: string;
  snapshot(): Promise<string[]>;
  remove(): Promise<void>;
}

export async function makeCanary(): Promise<Canary> {
  const top = await mkdtemp(join(tmpdir(), 'tsdock-canary-'));
  const dir = join(top, 'canary');
  const file = join(dir, 'secret');
  await mkdir(join(dir, 'inner'), { recursive: true });
  await writeFile(file, 'the host must keep this\n', { mode: 0o600 });
  await chmod(dir, 0o700);
  async function describe(path: string): Promise<string> {
    const st = await lstat(path);
    const hash = st.isFile()
      ? createHash('sha256')
          .update(await readFile(path))
          .digest('hex')
      : '-';
    return `${path} mode=${st.mode.toString(8)} owner=${String(st.uid)}:${String(st.gid)} nlink=${String(st.nlink)} ${hash}`;
  }
  return {
    dir,
    file,
    async snapshot() {
      const lines = [await describe(top), await describe(dir), await describe(file)];
      for (const d of [top, dir, join(dir, 'inner')]) lines.push(`${d}: ${(await readdir(d)).sort().join(' ')}`);
      return lines;
    },
    remove: () => rm(top, { recursive: true, force: true }),
  };
}
