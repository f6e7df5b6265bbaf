/**
 * The cgroup v1 driver: one directory per mounted hierarchy (comounted controllers such as
 * `cpu,cpuacct` share one), limits in the v1 files. See the kernel's
 * Documentation/admin-guide/cgroup-v1/ (memory.rst, cpusets.rst, freezer-subsystem.rst, pids.rst)
 * and scheduler/sched-bwc.rst for CFS bandwidth.
 */
import { join } from 'node:path';
import { TsdockError } from '../../errors.js';
import type { OomSource } from '../plan.js';
import {
  exists,
  isEnoent,
  killAll,
  nsToUsec,
  readCgroupFile,
  readFlatKeyed,
  readLimit,
  readNumber,
  readOptionalCgroupFile,
  readProcs,
  toLimit,
  toNumber,
  waitFor,
  writeCgroupFile,
  writeCgroupValues,
} from './cgroupfs.js';
import type { Controller } from './detect.js';
import type { AppliedLimits, CgroupDriver, CgroupStats } from './driver.js';
import type { CreateHooks } from './layout.js';
import { DEFAULT_DEVICE_RULES, v1DeviceLine } from './devices.js';
import { cpuSharesToWeight, memorySwapTotal, type CgroupLimits } from './limits.js';
import { parseBlkioServiceBytes } from './io-stats.js';

/** The container's directory in each controller's hierarchy (comounted ones share a path). */
export type V1Dirs = Partial<Record<Controller, string>>;

/** How long freeze, thaw and kill may take before we report the kernel as stuck. */
const SETTLE_MS = 5000;

/**
 * A new v1 cpuset starts with empty `cpuset.cpus` and `cpuset.mems`, and the kernel refuses to
 * attach a task to it (ENOSPC) until both are set (cgroup-v1/cpusets.rst, 2.x "Adding/removing
 * cpus"). `cgroup.clone_children` would copy them, but it must be set on the grandparent, which
 * may not be ours; so every level we make or pass through gets its parent's values when empty.
 */
export const cpusetHooks: CreateHooks = {
  async created(dir, parent) {
    for (const file of ['cpuset.cpus', 'cpuset.mems']) {
      if (readCgroupFile(join(dir, file)) === '') {
        writeCgroupFile(join(dir, file), readCgroupFile(join(parent, file)));
      }
    }
  },
};

export class V1Cgroup implements CgroupDriver {
  readonly procsFiles: string[];
  readonly dirs: string[];
  readonly oom: OomSource | undefined;
  readonly canFreeze: boolean;

  constructor(private readonly paths: V1Dirs) {
    this.dirs = [...new Set(Object.values(paths))];
    this.procsFiles = this.dirs.map((dir) => join(dir, 'cgroup.procs'));
    // memory.oom_control carries an `oom_kill N` counter since Linux 4.13.
    this.oom =
      paths.memory === undefined ? undefined : { driver: 'v1', path: join(paths.memory, 'memory.oom_control') };
    this.canFreeze = paths.freezer !== undefined;
  }

  async applyLimits(limits: CgroupLimits): Promise<void> {
    const { memory, cpu, cpuset, pids, devices } = this.paths;
    if (devices !== undefined) applyDevices(devices, limits);
    if (memory !== undefined) await applyMemory(memory, limits);
    if (cpu !== undefined) {
      // The period first: the quota is checked against it.
      if (limits.cpuPeriod !== undefined) writeCgroupFile(join(cpu, 'cpu.cfs_period_us'), `${limits.cpuPeriod}`);
      if (limits.cpuQuota !== undefined) writeCgroupFile(join(cpu, 'cpu.cfs_quota_us'), `${limits.cpuQuota}`);
      if (limits.cpuShares !== undefined) writeCgroupFile(join(cpu, 'cpu.shares'), `${limits.cpuShares}`);
    }
    if (cpuset !== undefined && limits.cpusetCpus !== undefined) {
      writeCgroupFile(join(cpuset, 'cpuset.cpus'), limits.cpusetCpus);
    }
    if (pids !== undefined && limits.pidsLimit !== undefined) {
      writeCgroupFile(join(pids, 'pids.max'), `${limits.pidsLimit}`);
    }
  }

  async readLimits(): Promise<AppliedLimits> {
    const { memory, cpu, cpuset, pids } = this.paths;
    const applied: AppliedLimits = {};
    if (memory !== undefined) {
      applied.memory = readLimit(join(memory, 'memory.limit_in_bytes'));
      const swapFile = join(memory, 'memory.memsw.limit_in_bytes');
      const swap = readOptionalCgroupFile(swapFile);
      if (swap !== undefined) applied.memorySwap = toLimit(swapFile, swap);
    }
    if (cpu !== undefined) {
      applied.cpuQuota = readLimit(join(cpu, 'cpu.cfs_quota_us'));
      applied.cpuPeriod = readNumber(join(cpu, 'cpu.cfs_period_us'));
      applied.cpuWeight = cpuSharesToWeight(readNumber(join(cpu, 'cpu.shares')));
    }
    if (cpuset !== undefined) applied.cpusetCpus = readCgroupFile(join(cpuset, 'cpuset.cpus'));
    if (pids !== undefined) applied.pidsLimit = readLimit(join(pids, 'pids.max'));
    return applied;
  }

