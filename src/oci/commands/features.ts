/** `features`: what this runtime implements, as the runtime-spec features document. */
import { CAPABILITY_NAMES } from '../../runtime/capabilities.js';
import { ACTIONS, COMPARE_OPS } from '../../runtime/seccomp/profile.js';
import type { Flags, Globals } from '../context.js';
import { HOOK_KINDS } from '../spec.js';
import { MOUNT_OPTIONS } from '../../runtime/mount-flags.js';

export function featuresDocument(): Record<string, unknown> {
  return {
    ociVersionMin: '1.0.0',
    ociVersionMax: '1.1.0',
    hooks: HOOK_KINDS,
    mountOptions: [...MOUNT_OPTIONS, 'idmap'].sort(),
    linux: {
      namespaces: ['cgroup', 'ipc', 'mount', 'network', 'pid', 'user', 'uts'],
      capabilities: CAPABILITY_NAMES.map((n) => `CAP_${n}`),
      cgroup: { v1: true, v2: true, systemd: false, systemdUser: false },
      seccomp: {
        enabled: true,
        actions: ACTIONS,
        operators: COMPARE_OPS,
        archs: ['SCMP_ARCH_X86_64'],
      },
      // Bind mounts with uidMappings/gidMappings (or `idmap`) become idmapped mounts.
      mountExtensions: { idmap: { enabled: true } },
      apparmor: { enabled: false },
      selinux: { enabled: false },
    },
  };
}

export function features(_g: Globals, _flags: Flags): Promise<void> {
  process.stdout.write(JSON.stringify(featuresDocument(), null, 2) + '\n');
  return Promise.resolve();
}
