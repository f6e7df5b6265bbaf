/**
 * Docker's resource flags (`--memory`, `--memory-swap`, `--cpus`, `--cpu-shares`,
 * `--cpuset-cpus`, `--pids-limit`) parsed into {@link CgroupLimits}: plain numbers that either
 * cgroup driver writes. Pure, apart from {@link readHostCpus}; every bad value is a
 * `TsdockError('INVALID_ARGUMENT')` whose one-line message names the flag, the value and the
 * expected form.
 */
import { readFileSync } from 'node:fs';
import { TsdockError } from '../../errors.js';
import type { DeviceRule } from './devices.js';

/**
 * What a container's cgroup enforces. An absent field leaves the kernel's default (no limit).
 * Byte counts are numbers: 2^53 bytes (8 PiB) is beyond any real limit, and larger values are
 * refused when parsing.
 *
 * @example
 * ```ts
 * parseCgroupLimits({ memory: '32m', cpus: '0.5' });
 * // { memory: 33554432, cpuQuota: 50000, cpuPeriod: 100000 }
 * ```
 */
export interface CgroupLimits {
  /** `--memory`: the hard limit in bytes. */
  memory?: number;
  /**
   * `--memory-swap`: memory plus swap in bytes, as Docker counts it, or `'max'` for unlimited
   * swap. When absent and `memory` is set, Docker's default applies: see {@link memorySwapTotal}.
   */
  memorySwap?: number | 'max';
  /** `--cpus`: CFS bandwidth, microseconds of CPU time per `cpuPeriod`. */
  cpuQuota?: number;
  /** The CFS period in microseconds; set together with `cpuQuota`. */
  cpuPeriod?: number;
  /** `--cpu-shares`: the cgroup v1 relative weight, 2..262144 (v2 converts it, see {@link cpuSharesToWeight}). */
  cpuShares?: number;
  /** `--cpuset-cpus`: a canonical CPU list as the kernel prints it, e.g. `0-1,3`. */
  cpusetCpus?: string;
  /** `--pids-limit`: the most tasks the cgroup may hold, or `'max'` for none. */
  pidsLimit?: number | 'max';
  /** The device allow-list, in order; absent: Docker's defaults (`DEFAULT_DEVICE_RULES`). */
  devices?: DeviceRule[];
}

/** The flags as typed on the command line; each absent flag leaves its limit unset. */
export interface LimitFlags {
  memory?: string;
  memorySwap?: string;
  cpus?: string;
  cpuShares?: string;
  cpusetCpus?: string;
  pidsLimit?: string;
}

/** The host's online CPUs, which `--cpus` and `--cpuset-cpus` are checked against. */
export interface HostCpus {
  online: ReadonlySet<number>;
}

/** Docker refuses smaller memory limits: a container below this cannot even start reliably. */
const MIN_MEMORY = 6 * 1024 * 1024;
/** The CFS period Docker uses for `--cpus`. */
const CPU_PERIOD_US = 100_000;
/** The kernel refuses a CFS quota below 1 ms (`cpu.cfs_quota_us`, kernel/sched/core.c). */
const MIN_CPU_QUOTA_US = 1000;
/** The range the kernel accepts for v1 `cpu.shares` (sched/sched.h MIN_SHARES/MAX_SHARES). */
const MIN_CPU_SHARES = 2;
const MAX_CPU_SHARES = 262_144;

function invalid(flag: string, value: string, expected: string): TsdockError {
  return new TsdockError('INVALID_ARGUMENT', `invalid ${flag} "${value}": ${expected}`);
}

const UNIT: Record<string, number> = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

