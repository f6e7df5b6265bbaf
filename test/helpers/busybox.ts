/** A tsdock root with the busybox image loaded, built by the project's own image builder. */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { repoRoot, tsdock } from './host.js';

const run = promisify(execFile);

export interface BusyboxRoot {
  /** The tsdock root (`--root`). */
  root: string;
  /** The OCI archive the image was loaded from. */
  archive: string;
  remove(): Promise<void>;
}

/** Builds the busybox OCI archive (dist/ must be built: `make build`) and loads it into a fresh root. */
export async function busyboxRoot(label: string): Promise<BusyboxRoot> {
  const dir = await mkdtemp(join(tmpdir(), `tsdock-${label}-`));
  // A container root mapped by a user namespace must still traverse into the store.
  await chmod(dir, 0o711);
  const root = join(dir, 'root');
  const archive = join(dir, 'busybox-oci.tar');
  await run(process.execPath, [
    join(repoRoot, 'dist/images/busybox/build.js'),
    '--out',
    join(dir, 'layout'),
    '--archive',
    archive,
  ]);
  const loaded = await tsdock(['--root', root, 'load', '-i', archive]);
  if (loaded.code !== 0) throw new Error(`tsdock load failed: ${loaded.stderr}`);
  const remove = async (): Promise<void> => {
    // Containers on the default network leave its bridge and nftables table (kept once made).
    if (existsSync(join(root, 'networks.json'))) await tsdock(['--root', root, 'network', 'prune', '-f']);
    await rm(dir, { recursive: true, force: true });
  };
  return { root, archive, remove };
}
