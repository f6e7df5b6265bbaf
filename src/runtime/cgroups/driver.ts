/**
 * The one interface both cgroup drivers implement (v1: a directory per hierarchy; v2: one
 * directory in the unified tree), and the values they report in common terms so that callers, and
 * the shared test suite, never see which one served them.
 */
import type { OomSource } from '../plan.js';
import type { Controller } from './detect.js';
import type { CgroupLimits } from './limits.js';
import type { IoBytes } from './io-stats.js';

/**
 * The limits in effect, read back from the kernel, in driver-neutral units. A field is absent
 * when no hierarchy of this container serves its controller (or, for `memorySwap`, when the
 * kernel does no swap accounting).
 */
export interface AppliedLimits {
  /** Bytes, or `'max'` for no limit. */
  memory?: number | 'max';
  /** Memory plus swap in bytes, as Docker counts it, or `'max'`. */
  memorySwap?: number | 'max';
  /** Microseconds per `cpuPeriod`, or `'max'` for no quota. */
  cpuQuota?: number | 'max';
  cpuPeriod?: number;
  /** The v2 weight (1..10000); v1 `cpu.shares` converted with `cpuSharesToWeight`. */
  cpuWeight?: number;
  /** The cgroup's own CPU list; `''` in v2 means "inherit the parent's". */
  cpusetCpus?: string;
  pidsLimit?: number | 'max';
}

/** A snapshot of a container's resource use, for `stats` and `inspect`. */
export interface CgroupStats {
  memory?: {
    /** Bytes charged now (page cache included, as the kernel counts it). */
    usage: number;
    /** The highest usage so far; absent on v2 kernels before 5.19 (no `memory.peak`). */
    maxUsage?: number;
    limit: number | 'max';
    /** Times the OOM killer killed a task of this cgroup. */
    oomKills: number;
  };
  cpu?: {
    /** CPU time used by all tasks, in microseconds. */
    usageUsec: number;
  };
  /** CFS bandwidth throttling (`--cpus`). */
  cpuThrottling?: {
    periods: number;
    throttledPeriods: number;
    throttledUsec: number;
  };
  pids?: {
    current: number;
    limit: number | 'max';
  };
  /** Bytes read from and written to block devices (v1 blkio, v2 io). */
  io?: IoBytes;
}

/** One container's cgroup in one kind of hierarchy. */
export interface CgroupDriver {
  /** `cgroup.procs` files a task must be written to, to join this driver's cgroups. */
  readonly procsFiles: string[];
  /** The container's own directories (no parents). */
  readonly dirs: string[];
  /** Where the OOM-kill counter is, when this driver serves the memory controller. */
  readonly oom: OomSource | undefined;
  /** Whether {@link freeze} can work: always on v2, only with a freezer hierarchy on v1. */
  readonly canFreeze: boolean;
  /** Writes the limits whose controllers this driver serves; the others are not its business. */
  applyLimits(limits: CgroupLimits): Promise<void>;
  readLimits(): Promise<AppliedLimits>;
  stats(): Promise<CgroupStats>;
  /** Resolves once every task is frozen. */
  freeze(): Promise<void>;
  thaw(): Promise<void>;
  /** SIGKILLs every task and resolves once none is left; a missing cgroup has none. */
  kill(): Promise<void>;
}

/** The controllers a set of limits needs. */
export function requiredControllers(limits: CgroupLimits): Controller[] {
  const needed = new Set<Controller>();
  if (limits.memory !== undefined || limits.memorySwap !== undefined) needed.add('memory');
  if (limits.cpuQuota !== undefined || limits.cpuPeriod !== undefined || limits.cpuShares !== undefined) {
    needed.add('cpu');
  }
  if (limits.cpusetCpus !== undefined) needed.add('cpuset');
  if (limits.pidsLimit !== undefined) needed.add('pids');
  return [...needed];
}
