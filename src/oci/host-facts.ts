/** The host facts the spec converter needs, read from the running system. */
import { readFileSync, statSync } from 'node:fs';
import { parseMountinfo } from '../runtime/cgroups/detect.js';
import { hostBoundingSet } from '../runtime/host.js';
import type { HostFacts } from './spec-plan.js';

export function hostCaps(): number[] {
  return [...hostBoundingSet()];
}

export function hostFacts(bundle: string): HostFacts {
  return {
    bundle,
    // A missing source is made a directory target; the mount then fails naming it.
    sourceKind: (path) => (statSync(path, { throwIfNoEntry: false })?.isDirectory() === false ? 'file' : 'dir'),
    cgroupMounts: parseMountinfo(readFileSync('/proc/self/mountinfo', 'utf8')),
    hostCaps: hostCaps(),
  };
}
