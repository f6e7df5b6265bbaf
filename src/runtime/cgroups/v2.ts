/**
 * The cgroup v2 driver: one directory in the unified tree. Limits go to the controllers the
 * tree offers (none on a hybrid host); freeze, kill and the events file are core features of
 * every v2 cgroup, so a hybrid host still uses this driver for them. See the kernel's
 * Documentation/admin-guide/cgroup-v2.rst.
 */
import { join } from 'node:path';
import { TsdockError } from '../../errors.js';
import type { OomSource } from '../plan.js';
import {
  exists,
  isGone,
  killAll,
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
} from './cgroupfs.js';
import { v2ControllerName, type Controller } from './detect.js';
import { requiredControllers, type AppliedLimits, type CgroupDriver, type CgroupStats } from './driver.js';
import { compileDeviceProgram, encodeEbpf } from './device-program.js';
import { DEFAULT_DEVICE_RULES } from './devices.js';
import type { CreateHooks } from './layout.js';
import { cpuSharesToWeight, memorySwapTotal, type CgroupLimits } from './limits.js';
import { parseIoStat } from './io-stats.js';

/** Attaches a cgroup device program (`struct bpf_insn[]`) to a v2 cgroup directory. */
export type AttachDeviceProgram = (dir: string, program: Buffer) => void;

/** How long freeze, thaw and kill may take before we report the kernel as stuck. */
const SETTLE_MS = 5000;

/** The v2 names of the controllers among `controllers` that v2 implements as controllers. */
function v2Names(controllers: Iterable<Controller>): string[] {
  return [...new Set([...controllers].map(v2ControllerName))].filter((n): n is string => n !== null);
}

/**
 * Enables the controllers this driver serves in every `cgroup.subtree_control` on the way down,
 * so that the container's directory gets their files (cgroup-v2.rst "Enabling and Disabling":
 * a controller is available in a cgroup only when its parent enables it).
 *
 * The "no internal process" rule (cgroup-v2.rst "No Internal Process Constraint") makes the
 * kernel refuse (EBUSY) to enable controllers in a non-root cgroup that has tasks of its own,
 * which is what a relative parent starts from. Controllers that only feed `stats` are then left
 * off; controllers that a requested limit needs are an error.
 */
export function v2CreateHooks(serves: ReadonlySet<Controller>, limits: CgroupLimits): CreateHooks {
  const wanted = v2Names(serves);
  const required = v2Names(requiredControllers(limits).filter((c) => serves.has(c)));
  return {
    async beforeChild(dir) {
      const available = readCgroupFile(join(dir, 'cgroup.controllers')).split(' ');
      const missing = required.filter((c) => !available.includes(c));
      if (missing.length > 0) {
        throw new TsdockError(
          'HOST_UNSUPPORTED',
          `the ${missing.join(', ')} controller is not available in ${dir} (its parent does not delegate it)`,
        );
      }
      const enabled = readCgroupFile(join(dir, 'cgroup.subtree_control')).split(' ');
      const toEnable = wanted.filter((c) => available.includes(c) && !enabled.includes(c));
      if (toEnable.length === 0) return;
      const file = join(dir, 'cgroup.subtree_control');
      const value = toEnable.map((c) => `+${c}`).join(' ');
      try {
        writeCgroupFile(file, value);
      } catch (err) {
        if (!toEnable.some((c) => required.includes(c))) return;
        if (!(err instanceof TsdockError)) throw err;
        throw new TsdockError(
          err.code,
          `${err.message} (a cgroup with tasks of its own cannot enable controllers for its children,` +
            ` cgroup-v2.rst "No Internal Process Constraint"; use an absolute cgroup parent)`,
          { cause: err.cause },
        );
      }
    },
  };
}

export class V2Cgroup implements CgroupDriver {
  readonly procsFiles: string[];
  readonly dirs: string[];
  readonly oom: OomSource | undefined;
  readonly canFreeze = true;

  /**
   * `serves`: the controllers this tree enforces for the container (see `servingHierarchy`).
   * `attachDevices` enforces the device list when `devices` is served here (the real one is
   * bpf(2) through the addon; a stand-in directory has none).
   */
  constructor(
    private readonly dir: string,
    private readonly serves: ReadonlySet<Controller>,
    private readonly attachDevices?: AttachDeviceProgram,
  ) {
    this.dirs = [dir];
    this.procsFiles = [join(dir, 'cgroup.procs')];
    this.oom = serves.has('memory') ? { driver: 'v2', path: join(dir, 'memory.events') } : undefined;
  }

  async applyLimits(limits: CgroupLimits): Promise<void> {
    const file = (name: string): string => join(this.dir, name);
    if (this.serves.has('memory')) {
      if (limits.memory !== undefined) writeCgroupFile(file('memory.max'), `${limits.memory}`);
      await this.applySwap(limits);
    }
    if (this.serves.has('cpu')) {
      if (limits.cpuQuota !== undefined) {
        writeCgroupFile(file('cpu.max'), `${limits.cpuQuota} ${limits.cpuPeriod ?? ''}`.trim());
      }
      if (limits.cpuShares !== undefined) {
        writeCgroupFile(file('cpu.weight'), `${cpuSharesToWeight(limits.cpuShares)}`);
      }
    }
    if (this.serves.has('cpuset') && limits.cpusetCpus !== undefined) {
      writeCgroupFile(file('cpuset.cpus'), limits.cpusetCpus);
    }
    if (this.serves.has('pids') && limits.pidsLimit !== undefined) {
      writeCgroupFile(file('pids.max'), `${limits.pidsLimit}`);
    }
    // Always, limits or not: v2 has no device list to inherit, only programs to add.
    if (this.serves.has('devices') && this.attachDevices !== undefined) {
      this.attachDevices(this.dir, encodeEbpf(compileDeviceProgram(limits.devices ?? DEFAULT_DEVICE_RULES)));
    }
  }

