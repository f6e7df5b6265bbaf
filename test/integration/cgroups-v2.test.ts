/**
 * The v2 driver against the real cgroup2 tree, under this test process's own v2 cgroup: placement,
 * freeze, kill, events and removal, which every v2 cgroup has even without controllers (the
 * hybrid host's unified tree offers none of ours; the v2 limit files are covered by the shared
 * driver suite on a stand-in directory).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TsdockError } from '../../src/errors.js';
import { detectHierarchy, servingHierarchy, type CgroupHierarchy } from '../../src/runtime/cgroups/detect.js';
import { createContainerCgroup, openContainerCgroup } from '../../src/runtime/cgroups/index.js';
import { cgroupTestBed, exists, placeIn, procsOf, sleep, taskStat, type Held } from './cgroups-helpers.js';

const hierarchy = detectHierarchy();
const v2 = hierarchy.v2;
/** Only the cgroup2 tree, as on a pure v2 host. */
const v2Only: CgroupHierarchy = { v1: {}, v2 };

describe.runIf(v2 !== undefined)('the v2 driver on this host', () => {
  const tree = v2 ?? { mountPoint: '', ownPath: '', controllers: [] };
  const bed = cgroupTestBed('v2', hierarchy);
  const hold = (script: string): Held => bed.hold(script);

  function dirOf(name: string): string {
    return join(tree.mountPoint, tree.ownPath, bed.parent, name);
  }

  async function events(name: string): Promise<string> {
    return readFile(join(dirOf(name), 'cgroup.events'), 'utf8');
  }

  it('places a process: cgroup.procs lists it, /proc/<pid>/cgroup shows the 0:: path', async () => {
    const cgroup = await createContainerCgroup({ name: 'place', parent: bed.parent, limits: {}, hierarchy: v2Only });
    expect(cgroup.procsFiles).toStrictEqual([join(dirOf('place'), 'cgroup.procs')]);
    expect(cgroup.dirs).toStrictEqual([dirOf('place')]);
    const sleeper = hold('exec /bin/busybox sleep 30');
    await placeIn(cgroup.procsFiles, sleeper.pid);
    sleeper.release();
    expect(await procsOf(join(dirOf('place'), 'cgroup.procs'))).toStrictEqual([sleeper.pid]);
    expect((await readFile(`/proc/${sleeper.pid}/cgroup`, 'utf8')).split('\n')).toContain(
      `0::${join(tree.ownPath, bed.parent, 'place')}`,
    );
    expect(await events('place')).toMatch(/^populated 1$/m);
    await cgroup.destroy();
  });

  it('freezes and thaws: cgroup.events says frozen, and the task stops using CPU', async () => {
    const cgroup = await createContainerCgroup({ name: 'frz', parent: bed.parent, limits: {}, hierarchy: v2Only });
    const busy = hold('while :; do :; done');
    await placeIn(cgroup.procsFiles, busy.pid);
    busy.release();
    await sleep(50);
    expect((await taskStat(busy.pid)).state).toBe('R');

    await cgroup.freeze();
    expect(await events('frz')).toMatch(/^frozen 1$/m);
    const frozen = await taskStat(busy.pid);
    // The v2 freezer parks tasks in a signal-delivery stop: a busy loop shows as sleeping.
    expect(frozen.state).toBe('S');
    await sleep(200);
    expect((await taskStat(busy.pid)).ticks).toBe(frozen.ticks);

    await cgroup.thaw();
    expect(await events('frz')).toMatch(/^frozen 0$/m);
    await sleep(200);
    expect((await taskStat(busy.pid)).ticks).toBeGreaterThan(frozen.ticks);
    await cgroup.destroy();
  });

  it('kills every task, children and frozen ones included, with cgroup.kill', async () => {
    const cgroup = await createContainerCgroup({ name: 'kill', parent: bed.parent, limits: {}, hierarchy: v2Only });
    const parentTask = hold('/bin/busybox sleep 30 & /bin/busybox sleep 30 & wait');
    await placeIn(cgroup.procsFiles, parentTask.pid);
    parentTask.release();
    const procs = join(dirOf('kill'), 'cgroup.procs');
    for (let i = 0; i < 50 && (await procsOf(procs)).length < 3; i++) await sleep(10);
    expect((await procsOf(procs)).length).toBe(3);

    await cgroup.freeze();
    await cgroup.kill();
    expect(await events('kill')).toMatch(/^populated 0$/m);
    expect(await procsOf(procs)).toStrictEqual([]);
    expect((await parentTask.exited).signal).toBe('SIGKILL');
    await cgroup.destroy();
    expect(await exists(dirOf('kill'))).toBe(false);
  });

  it('reports CPU usage from the core cpu.stat', async () => {
    const cgroup = await createContainerCgroup({ name: 'cpu', parent: bed.parent, limits: {}, hierarchy: v2Only });
    const busy = hold('while :; do :; done');
    await placeIn(cgroup.procsFiles, busy.pid);
    busy.release();
    // A loaded machine may give the loop little CPU: wait for it to have had 50 ms, up to 20 s.
    let stats = await cgroup.stats();
    for (let waited = 0; (stats.cpu?.usageUsec ?? 0) <= 50_000 && waited < 20_000; waited += 100) {
      await sleep(100);
      stats = await cgroup.stats();
    }
    expect(stats.cpu?.usageUsec).toBeGreaterThan(50_000);
    if (!tree.controllers.includes('memory')) expect(stats.memory).toBeUndefined();
    await cgroup.destroy();
  });

  it('destroy kills what is left and removes the directory; again, and after open, is fine', async () => {
    const cgroup = await createContainerCgroup({ name: 'gone', parent: bed.parent, limits: {}, hierarchy: v2Only });
    const sleeper = hold('exec /bin/busybox sleep 30');
    await placeIn(cgroup.procsFiles, sleeper.pid);
    sleeper.release();
    const reopened = await openContainerCgroup({ name: 'gone', parent: bed.parent, hierarchy: v2Only });
    expect(reopened.dirs).toStrictEqual(cgroup.dirs);
    await reopened.destroy();
    expect((await sleeper.exited).signal).toBe('SIGKILL');
    expect(await exists(dirOf('gone'))).toBe(false);
    await cgroup.destroy();
    await cgroup.kill();
  });

  it.runIf(servingHierarchy(v2Only, 'memory') === undefined)(
    'refuses a limit whose controller the tree does not offer, before creating anything',
    async () => {
      const error = await createContainerCgroup({
        name: 'mem',
        parent: bed.parent,
        limits: { memory: 64 << 20 },
        hierarchy: v2Only,
      }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TsdockError);
      expect((error as TsdockError).code).toBe('HOST_UNSUPPORTED');
      expect(await exists(join(tree.mountPoint, tree.ownPath, bed.parent))).toBe(false);
    },
  );

  it.runIf(Object.keys(hierarchy.v1).length > 0)(
    'on a hybrid host the container joins both, and freezing goes through cgroup.freeze',
    async () => {
      const cgroup = await createContainerCgroup({ name: 'hyb', parent: bed.parent, limits: {}, hierarchy });
      expect(cgroup.procsFiles).toContain(join(dirOf('hyb'), 'cgroup.procs'));
      const sleeper = hold('exec /bin/busybox sleep 30');
      await placeIn(cgroup.procsFiles, sleeper.pid);
      sleeper.release();
      await cgroup.freeze();
      expect(await events('hyb')).toMatch(/^frozen 1$/m);
      const freezer = hierarchy.v1.freezer;
      if (freezer !== undefined) {
        const state = join(freezer.mountPoint, freezer.ownPath, bed.parent, 'hyb', 'freezer.state');
        expect((await readFile(state, 'utf8')).trim()).toBe('THAWED');
      }
      await cgroup.destroy();
      expect((await sleeper.exited).signal).toBe('SIGKILL');
      for (const dir of cgroup.dirs) expect(await exists(dir), dir).toBe(false);
    },
  );
});
