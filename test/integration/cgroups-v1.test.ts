/**
 * The v1 driver against the real kernel's v1 hierarchies, under this test process's own cgroups.
 * Runs wherever v1 memory, cpu, cpuacct, cpuset, pids and freezer hierarchies are mounted (v1 and
 * hybrid hosts); a pure v2 host has none of them to test.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TsdockError } from '../../src/errors.js';
import {
  CONTROLLERS,
  detectHierarchy,
  type CgroupHierarchy,
  type Controller,
} from '../../src/runtime/cgroups/detect.js';
import { createContainerCgroup, type ContainerCgroup } from '../../src/runtime/cgroups/index.js';
import { parseCgroupLimits, readHostCpus } from '../../src/runtime/cgroups/limits.js';
import { cgroupTestBed, exists, placeIn, procsOf, sleep, taskStat, type Held } from './cgroups-helpers.js';

const hierarchy = detectHierarchy();
const needed: Controller[] = ['memory', 'cpu', 'cpuacct', 'cpuset', 'pids', 'freezer'];
const hasV1 = needed.every((c) => hierarchy.v1[c] !== undefined);
/** The same host without its cgroup2 tree: a pure v1 host, where freeze and kill are v1's. */
const v1Only: CgroupHierarchy = { v1: hierarchy.v1, v2: undefined };

const MiB = 1024 * 1024;

