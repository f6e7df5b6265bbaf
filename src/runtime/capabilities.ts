/**
 * Linux capabilities by name, Docker's default set, and `--cap-add` / `--cap-drop` resolution.
 */
import { TsdockError } from '../errors.js';
import type { CapabilitySets } from './plan.js';

/** Capability numbers from linux/capability.h, in order. */
export const CAPABILITY_NAMES = [
  'CHOWN',
  'DAC_OVERRIDE',
  'DAC_READ_SEARCH',
  'FOWNER',
  'FSETID',
  'KILL',
  'SETGID',
  'SETUID',
  'SETPCAP',
  'LINUX_IMMUTABLE',
  'NET_BIND_SERVICE',
  'NET_BROADCAST',
  'NET_ADMIN',
  'NET_RAW',
  'IPC_LOCK',
  'IPC_OWNER',
  'SYS_MODULE',
  'SYS_RAWIO',
  'SYS_CHROOT',
  'SYS_PTRACE',
  'SYS_PACCT',
  'SYS_ADMIN',
  'SYS_BOOT',
  'SYS_NICE',
  'SYS_RESOURCE',
  'SYS_TIME',
  'SYS_TTY_CONFIG',
  'MKNOD',
  'LEASE',
  'AUDIT_WRITE',
  'AUDIT_CONTROL',
  'SETFCAP',
  'MAC_OVERRIDE',
  'MAC_ADMIN',
  'SYSLOG',
  'WAKE_ALARM',
  'BLOCK_SUSPEND',
  'AUDIT_READ',
  'PERFMON',
  'BPF',
  'CHECKPOINT_RESTORE',
] as const;

export type CapabilityName = (typeof CAPABILITY_NAMES)[number];

/** Docker's default capability set: CapEff 00000000a80425fb for root. */
export const DEFAULT_CAPABILITIES: readonly CapabilityName[] = [
  'CHOWN',
  'DAC_OVERRIDE',
  'FSETID',
  'FOWNER',
  'MKNOD',
  'NET_RAW',
  'SETGID',
  'SETUID',
  'SETFCAP',
  'SETPCAP',
  'NET_BIND_SERVICE',
  'SYS_CHROOT',
  'KILL',
  'AUDIT_WRITE',
];

/** The capability number of a name as a user writes it (`NET_ADMIN`, `cap_net_admin`, `CAP_NET_ADMIN`). */
export function capabilityNumber(name: string): number {
  const bare = name.toUpperCase().replace(/^CAP_/, '');
  const n = CAPABILITY_NAMES.indexOf(bare as CapabilityName);
  if (n < 0) {
    throw new TsdockError('INVALID_ARGUMENT', `unknown capability "${name}": use a name like NET_ADMIN or ALL`);
  }
  return n;
}

/**
 * Applies Docker's rules: start from the default set, drop `--cap-drop` (ALL drops everything),
 * then add `--cap-add` (ALL adds everything). Returns capability numbers, sorted.
 */
export function resolveCapabilities(add: readonly string[], drop: readonly string[]): number[] {
  const all = CAPABILITY_NAMES.map((_, n) => n);
  const isAll = (name: string): boolean => name.toUpperCase() === 'ALL';
  let set = new Set(DEFAULT_CAPABILITIES.map((name) => CAPABILITY_NAMES.indexOf(name)));
  if (drop.some(isAll)) set = new Set();
  for (const name of drop.filter((n) => !isAll(n))) set.delete(capabilityNumber(name));
  if (add.some(isAll)) set = new Set(all);
  for (const name of add.filter((n) => !isAll(n))) set.add(capabilityNumber(name));
  return [...set].sort((a, b) => a - b);
}

/** The names of capability numbers, as `CAP_…`. */
export function capabilityNames(caps: readonly number[]): string[] {
  return caps.map((n) => `CAP_${CAPABILITY_NAMES[n] ?? String(n)}`);
}

/**
 * The capability sets of the container process. Like Docker, the same set bounds, is permitted
 * and effective; a non-root user loses the effective set at `execve` by the kernel's own rules
 * (capabilities(7)), and inheritable and ambient stay empty.
 */
export function capabilitySets(caps: number[]): CapabilitySets {
  return { bounding: caps, effective: caps, permitted: caps, inheritable: [], ambient: [] };
}
