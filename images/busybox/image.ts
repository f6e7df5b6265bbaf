/**
 * The demo image: the host's static busybox, one symlink per applet, and the few files a shell
 * needs (`/etc/passwd`, `/etc/group`, `/tmp`, `/root`). No `/etc/hosts` or `/etc/resolv.conf`:
 * the runtime provides those.
 */
import { execFile } from 'node:child_process';
import { chmod, copyFile, mkdir, mkdtemp, open, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { TsdockError } from '../../src/errors.js';
import { writeOciArchive, writeOciLayout, type WrittenLayout } from '../../src/image/oci-layout-writer.js';

export const IMAGE_NAME = 'busybox:latest';
/** Debian's busybox-static puts it here. */
export const HOST_BUSYBOX = '/bin/busybox';
const PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

const PASSWD = 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n';
const GROUP = 'root:x:0:\nnogroup:x:65534:\n';

export interface BusyboxBuildOptions {
  /** The OCI image layout directory to write (missing or empty). */
  out: string;
  /** Also write an OCI archive (a tar of the layout) here. */
  archive?: string | undefined;
  /** The busybox binary to use; it must be statically linked. */
  busybox?: string;
  /** Member mtimes and creation time (seconds); default the busybox binary's mtime. */
  mtime?: number;
}

/** Whether an ELF file has no PT_INTERP program header, i.e. needs no dynamic loader. */
async function isStaticElf(path: string): Promise<boolean> {
  const handle = await open(path, 'r');
  try {
    const head = Buffer.alloc(64);
    await handle.read(head, 0, 64, 0);
    if (head.readUInt32BE(0) !== 0x7f454c46 || head[4] !== 2 || head[5] !== 1) return false; // ELF64, little-endian
    const phoff = Number(head.readBigUInt64LE(32));
    const phentsize = head.readUInt16LE(54);
    const phnum = head.readUInt16LE(56);
    const table = Buffer.alloc(phentsize * phnum);
    await handle.read(table, 0, table.length, phoff);
    const PT_INTERP = 3;
    for (let i = 0; i < phnum; i++) if (table.readUInt32LE(i * phentsize) === PT_INTERP) return false;
    return true;
  } finally {
    await handle.close();
  }
}

export async function checkBusybox(path: string): Promise<void> {
  const st = await stat(path).catch((err: unknown) => {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  });
  if (st?.isFile() !== true) {
    throw new TsdockError('HOST_UNSUPPORTED', `${path} not found; install it: apt-get install busybox-static`);
  }
  if (!(await isStaticElf(path))) {
    throw new TsdockError('HOST_UNSUPPORTED', `${path} is not a static x86-64/ELF64 binary; install busybox-static`);
  }
}

/** Lays out the image's root file system in `root` (also the content of the Dockerfile's context). */
export async function makeRootfs(root: string, busybox: string): Promise<void> {
  const { stdout } = await promisify(execFile)(busybox, ['--list-full']);
  for (const dir of ['bin', 'sbin', 'usr/bin', 'usr/sbin', 'etc', 'proc', 'sys', 'dev', 'root', 'tmp']) {
    await mkdir(join(root, dir), { recursive: true, mode: 0o755 });
  }
  await chmod(join(root, 'root'), 0o700);
  await chmod(join(root, 'tmp'), 0o1777);
  await copyFile(busybox, join(root, 'bin/busybox'));
  await chmod(join(root, 'bin/busybox'), 0o755);
  for (const applet of stdout.split('\n').filter((line) => line !== '' && line !== 'bin/busybox')) {
    if (applet.startsWith('/') || applet.split('/').includes('..')) continue;
    await mkdir(join(root, dirname(applet)), { recursive: true, mode: 0o755 });
    await symlink('/bin/busybox', join(root, applet));
  }
  await writeFile(join(root, 'etc/passwd'), PASSWD, { mode: 0o644 });
  await writeFile(join(root, 'etc/group'), GROUP, { mode: 0o644 });
}

/**
 * Builds `busybox:latest` as an OCI image layout (and optionally an OCI archive).
 *
 * @throws TsdockError `HOST_UNSUPPORTED` when the host has no static busybox.
 */
export async function buildBusyboxImage(options: BusyboxBuildOptions): Promise<WrittenLayout> {
  const busybox = options.busybox ?? HOST_BUSYBOX;
  await checkBusybox(busybox);
  const mtime = options.mtime ?? Math.floor((await stat(busybox)).mtimeMs / 1000);
  const rootfs = await mkdtemp(join(tmpdir(), 'tsdock-busybox-'));
  try {
    await chmod(rootfs, 0o755);
    await makeRootfs(rootfs, busybox);
    const written = await writeOciLayout(options.out, {
      name: IMAGE_NAME,
      config: { Env: [`PATH=${PATH}`], Cmd: ['sh'] },
      layers: [rootfs],
      mtime,
      createdBy: 'tsdock images/busybox (host busybox-static)',
    });
    if (options.archive !== undefined) await writeOciArchive(options.out, options.archive, mtime);
    return written;
  } finally {
    await rm(rootfs, { recursive: true, force: true });
  }
}