describe.runIf(hasV1)('the v1 driver on this host', () => {
  const bed = cgroupTestBed('v1', hierarchy);
  const hold = (script: string): Held => bed.hold(script);

  /** The container's dir in a controller's hierarchy. */
  function dirOf(controller: Controller, name: string): string {
    const mount = hierarchy.v1[controller];
    if (mount === undefined) throw new Error(`no ${controller} hierarchy`);
    return join(mount.mountPoint, mount.ownPath, bed.parent, name);
  }

  async function raw(controller: Controller, name: string, file: string): Promise<string> {
    return (await readFile(join(dirOf(controller, name), file), 'utf8')).trim();
  }

  it('writes memory, cpus, pids and cpuset limits into the real files', async () => {
    const limits = parseCgroupLimits({ memory: '32m', cpus: '0.5', pidsLimit: '20', cpusetCpus: '0' }, readHostCpus());
    const cgroup = await createContainerCgroup({ name: 'limits', parent: bed.parent, limits, hierarchy });
    expect(await raw('memory', 'limits', 'memory.limit_in_bytes')).toBe(`${32 * MiB}`);
    expect(await raw('cpu', 'limits', 'cpu.cfs_quota_us')).toBe('50000');
    expect(await raw('cpu', 'limits', 'cpu.cfs_period_us')).toBe('100000');
    expect(await raw('pids', 'limits', 'pids.max')).toBe('20');
    expect(await raw('cpuset', 'limits', 'cpuset.cpus')).toBe('0');
    // cpusets.rst: mems must be set before a task may join; copied down from the parent.
    const mems = (await readFile(join(dirOf('cpuset', 'limits'), '..', 'cpuset.mems'), 'utf8')).trim();
    expect(mems).not.toBe('');
    expect(await raw('cpuset', 'limits', 'cpuset.mems')).toBe(mems);
    const swap = await readFile(join(dirOf('memory', 'limits'), 'memory.memsw.limit_in_bytes'), 'utf8').catch(() => '');
    expect(await cgroup.limits()).toMatchObject({
      memory: 32 * MiB,
      cpuQuota: 50_000,
      cpuPeriod: 100_000,
      cpusetCpus: '0',
      pidsLimit: 20,
      // Docker's default: swap as large as the memory limit, when the kernel accounts swap.
      ...(swap === '' ? {} : { memorySwap: 64 * MiB }),
    });
    await cgroup.destroy();
  });

  it('places a process, reports it, kills it and removes every directory', async () => {
    const name = 'life';
    const limits = parseCgroupLimits({ memory: '32m', pidsLimit: '20', cpusetCpus: '0' }, readHostCpus());
    const cgroup = await createContainerCgroup({ name, parent: bed.parent, limits, hierarchy });
    const sleeper = hold('exec /bin/busybox sleep 30');
    await placeIn(cgroup.procsFiles, sleeper.pid);
    sleeper.release();
    // exec after placement: the new image's pages are charged to the container's memcg.
    await sleep(100);

    const lines = (await readFile(`/proc/${sleeper.pid}/cgroup`, 'utf8')).split('\n');
    for (const controller of CONTROLLERS) {
      const mount = hierarchy.v1[controller];
      if (mount === undefined) continue;
      const path = join(mount.ownPath, bed.parent, name);
      expect(lines.some((l) => l.split(':')[1]?.split(',').includes(controller) && l.endsWith(`:${path}`))).toBe(true);
    }
    if (hierarchy.v2 !== undefined) expect(lines).toContain(`0::${join(hierarchy.v2.ownPath, bed.parent, name)}`);
    for (const file of cgroup.procsFiles) expect(await procsOf(file)).toStrictEqual([sleeper.pid]);

    const stats = await cgroup.stats();
    expect(stats.memory?.usage).toBeGreaterThan(0);
    expect(stats.memory?.limit).toBe(32 * MiB);
    expect(stats.memory?.oomKills).toBe(0);
    expect(stats.pids).toStrictEqual({ current: 1, limit: 20 });
    expect(stats.cpu?.usageUsec).toBeGreaterThan(0);
    expect(cgroup.oom).toStrictEqual({ driver: 'v1', path: join(dirOf('memory', name), 'memory.oom_control') });

    await cgroup.kill();
    expect((await sleeper.exited).signal).toBe('SIGKILL');
    await cgroup.destroy();
    expect(cgroup.dirs.length).toBe(new Set(Object.values(hierarchy.v1)).size + (hierarchy.v2 ? 1 : 0));
    for (const dir of cgroup.dirs) expect(await exists(dir), dir).toBe(false);
    await cgroup.destroy(); // idempotent
  });

  it('pids.max 10 stops a fork bomb at 10 tasks', async () => {
    const cgroup = await createContainerCgroup({
      name: 'bomb',
      parent: bed.parent,
      limits: { pidsLimit: 10 },
      hierarchy,
    });
    const bomb = hold('for i in $(seq 50); do sleep 5 & done; wait');
    await placeIn(cgroup.procsFiles, bomb.pid);
    bomb.release();
    let peak = 0;
    for (let i = 0; i < 40; i++) {
      peak = Math.max(peak, (await procsOf(join(dirOf('pids', 'bomb'), 'cgroup.procs'))).length);
      await sleep(20);
    }
    expect(peak).toBeGreaterThanOrEqual(9);
    expect(peak).toBeLessThanOrEqual(10);
    // pids.rst: `max` in pids.events counts the forks refused by the limit.
    const refused = (await raw('pids', 'bomb', 'pids.events')).match(/^max (\d+)$/m)?.[1];
    expect(Number(refused)).toBeGreaterThan(0);
    expect(bomb.stderr()).toMatch(/fork/);
    await cgroup.destroy();
    expect(await exists(dirOf('pids', 'bomb'))).toBe(false);
  });

  it('cpus 0.1 throttles a busy loop', async () => {
    const limits = parseCgroupLimits({ cpus: '0.1' }, readHostCpus());
    const cgroup = await createContainerCgroup({ name: 'busy', parent: bed.parent, limits, hierarchy });
    const busy = hold('while :; do :; done');
    await placeIn(cgroup.procsFiles, busy.pid);
    const started = performance.now();
    busy.release();
    // On a loaded machine the loop may get less than its quota at first: wait for a throttled
    // period, up to 20 s.
    let stats = await cgroup.stats();
    while ((stats.cpuThrottling?.throttledPeriods ?? 0) === 0 && performance.now() - started < 20_000) {
      await sleep(100);
      stats = await cgroup.stats();
    }
    const elapsedUsec = (performance.now() - started) * 1000;
    expect(stats.cpuThrottling?.throttledPeriods).toBeGreaterThan(0);
    expect(stats.cpuThrottling?.throttledUsec).toBeGreaterThan(0);
    // 10 ms per 100 ms period (plus one period's worth of slack), far below the wall time.
    expect(stats.cpu?.usageUsec).toBeLessThan(elapsedUsec / 10 + 20_000);
    expect(stats.cpu?.usageUsec).toBeGreaterThan(0);
    await cgroup.destroy();
    expect((await busy.exited).signal).toBe('SIGKILL');
  });

  describe('without a cgroup2 tree (a pure v1 host)', () => {
    it('joins only v1 hierarchies and freezes with the v1 freezer', async () => {
      const cgroup = await createContainerCgroup({ name: 'frz', parent: bed.parent, limits: {}, hierarchy: v1Only });
      expect(cgroup.procsFiles.some((f) => hierarchy.v2 !== undefined && f.startsWith(hierarchy.v2.mountPoint))).toBe(
        false,
      );
      const busy = hold('while :; do :; done');
      await placeIn(cgroup.procsFiles, busy.pid);
      busy.release();
      await sleep(50);

      await cgroup.freeze();
      expect(await raw('freezer', 'frz', 'freezer.state')).toBe('FROZEN');
      const frozen = await taskStat(busy.pid);
      expect(frozen.state).toBe('D'); // v1 freezer: TASK_FROZEN, shown as D
      await sleep(200);
      expect((await taskStat(busy.pid)).ticks).toBe(frozen.ticks);

      await cgroup.thaw();
      expect(await raw('freezer', 'frz', 'freezer.state')).toBe('THAWED');
      await sleep(200);
      expect((await taskStat(busy.pid)).ticks).toBeGreaterThan(frozen.ticks);
      await cgroup.destroy();
    });

    it('kills every task, children included, by signalling each pid', async () => {
      const cgroup = await createContainerCgroup({ name: 'kill', parent: bed.parent, limits: {}, hierarchy: v1Only });
      const tree = hold('/bin/busybox sleep 30 & /bin/busybox sleep 30 & wait');
      await placeIn(cgroup.procsFiles, tree.pid);
      tree.release();
      const procs = join(dirOf('pids', 'kill'), 'cgroup.procs');
      for (let i = 0; i < 50 && (await procsOf(procs)).length < 3; i++) await sleep(10);
      expect((await procsOf(procs)).length).toBe(3);

      await cgroup.freeze();
      await cgroup.kill(); // a frozen container too: killing thaws it
      expect(await procsOf(procs)).toStrictEqual([]);
      expect((await tree.exited).signal).toBe('SIGKILL');
      await cgroup.destroy();
      for (const dir of cgroup.dirs) expect(await exists(dir), dir).toBe(false);
    });
  });

  it('a value the kernel refuses names the file and value, and leaves no directory behind', async () => {
    // Past the parser on purpose: only the kernel knows this host has no CPU 63.
    const error = await createContainerCgroup({
      name: 'bad',
      parent: bed.parent,
      limits: { cpusetCpus: '63' },
      hierarchy,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TsdockError);
    expect((error as TsdockError).message).toMatch(/^cannot write "63" to \S+\/cpuset\.cpus: [a-z ]+$/);
    for (const controller of needed) expect(await exists(dirOf(controller, 'bad')), controller).toBe(false);
  });

  it('refuses a second container with the same name and keeps the first', async () => {
    const first: ContainerCgroup = await createContainerCgroup({
      name: 'twice',
      parent: bed.parent,
      limits: {},
      hierarchy,
    });
    const error = await createContainerCgroup({ name: 'twice', parent: bed.parent, limits: {}, hierarchy }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(TsdockError);
    expect((error as TsdockError).message).toMatch(/^cgroup \S+\/twice already exists/);
    for (const dir of first.dirs) expect(await exists(dir), dir).toBe(true);
    await first.destroy();
  });
});
