/**
 * `node dist/images/busybox/context.js DIR`: prepares the build context of `DIR/Dockerfile`,
 * the image's root file system at `DIR/rootfs` (the host's static busybox, one symlink per
 * applet, /etc/passwd and /etc/group), replacing what an earlier run left there.
 */
import { chmod, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { checkBusybox, HOST_BUSYBOX, makeRootfs } from './image.js';

async function main(): Promise<void> {
  const [dir] = process.argv.slice(2);
  if (dir === undefined) throw new Error('usage: context.js DIR');
  const rootfs = join(dir, 'rootfs');
  await checkBusybox(HOST_BUSYBOX);
  await rm(rootfs, { recursive: true, force: true });
  await mkdir(rootfs, { mode: 0o755 });
  await chmod(rootfs, 0o755);
  await makeRootfs(rootfs, HOST_BUSYBOX);
  process.stdout.write(`${rootfs}: busybox rootfs ready\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`busybox context: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
