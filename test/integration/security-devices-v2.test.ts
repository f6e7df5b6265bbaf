/**
 * The device allow-list enforced by cgroup v2 alone: a `BPF_PROG_TYPE_CGROUP_DEVICE` program
 * attached to the container's cgroup on the unified tree (which takes device programs although
 * it serves no controller on this hybrid host). tsdock picks v2 for `devices` where no v1
 * hierarchy serves it, so each run here starts in a private mount namespace with the v1
 * `devices` hierarchy unmounted (the host's mounts stay as they are): the program is then the
 * only thing between the container and a device node.
 *
 * A loop device stands in for the host's disk: on this VM even the host's root may not open
 * /dev/vda, so refusing it would prove nothing.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { busyboxRoot, type BusyboxRoot } from '../helpers/busybox.js';
import { removeCgroupParent, repoRoot, uniqueCgroupParent } from '../helpers/host.js';

const V1_DEVICES = '/sys/fs/cgroup/devices';
const loop = readdirSync('/dev').find((d) => /^loop\d+$/.test(d));
const parent = uniqueCgroupParent('devices-v2');
let box: BusyboxRoot;

beforeAll(async () => {
  box = await busyboxRoot('devices-v2');
});

afterAll(async () => {
  await removeCgroupParent(parent);
  await box.remove();
});

/** `tsdock run --rm` in a mount namespace of its own without the v1 devices hierarchy. */
function runWithV2Devices(flags: string[], script: string): { code: number | null; stdout: string; stderr: string } {
  const tsdock = [process.execPath, join(repoRoot, 'bin', 'tsdock.js'), '--root', box.root];
  const run = [...tsdock, 'run', '--rm', '--network', 'none', '--cgroup-parent', parent, ...flags];
  const r = spawnSync(
    'unshare',
    [
      '--mount',
      '--propagation',
      'private',
      'sh',
      '-c',
      `umount ${V1_DEVICES} && exec "$@"`,
      'sh',
      ...run,
      'busybox',
      'sh',
      '-c',
      script,
    ],
    { encoding: 'utf8' },
  );
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe.runIf(existsSync(V1_DEVICES) && existsSync('/sys/fs/cgroup/unified') && loop !== undefined)(
  'cgroup v2 device rules in a container',
  () => {
    const [major, minor] = readFileSync(`/sys/class/block/${String(loop)}/dev`, 'utf8')
      .trim()
      .split(':');

    it('lets mknod make a block device but not open it, while /dev/null works', () => {
      const r = runWithV2Devices(
        [],
        [
          `mknod /tmp/disk b ${String(major)} ${String(minor)} && echo made`,
          'head -c 1 /tmp/disk >/dev/null 2>&1 || echo refused',
          'echo x > /dev/null && head -c 3 /dev/zero | wc -c',
        ].join('; '),
      );
      expect(r).toMatchObject({ code: 0, stdout: 'made\nrefused\n3\n' });
    });

    it('opens the device given with --device', () => {
      const r = runWithV2Devices(
        ['--device', `/dev/${String(loop)}`],
        `head -c 1 /dev/${String(loop)} >/dev/null && echo opened`,
      );
      expect(r).toMatchObject({ code: 0, stdout: 'opened\n' });
    });
  },
);
