/**
 * `linux.resources` (and the document `update --resources` reads) as tsdock's driver-neutral
 * {@link CgroupLimits}. Pure. The spec's "no limit" spellings (-1, 0 for pids) become absent or
 * `'max'`; a device rule's missing or -1 major/minor is a wildcard.
 */
import { TsdockError } from '../errors.js';
import type { DeviceRule } from '../runtime/cgroups/devices.js';
import type { CgroupLimits } from '../runtime/cgroups/index.js';
import type { OciDeviceRule, OciResources } from './spec.js';

function invalid(message: string): TsdockError {
  return new TsdockError('INVALID_ARGUMENT', `resources: ${message}`);
}

function deviceRule(d: OciDeviceRule): DeviceRule {
  const type = d.type ?? 'a';
  if (type !== 'a' && type !== 'b' && type !== 'c') throw invalid(`device rule type "${type}" is not a, b or c`);
  const access = d.access ?? 'rwm';
  if (!/^[rwm]{1,3}$/.test(access)) throw invalid(`device rule access "${access}" is not a subset of rwm`);
  const wild = (n: number | undefined): number | undefined => (n === undefined || n < 0 ? undefined : n);
  return { allow: d.allow, type, major: wild(d.major), minor: wild(d.minor), access };
}

export function resourcesToLimits(r: OciResources): CgroupLimits {
  const limits: CgroupLimits = {};
  const memory = r.memory?.limit;
  if (memory !== undefined && memory > 0) limits.memory = memory;
  const swap = r.memory?.swap;
  if (swap !== undefined && swap !== 0) limits.memorySwap = swap < 0 ? 'max' : swap;
  const cpu = r.cpu;
  if (cpu?.shares !== undefined && cpu.shares > 0) limits.cpuShares = cpu.shares;
  if (cpu?.quota !== undefined && cpu.quota > 0) {
    limits.cpuQuota = cpu.quota;
    limits.cpuPeriod = cpu.period ?? 100_000;
  }
  if (cpu?.cpus !== undefined && cpu.cpus !== '') limits.cpusetCpus = cpu.cpus;
  const pids = r.pids?.limit;
  if (pids !== undefined) limits.pidsLimit = pids > 0 ? pids : 'max';
  if (r.devices !== undefined) limits.devices = r.devices.map(deviceRule);
  return limits;
}