  /** v2 limits swap alone (`memory.swap.max`), where Docker's flag counts memory plus swap. */
  private async applySwap(limits: CgroupLimits): Promise<void> {
    const total = memorySwapTotal(limits);
    if (total === undefined) return;
    const file = join(this.dir, 'memory.swap.max');
    if (!exists(file)) {
      // Like Docker: the implicit default is dropped silently, an explicit request is refused.
      if (limits.memorySwap === undefined) return;
      throw new TsdockError(
        'HOST_UNSUPPORTED',
        `--memory-swap needs swap accounting, and this kernel has no ${file} (boot with swapaccount=1)`,
      );
    }
    // The parser guarantees a numeric total comes with a memory limit no larger than it.
    writeCgroupFile(file, total === 'max' ? 'max' : `${total - (limits.memory ?? 0)}`);
  }

  async readLimits(): Promise<AppliedLimits> {
    const file = (name: string): string => join(this.dir, name);
    const applied: AppliedLimits = {};
    if (this.serves.has('memory')) {
      const memory = readLimit(file('memory.max'));
      applied.memory = memory;
      const swap = readOptionalCgroupFile(file('memory.swap.max'));
      if (swap !== undefined) {
        const swapMax = toLimit(file('memory.swap.max'), swap);
        applied.memorySwap = swapMax === 'max' || memory === 'max' ? 'max' : memory + swapMax;
      }
    }
    if (this.serves.has('cpu')) {
      const [quota, period] = readCgroupFile(file('cpu.max')).split(' ');
      applied.cpuQuota = toLimit(file('cpu.max'), quota);
      applied.cpuPeriod = toNumber(file('cpu.max'), period);
      applied.cpuWeight = readNumber(file('cpu.weight'));
    }
    if (this.serves.has('cpuset')) applied.cpusetCpus = readCgroupFile(file('cpuset.cpus'));
    if (this.serves.has('pids')) applied.pidsLimit = readLimit(file('pids.max'));
    return applied;
  }

  async stats(): Promise<CgroupStats> {
    const file = (name: string): string => join(this.dir, name);
    const stats: CgroupStats = {};
    if (this.serves.has('memory')) {
      const peak = readOptionalCgroupFile(file('memory.peak'));
      const events = readFlatKeyed(file('memory.events'));
      stats.memory = {
        usage: readNumber(file('memory.current')),
        limit: readLimit(file('memory.max')),
        oomKills: toNumber(file('memory.events'), events.get('oom_kill')),
      };
      if (peak !== undefined) stats.memory.maxUsage = toNumber(file('memory.peak'), peak);
    }
    // usage_usec is in every cgroup's cpu.stat; the nr_* lines only with the cpu controller.
    const cpuStat = this.serves.has('cpuacct') || this.serves.has('cpu') ? readFlatKeyed(file('cpu.stat')) : undefined;
    if (cpuStat !== undefined && this.serves.has('cpuacct')) {
      stats.cpu = { usageUsec: toNumber(file('cpu.stat'), cpuStat.get('usage_usec')) };
    }
    if (cpuStat !== undefined && this.serves.has('cpu')) {
      stats.cpuThrottling = {
        periods: toNumber(file('cpu.stat'), cpuStat.get('nr_periods')),
        throttledPeriods: toNumber(file('cpu.stat'), cpuStat.get('nr_throttled')),
        throttledUsec: toNumber(file('cpu.stat'), cpuStat.get('throttled_usec')),
      };
    }
    if (this.serves.has('pids')) {
      stats.pids = { current: readNumber(file('pids.current')), limit: readLimit(file('pids.max')) };
    }
    if (this.serves.has('blkio')) stats.io = parseIoStat(readCgroupFile(file('io.stat')));
    return stats;
  }

  async freeze(): Promise<void> {
    await this.setFrozen(true);
  }

  async thaw(): Promise<void> {
    await this.setFrozen(false);
  }

  /** cgroup.freeze reports completion through the `frozen` key of cgroup.events (cgroup-v2.rst "Core Interface Files"). */
  private async setFrozen(frozen: boolean): Promise<void> {
    const value = frozen ? '1' : '0';
    writeCgroupFile(join(this.dir, 'cgroup.freeze'), value);
    const events = join(this.dir, 'cgroup.events');
    if (!(await waitFor(async () => readFlatKeyed(events).get('frozen') === value, SETTLE_MS))) {
      throw new TsdockError('START_FAILED', `${events} did not report frozen ${value} within ${SETTLE_MS} ms`);
    }
  }

  /**
   * cgroup.kill (Linux 5.14) SIGKILLs every task of the subtree atomically, frozen ones included;
   * on older kernels we signal the listed pids until none is left. Either way we wait for
   * cgroup.events to report `populated 0`.
   */
  async kill(): Promise<void> {
    const events = join(this.dir, 'cgroup.events');
    const procs = join(this.dir, 'cgroup.procs');
    const hasKill = exists(join(this.dir, 'cgroup.kill'));
    const emptied = await waitFor(async () => {
      try {
        if (readFlatKeyed(events).get('populated') === '0') return true;
        if (hasKill) writeCgroupFile(join(this.dir, 'cgroup.kill'), '1');
        else killAll(readProcs(procs));
        return false;
      } catch (err) {
        // The cgroup was removed under us (the monitor's rmdir after the last exit): nothing is left.
        if (isGone(err)) return true;
        throw err;
      }
    }, SETTLE_MS);
    if (!emptied) throw new TsdockError('START_FAILED', `tasks of ${this.dir} survived SIGKILL for ${SETTLE_MS} ms`);
  }
}
