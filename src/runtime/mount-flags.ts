/** MS_* mount flags (linux/mount.h), as bigint: the plan carries them as u64. */
export const MS = {
  RDONLY: 1n,
  NOSUID: 2n,
  NODEV: 4n,
  NOEXEC: 8n,
  SYNCHRONOUS: 16n,
  REMOUNT: 32n,
  MANDLOCK: 64n,
  DIRSYNC: 128n,
  NOATIME: 1024n,
  NODIRATIME: 2048n,
  BIND: 4096n,
  REC: 16384n,
  UNBINDABLE: 1n << 17n,
  PRIVATE: 1n << 18n,
  SLAVE: 1n << 19n,
  SHARED: 1n << 20n,
  RELATIME: 1n << 21n,
  STRICTATIME: 1n << 24n,
} as const;

/** mount(8) option -> [flags set, flags cleared]; anything else is filesystem data. */
const MOUNT_FLAGS: Record<string, [bigint, bigint]> = {
  ro: [MS.RDONLY, 0n],
  rw: [0n, MS.RDONLY],
  nosuid: [MS.NOSUID, 0n],
  suid: [0n, MS.NOSUID],
  nodev: [MS.NODEV, 0n],
  dev: [0n, MS.NODEV],
  noexec: [MS.NOEXEC, 0n],
  exec: [0n, MS.NOEXEC],
  sync: [MS.SYNCHRONOUS, 0n],
  async: [0n, MS.SYNCHRONOUS],
  dirsync: [MS.DIRSYNC, 0n],
  mand: [MS.MANDLOCK, 0n],
  nomand: [0n, MS.MANDLOCK],
  noatime: [MS.NOATIME, 0n],
  atime: [0n, MS.NOATIME],
  nodiratime: [MS.NODIRATIME, 0n],
  diratime: [0n, MS.NODIRATIME],
  relatime: [MS.RELATIME, 0n],
  norelatime: [0n, MS.RELATIME],
  strictatime: [MS.STRICTATIME, 0n],
  nostrictatime: [0n, MS.STRICTATIME],
  bind: [MS.BIND, 0n],
  rbind: [MS.BIND | MS.REC, 0n],
};

export const PROPAGATION: Record<string, bigint> = {
  private: MS.PRIVATE,
  rprivate: MS.PRIVATE | MS.REC,
  slave: MS.SLAVE,
  rslave: MS.SLAVE | MS.REC,
  shared: MS.SHARED,
  rshared: MS.SHARED | MS.REC,
  unbindable: MS.UNBINDABLE,
  runbindable: MS.UNBINDABLE | MS.REC,
};

/** Options the kernel has no flag for and runc handles itself; tsdock has nothing to do for them. */
const IGNORED_OPTIONS = new Set(['tmpcopyup', 'nosymfollow', 'defaults']);

/** Every mount option `parseMountOptions` understands (the OCI runtime's `features`). */
export const MOUNT_OPTIONS = [...Object.keys(MOUNT_FLAGS), ...Object.keys(PROPAGATION), ...IGNORED_OPTIONS].sort();

/** Splits a mount's options into MS_* flags, propagation flags and filesystem data, as mount(8) does. */
export function parseMountOptions(options: readonly string[]): { flags: bigint; propagation: bigint; data: string } {
  let flags = 0n;
  let propagation = 0n;
  const data: string[] = [];
  for (const option of options) {
    const flag = MOUNT_FLAGS[option];
    const prop = PROPAGATION[option];
    if (flag !== undefined) flags = (flags | flag[0]) & ~flag[1];
    else if (prop !== undefined) propagation = prop;
    else if (!IGNORED_OPTIONS.has(option)) data.push(option);
  }
  return { flags, propagation, data: data.join(',') };
}
