/** MS_* mount flags (linux/mount.h), as bigint: the plan carries them as u64. */
export const MS = {
  RDONLY: 1n,
  NOSUID: 2n,
  NODEV: 4n,
  NOEXEC: 8n,
  REMOUNT: 32n,
  BIND: 4096n,
  REC: 16384n,
  PRIVATE: 1n << 18n,
  SLAVE: 1n << 19n,
  RELATIME: 1n << 21n,
  STRICTATIME: 1n << 24n,
} as const;