/** Parses Docker's byte sizes: `1024`, `1024b`, `512k`, `32m`, `1.5g`, also `32mb` / `32MiB`. */
export function parseBytes(flag: string, value: string): number {
  const expected = 'expected a number with an optional unit b, k, m or g (e.g. 64m)';
  const match = /^(\d+(?:\.\d+)?)(?:([kmg])(?:i?b)?|b)?$/i.exec(value);
  if (match === null) throw invalid(flag, value, expected);
  const [, number = '', unit = ''] = match;
  const bytes = Math.floor(Number(number) * (UNIT[unit.toLowerCase()] ?? 1));
  if (!Number.isSafeInteger(bytes)) throw invalid(flag, value, `${expected}, below 8 PiB`);
  return bytes;
}

/** Parses an integer with an optional minus sign, refusing anything else (`1e3`, `0x10`, `1.0`). */
function parseInteger(flag: string, value: string, expected: string): number {
  if (!/^-?\d+$/.test(value)) throw invalid(flag, value, expected);
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw invalid(flag, value, expected);
  return n;
}

/** Parses a CPU list (`0-1,3`) into its members; the caller checks them against the host. */
export function parseCpuList(flag: string, value: string): Set<number> {
  const expected = 'expected a CPU list such as 0-1,3';
  if (!/^\d+(-\d+)?(,\d+(-\d+)?)*$/.test(value)) throw invalid(flag, value, expected);
  const cpus = new Set<number>();
  for (const item of value.split(',')) {
    const [first = '', last = first] = item.split('-');
    const from = Number(first);
    const to = Number(last);
    // A bound check before the loop: `0-999999999` must fail fast, not fill a set.
    if (to < from || to > 65_535) throw invalid(flag, value, expected);
    for (let cpu = from; cpu <= to; cpu++) cpus.add(cpu);
  }
  return cpus;
}

/** Formats CPUs as the kernel prints a cpulist: sorted, runs of two or more as `a-b`. */
export function formatCpuList(cpus: Iterable<number>): string {
  const runs: [number, number][] = [];
  for (const cpu of [...new Set(cpus)].sort((a, b) => a - b)) {
    const last = runs.at(-1);
    if (last !== undefined && cpu === last[1] + 1) last[1] = cpu;
    else runs.push([cpu, cpu]);
  }
  return runs.map(([from, to]) => (from === to ? `${from}` : `${from}-${to}`)).join(',');
}

/** Reads the host's online CPUs from sysfs (Documentation/ABI/testing/sysfs-devices-system-cpu). */
export function readHostCpus(): HostCpus {
  const online = readFileSync('/sys/devices/system/cpu/online', 'utf8').trim();
  return { online: parseCpuList('/sys/devices/system/cpu/online', online) };
}

function parseMemory(value: string): number | undefined {
  const bytes = parseBytes('--memory', value);
  // Docker: 0 means "no limit", the flag's default.
  if (bytes === 0) return undefined;
  if (bytes < MIN_MEMORY) throw invalid('--memory', value, `expected at least 6m (${MIN_MEMORY} bytes)`);
  return bytes;
}

function parseMemorySwap(value: string, memory: number | undefined): number | 'max' | undefined {
  const flag = '--memory-swap';
  if (value === '-1') return 'max';
  const bytes = parseBytes(flag, value);
  // Docker: 0 is the flag's default, "not set".
  if (bytes === 0) return undefined;
  if (memory === undefined) throw invalid(flag, value, 'expected --memory to be set as well');
  if (bytes < memory) {
    throw invalid(flag, value, `expected a size no smaller than --memory (${memory} bytes), or -1 for unlimited swap`);
  }
  return bytes;
}

/** `--cpus N` -> quota per 100 ms period, computed from the decimal digits (no float rounding). */
function parseCpus(value: string, host: HostCpus): { cpuQuota: number; cpuPeriod: number } {
  const count = host.online.size;
  const expected = `expected a number of CPUs from 0.01 to ${count} (e.g. 0.5)`;
  const match = /^(\d*)(?:\.(\d+))?$/.exec(value);
  if (match === null || value === '') throw invalid('--cpus', value, expected);
  const [, whole = '', fraction = ''] = match;
  // Docker's rule: quota = cpus * period, truncated to whole microseconds.
  const quota = Number(whole || '0') * CPU_PERIOD_US + Number(fraction.slice(0, 5).padEnd(5, '0'));
  if (quota < MIN_CPU_QUOTA_US || quota > count * CPU_PERIOD_US) throw invalid('--cpus', value, expected);
  return { cpuQuota: quota, cpuPeriod: CPU_PERIOD_US };
}

