/**
 * vitest globalSetup: `--rm` containers keep their files on a tmpfs at VOLATILE_ROOT, which
 * tsdock mounts once per boot where /run is not a tmpfs (runtime/volatile-dir.ts). It is mounted
 * here first, so that no test sees it appear among the host's mounts; after the whole run it
 * goes again if this run mounted it. The test roots' (empty) directories in it go either way.
 */
import { existsSync, readdirSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { native } from '../../src/native.js';
import { VOLATILE_ROOT, isTmpfs, prepareVolatileRoot } from '../../src/runtime/volatile-dir.js';

export default async function setup(): Promise<() => void> {
  const wasTmpfs = existsSync(VOLATILE_ROOT) && isTmpfs(VOLATILE_ROOT);
  await prepareVolatileRoot();
  return () => {
    for (const dir of readdirSync(VOLATILE_ROOT)) {
      try {
        rmdirSync(join(VOLATILE_ROOT, dir));
      } catch {
        // A container of some root still has files there.
      }
    }
    if (!wasTmpfs && readdirSync(VOLATILE_ROOT).length === 0) native().umount2(VOLATILE_ROOT, 0);
  };
}
