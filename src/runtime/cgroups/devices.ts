/**
 * The device allow-list of a container: which device nodes it may open (r, w) or create (m),
 * whatever nodes exist in its /dev. Enforced by the v1 `devices` controller
 * (Documentation/admin-guide/cgroup-v1/devices.rst) or, on cgroup v2, by a
 * BPF_PROG_TYPE_CGROUP_DEVICE program (`device-program.ts`).
 */

/** One rule: `type major:minor access`, `undefined` major/minor standing for `*`. */
export interface DeviceRule {
  allow: boolean;
  /** `a` all, `c` character, `b` block. */
  type: 'a' | 'c' | 'b';
  major?: number;
  minor?: number;
  /** A non-empty subset of `rwm`. */
  access: string;
}

const allow = (type: 'c' | 'b', major: number | undefined, minor: number | undefined, access = 'rwm'): DeviceRule => ({
  allow: true,
  type,
  major,
  minor,
  access,
});

/**
 * Docker's defaults: any node may be created (`m`) — so an image's own /dev entries unpack — but
 * only these may be opened: null, zero, full, random, urandom, tty, console, ptmx and the pty
 * slaves (devices.txt in the kernel's Documentation/admin-guide).
 */
export const DEFAULT_DEVICE_RULES: readonly DeviceRule[] = [
  { allow: false, type: 'a', access: 'rwm' },
  allow('c', undefined, undefined, 'm'),
  allow('b', undefined, undefined, 'm'),
  allow('c', 1, 3),
  allow('c', 1, 5),
  allow('c', 1, 7),
  allow('c', 1, 8),
  allow('c', 1, 9),
  allow('c', 5, 0),
  allow('c', 5, 1),
  allow('c', 5, 2),
  allow('c', 136, undefined),
];

/** `--privileged`: every device. */
export const ALL_DEVICES: readonly DeviceRule[] = [{ allow: true, type: 'a', access: 'rwm' }];

/** The rule as devices.allow / devices.deny take it: `c 1:3 rwm`, `a *:* rwm`. */
export function v1DeviceLine(rule: DeviceRule): string {
  const n = (v: number | undefined): string => (v === undefined ? '*' : String(v));
  return `${rule.type} ${n(rule.major)}:${n(rule.minor)} ${rule.access}`;
}

/** The list for a container: everything when privileged, else the defaults plus its `--device`s. */
export function deviceRulesFor(
  devices: readonly { type: 'c' | 'b'; major: number; minor: number; permissions: string }[],
  privileged: boolean,
): DeviceRule[] {
  if (privileged) return [...ALL_DEVICES];
  return [
    ...DEFAULT_DEVICE_RULES,
    ...devices.map((d) => ({ allow: true, type: d.type, major: d.major, minor: d.minor, access: d.permissions })),
  ];
}