  async stats(): Promise<CgroupStats> {
    const { memory, cpu, cpuacct, pids, blkio } = this.paths;
    const stats: CgroupStats = {};
    if (memory !== undefined) {
      const oomFile = join(memory, 'memory.oom_control');
      stats.memory = {
        usage: readNumber(join(memory, 'memory.usage_in_bytes')),
        maxUsage: readNumber(join(memory, 'memory.max_usage_in_bytes')),
        limit: readLimit(join(memory, 'memory.limit_in_bytes')),
        oomKills: toNumber(oomFile, readFlatKeyed(oomFile).get('oom_kill')),
      };
    }
    if (cpuacct !== undefined) {
      const file = join(cpuacct, 'cpuacct.usage');
      stats.cpu = { usageUsec: nsToUsec(file, readCgroupFile(file)) };
    }
    if (cpu !== undefined) {
      const file = join(cpu, 'cpu.stat');
      const stat = readFlatKeyed(file);
      stats.cpuThrottling = {
        periods: toNumber(file, stat.get('nr_periods')),
        throttledPeriods: toNumber(file, stat.get('nr_throttled')),
        throttledUsec: nsToUsec(file, stat.get('throttled_time')),
      };
    }
    if (pids !== undefined) {
      stats.pids = {
        current: readNumber(join(pids, 'pids.current')),
        limit: readLimit(join(pids, 'pids.max')),
      };
    }
    if (blkio !== undefined) {
      stats.io = parseBlkioServiceBytes(readCgroupFile(join(blkio, 'blkio.throttle.io_service_bytes')));
    }
    return stats;
  }

  async freeze(): Promise<void> {
    await this.setFreezerState('FROZEN');
  }

  async thaw(): Promise<void> {
    await this.setFreezerState('THAWED');
  }

  /**
   * Without a freezer, a task may fork between our read of `cgroup.procs` and its SIGKILL, so we
   * loop until the list is empty. With one, the tasks are frozen while we signal them so that
   * none can fork; SIGKILL takes effect on thaw (freezer-subsystem.rst).
   */
  async kill(): Promise<void> {
    const procs = this.procsFiles[0];
    if (procs === undefined) return;
    const emptied = await waitFor(async () => {
      try {
        if (readProcs(procs).length === 0) return true;
        if (this.canFreeze) await this.freeze();
        killAll(readProcs(procs));
        if (this.canFreeze) await this.thaw();
        return false;
      } catch (err) {
        // The cgroup was removed under us (the monitor's rmdir after the last exit): nothing is left.
        if (isEnoent(err)) return true;
        throw err;
      }
    }, SETTLE_MS);
    if (!emptied) throw new TsdockError('START_FAILED', `tasks of ${procs} survived SIGKILL for ${SETTLE_MS} ms`);
  }

  /**
   * Writes the freezer state and waits until the kernel reports it. FREEZING means some task has
   * not stopped yet; writing FROZEN again retries them (freezer-subsystem.rst).
   */
  private async setFreezerState(state: 'FROZEN' | 'THAWED'): Promise<void> {
    const freezer = this.paths.freezer;
    if (freezer === undefined) {
      throw new TsdockError('HOST_UNSUPPORTED', 'cannot freeze: no freezer cgroup hierarchy is mounted');
    }
    const file = join(freezer, 'freezer.state');
    const settled = await waitFor(async () => {
      writeCgroupFile(file, state);
      return readCgroupFile(file) === state;
    }, SETTLE_MS);
    if (!settled) throw new TsdockError('START_FAILED', `${file} did not reach ${state} within ${SETTLE_MS} ms`);
  }
}

/**
 * Always written, limits or not: a new v1 devices cgroup inherits its parent's list, which is
 * usually "a *:* rwm". Deny everything first, then allow the list (cgroup-v1/devices.rst).
 */
/** The rules in order; a run of allows (or denies) goes through one open of its file. */
function applyDevices(dir: string, limits: CgroupLimits): void {
  const rules = limits.devices ?? DEFAULT_DEVICE_RULES;
  for (let start = 0; start < rules.length;) {
    const allow = rules[start]?.allow;
    let end = start;
    while (end < rules.length && rules[end]?.allow === allow) end++;
    const file = join(dir, allow === true ? 'devices.allow' : 'devices.deny');
    writeCgroupValues(file, rules.slice(start, end).map(v1DeviceLine));
    start = end;
  }
}

async function applyMemory(dir: string, limits: CgroupLimits): Promise<void> {
  if (limits.memory !== undefined) writeCgroupFile(join(dir, 'memory.limit_in_bytes'), `${limits.memory}`);
  const total = memorySwapTotal(limits);
  if (total === undefined) return;
  const file = join(dir, 'memory.memsw.limit_in_bytes');
  if (!exists(file)) {
    // Like Docker: the implicit default is dropped silently, an explicit request is refused.
    if (limits.memorySwap === undefined) return;
    throw new TsdockError(
      'HOST_UNSUPPORTED',
      `--memory-swap needs swap accounting, and this kernel has no ${file} (boot with swapaccount=1)`,
    );
  }
  // A fresh cgroup's memsw limit is unlimited, so memory.limit_in_bytes (written first) never
  // exceeds it; the kernel requires memsw >= memory at every step (memory.rst 2.5).
  writeCgroupFile(file, total === 'max' ? '-1' : `${total}`);
}
