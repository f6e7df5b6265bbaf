/**
 * vitest globalSetup: the default `/tsdock` parent cgroup stays once a container made it
 * (runtime/cgroups/index.ts), and the tests that run containers without `--cgroup-parent` (builds,
 * networks) make it. After the whole run it goes again, if this run made it and no container of
 * any run lives in it.
 */
import { existsSync } from 'node:fs';
import { defaultParentPaths, removeUnusedDefaultParent } from '../../src/runtime/cgroups/index.js';

export default function setup(): () => void {
  const existed = defaultParentPaths().some((dir) => existsSync(dir));
  return () => {
    if (!existed) removeUnusedDefaultParent();
  };
}
