/** The host facts the spec converter needs, read from the running system. */
import { readFileSync, statSync } from 'node:fs';
import { parseMountinfo } from '../runtime/cgroups/detect.js';
import type { HostFacts } from './spec-plan.js';

export function capLastCap(): number {
  return Math.min(63, Number(readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8').trim()));
}

export function hostFacts(bundle: string): HostFacts {
  return {
    bundle,
    // A missing source is made a directory target; the mount then fails naming it.
    sourceKind: (path) => (statSync(path, { throwIfNoEntry: false })?.isDirectory() === false ? 'file' : 'dir'),
    cgroupMounts: parseMountinfo(readFileSync('/proc/self/mountinfo', 'utf8')),
    capLastCap: capLastCap(),
  };
}