function parseCpuShares(value: string): number | undefined {
  const expected = `expected an integer from ${MIN_CPU_SHARES} to ${MAX_CPU_SHARES}`;
  const shares = parseInteger('--cpu-shares', value, expected);
  // Docker: 0 is the flag's default, "not set".
  if (shares === 0) return undefined;
  if (shares < MIN_CPU_SHARES || shares > MAX_CPU_SHARES) throw invalid('--cpu-shares', value, expected);
  return shares;
}

function parseCpusetCpus(value: string, host: HostCpus): string {
  const cpus = parseCpuList('--cpuset-cpus', value);
  const offline = [...cpus].filter((cpu) => !host.online.has(cpu));
  if (offline.length > 0) {
    throw invalid(
      '--cpuset-cpus',
      value,
      `CPU ${formatCpuList(offline)} not online; expected a list of online CPUs (${formatCpuList(host.online)})`,
    );
  }
  return formatCpuList(cpus);
}

function parsePidsLimit(value: string): number | 'max' {
  const expected = 'expected a positive integer, or -1 or 0 for no limit';
  const n = parseInteger('--pids-limit', value, expected);
  if (n === 0 || n === -1) return 'max';
  if (n < 0) throw invalid('--pids-limit', value, expected);
  return n;
}

/**
 * Parses Docker's resource flags. Unset flags (and Docker's "0 means default" values) leave
 * their field out.
 *
 * @example
 * ```ts
 * parseCgroupLimits({ memory: '64m', memorySwap: '-1', pidsLimit: '100' });
 * // { memory: 67108864, memorySwap: 'max', pidsLimit: 100 }
 * ```
 * @throws TsdockError `INVALID_ARGUMENT` naming the first bad flag.
 */
export function parseCgroupLimits(flags: LimitFlags, host: HostCpus = readHostCpus()): CgroupLimits {
  const limits: CgroupLimits = {};
  if (flags.memory !== undefined) {
    const memory = parseMemory(flags.memory);
    if (memory !== undefined) limits.memory = memory;
  }
  if (flags.memorySwap !== undefined) {
    const swap = parseMemorySwap(flags.memorySwap, limits.memory);
    if (swap !== undefined) limits.memorySwap = swap;
  }
  if (flags.cpus !== undefined) Object.assign(limits, parseCpus(flags.cpus, host));
  if (flags.cpuShares !== undefined) {
    const shares = parseCpuShares(flags.cpuShares);
    if (shares !== undefined) limits.cpuShares = shares;
  }
  if (flags.cpusetCpus !== undefined) limits.cpusetCpus = parseCpusetCpus(flags.cpusetCpus, host);
  if (flags.pidsLimit !== undefined) limits.pidsLimit = parsePidsLimit(flags.pidsLimit);
  return limits;
}

/**
 * The memory+swap total a container gets: `--memory-swap` when given, else Docker's default of
 * twice `--memory` (daemon `adaptContainerSettings`), else nothing.
 */
export function memorySwapTotal(limits: CgroupLimits): number | 'max' | undefined {
  if (limits.memorySwap !== undefined) return limits.memorySwap;
  return limits.memory === undefined ? undefined : limits.memory * 2;
}

/**
 * v1 `cpu.shares` -> v2 `cpu.weight`, the OCI conversion (runc, crun): maps 2..262144 linearly
 * onto 1..10000 with integer division. Note v1's default 1024 becomes 39, not v2's default 100.
 */
export function cpuSharesToWeight(shares: number): number {
  return 1 + Math.trunc(((shares - MIN_CPU_SHARES) * 9999) / (MAX_CPU_SHARES - MIN_CPU_SHARES));
}
