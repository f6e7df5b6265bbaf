/** The test helpers' own clean-up of the host, against real cgroups. */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cgroupParentDirs, removeCgroupParent, uniqueCgroupParent } from '../helpers/host.js';

describe('removeCgroupParent', () => {
  it('kills what a failed test left in nested cgroups, thawing a frozen one, then removes them all', async () => {
    const parent = uniqueCgroupParent('helpers');
    const dirs = await cgroupParentDirs(parent);
    const sleeper = spawn('sleep', ['600'], { stdio: 'ignore' });
    const exited = new Promise((resolve) => sleeper.once('exit', resolve));
    try {
      for (const dir of dirs) mkdirSync(join(dir, 'pod', 'container'), { recursive: true });
      const freezer = dirs.find((d) => d.includes('/freezer/'));
      const inner = join(freezer ?? dirs[0] ?? '', 'pod', 'container');
      writeFileSync(join(inner, 'cgroup.procs'), String(sleeper.pid));
      if (freezer !== undefined) writeFileSync(join(inner, 'freezer.state'), 'FROZEN');
    } finally {
      await removeCgroupParent(parent);
    }
    expect(await exited).toBe(null);
    expect(sleeper.signalCode).toBe('SIGKILL');
    expect(dirs.filter((d) => existsSync(d))).toEqual([]);
  });
});
