/** Facts about the host that a plan must respect. */
import { readFileSync } from 'node:fs';
import { release } from 'node:os';

/**
 * The hard RLIMIT_NOFILE of this process (from /proc/self/limits; Node has no getrlimit). A
 * container asking for more would fail with EPERM in setrlimit, so the plan clamps to it.
 */
export function hostNofileHardLimit(): bigint {
  const limits = readFileSync('/proc/self/limits', 'utf8');
  const line = limits.split('\n').find((l) => l.startsWith('Max open files'));
  const hard = line?.split(/\s{2,}/)[2]?.trim();
  return hard === undefined || hard === 'unlimited' ? 1n << 20n : BigInt(hard);
}

let bounding: Set<number> | undefined;

/**
 * The capabilities this process's bounding set still holds (`CapBnd` in /proc/self/status).
 * `--privileged` means all of these: asking capset(2) for more fails with EPERM.
 */
export function hostBoundingSet(): ReadonlySet<number> {
  if (bounding === undefined) {
    const status = readFileSync('/proc/self/status', 'utf8');
    const mask = BigInt(`0x${/^CapBnd:\s*([0-9a-f]+)$/m.exec(status)?.[1] ?? '0'}`);
    bounding = new Set([...Array(64).keys()].filter((n) => (mask >> BigInt(n)) & 1n));
  }
  return bounding;
}

/** Whether overlayfs takes `volatile` (Linux 5.10): no sync of the upper dir, not even at unmount. */
export function overlayVolatileSupported(): boolean {
  const [major = 0, minor = 0] = release()
    .split('.')
    .map((n) => Number.parseInt(n, 10));
  return major > 5 || (major === 5 && minor >= 10);
}
