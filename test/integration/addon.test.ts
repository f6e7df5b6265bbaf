/**
 * The native addon (tsdock.node) against the real kernel, as root: each call once for its
 * effect and once for the shape of its error. Build first: `make build`.
 */
import { execFileSync } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { once } from 'node:events';
import { Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { native, type NativeAddon } from '../../src/native.js';

const S_IFCHR = 0o020000;
const MS_NOSUID = 0x2n;
const MNT_DETACH = 2;
const O_CLOEXEC = 0o2000000;

let dir = '';
let addon: NativeAddon;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tsdock-addon-'));
  addon = native();
});

afterAll(() => {
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
});

/** What a failing call threw, for its fields to be compared. */
function thrown(call: () => unknown): Record<string, unknown> {
  try {
    call();
  } catch (err) {
    return { ...(err as Record<string, unknown>), message: (err as Error).message };
  }
  throw new Error('expected the call to throw');
}

/** This process's fds above 2 that are not close-on-exec (fdinfo(5) flags, octal; O_CLOEXEC 02000000). */
function inheritableFds(): number[] {
  const flags = (fd: number): number => {
    try {
      return parseInt(/flags:\s*(\d+)/.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))?.[1] ?? '0', 8);
    } catch {
      return 0o2000000; // the directory's own fd, closed by now
    }
  };
  return readdirSync('/proc/self/fdinfo')
    .map(Number)
    .filter((fd) => fd > 2 && (flags(fd) & 0o2000000) === 0);
}

describe('native addon', () => {
  it('mknod creates a device node and reports EEXIST like Node', () => {
    const path = join(dir, 'null');
    addon.mknod(path, S_IFCHR | 0o666, 1, 3);
    const st = statSync(path);
    expect(st.isCharacterDevice()).toBe(true);
    expect([st.rdev >> 8, st.rdev & 0xff]).toEqual([1, 3]);
    expect(
      thrown(() => {
        addon.mknod(path, S_IFCHR | 0o666, 1, 3);
      }),
    ).toEqual({
      message: `EEXIST: file already exists, mknod '${path}'`,
      code: 'EEXIST',
      errno: -17,
      syscall: 'mknod',
      path,
    });
  });

  it('sets, gets and lists xattrs without following symlinks', () => {
    const file = join(dir, 'file');
    const link = join(dir, 'link');
    writeFileSync(file, '');
    symlinkSync(file, link);
    addon.lsetxattr(file, 'user.tsdock', Buffer.from('value\0with NUL'));
    addon.lsetxattr(link, 'trusted.tsdock.link', Buffer.alloc(0));

    expect(addon.lgetxattr(file, 'user.tsdock')).toEqual(Buffer.from('value\0with NUL'));
    expect(addon.lgetxattr(link, 'trusted.tsdock.link')).toEqual(Buffer.alloc(0));
    expect(addon.lgetxattr(link, 'user.tsdock')).toBeUndefined();
    expect(addon.lgetxattr(file, 'trusted.tsdock.link')).toBeUndefined();
    expect(addon.llistxattr(file)).toContain('user.tsdock');
    expect(addon.llistxattr(link)).toContain('trusted.tsdock.link');
    expect(addon.llistxattr(link)).not.toContain('user.tsdock');

    const missing = join(dir, 'missing');
    expect(thrown(() => addon.lgetxattr(missing, 'user.x'))).toMatchObject({ code: 'ENOENT', syscall: 'lgetxattr' });
    expect(thrown(() => addon.llistxattr(missing))).toMatchObject({ code: 'ENOENT', path: missing });
  });

  it('flock waits on the thread pool until the holder unlocks', async () => {
    const path = join(dir, 'lock');
    writeFileSync(path, '');
    const holder = openSync(path, 'r');
    const waiter = openSync(path, 'r');
    try {
      await addon.flock(holder, 'exclusive');
      let shared = false;
      const waiting = addon.flock(waiter, 'shared').then(() => (shared = true));
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(shared).toBe(false);
      await addon.flock(holder, 'unlock');
      await waiting;
      expect(shared).toBe(true);
    } finally {
      closeSync(holder);
      closeSync(waiter);
    }
    await expect(addon.flock(holder, 'shared')).rejects.toMatchObject({ code: 'EBADF', syscall: 'flock' });
  });

  it('flock takes a free lock at once, even while every thread-pool thread waits for another', async () => {
    const busy = join(dir, 'busy');
    const free = join(dir, 'free');
    writeFileSync(busy, '');
    writeFileSync(free, '');
    const holder = openSync(busy, 'r');
    const waiters = Array.from({ length: 16 }, () => openSync(busy, 'r'));
    const taker = openSync(free, 'r');
    let waited = 0;
    // Closing the holder's fd drops its lock without the (then full) thread pool.
    let held = true;
    const unlock = (): void => {
      if (held) closeSync(holder);
      held = false;
    };
    try {
      await addon.flock(holder, 'exclusive');
      const waiting = waiters.map((fd) => addon.flock(fd, 'shared').then(() => waited++));
      // Only so that a flock bound for the pool would still end, and fail below.
      const release = setTimeout(unlock, 500);
      await addon.flock(taker, 'exclusive');
      expect(waited).toBe(0);
      clearTimeout(release);
      unlock();
      await Promise.all(waiting);
      expect(waited).toBe(waiters.length);
    } finally {
      unlock();
      for (const fd of [taker, ...waiters]) closeSync(fd);
    }
  });

  it('removeTree deletes a tree without following its symlinks or entering its mounts', async () => {
    const outside = join(dir, 'outside');
    mkdirSync(outside);
    writeFileSync(join(outside, 'kept'), 'x');
    const tree = join(dir, 'tree');
    mkdirSync(join(tree, 'a', 'b'), { recursive: true });
    writeFileSync(join(tree, 'a', 'b', 'file'), 'x');
    symlinkSync(outside, join(tree, 'a', 'link'));
    await addon.removeTree(tree);
    expect(existsSync(tree)).toBe(false);
    expect(readFileSync(join(outside, 'kept'), 'utf8')).toBe('x');
    // It ran at nice 19 on a pool thread, which runs other work at the process's priority again.
    const nices = readdirSync('/proc/self/task').map((tid) => {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16];
    });
    expect(new Set(nices)).toEqual(new Set(['0']));
    // Gone already: nothing to do.
    await addon.removeTree(tree);

    const mounted = join(dir, 'mounted');
    const mountPoint = join(mounted, 'mnt');
    mkdirSync(mountPoint, { recursive: true });
    writeFileSync(join(mounted, 'file'), 'x');
    addon.mount('tsdock-test', mountPoint, 'tmpfs', 0n, '');
    try {
      writeFileSync(join(mountPoint, 'inside'), 'x');
      // The mount point is another file system's root: it is left, and so its parent.
      await expect(addon.removeTree(mounted)).rejects.toMatchObject({
        code: 'ENOTEMPTY',
        syscall: 'remove',
        path: mounted,
      });
      // The rest went; the mount and what it holds stayed.
      expect(existsSync(join(mounted, 'file'))).toBe(false);
      expect(readFileSync(join(mountPoint, 'inside'), 'utf8')).toBe('x');
    } finally {
      addon.umount2(mountPoint, MNT_DETACH);
    }
  });

  it('newNetworkNamespace makes a network namespace that no thread of the process is in', async () => {
    const ownNamespaces = (): Set<string> =>
      new Set(readdirSync('/proc/self/task').map((tid) => readlinkSync(`/proc/self/task/${tid}/ns/net`)));
    const before = ownNamespaces();
    const fds = await Promise.all([addon.newNetworkNamespace(), addon.newNetworkNamespace()]);
    try {
      const made = fds.map((fd) => readlinkSync(`/proc/self/fd/${String(fd)}`));
      expect(made[0]).toMatch(/^net:\[\d+\]$/);
      expect(made[0]).not.toBe(made[1]);
      expect(before).toEqual(new Set([readlinkSync('/proc/self/ns/net')]));
      for (const ns of made) expect(before.has(ns)).toBe(false);
      expect(ownNamespaces()).toEqual(before);
      // Close-on-exec: it reaches a child only where it is given.
      for (const fd of fds) expect(readFileSync(`/proc/self/fdinfo/${String(fd)}`, 'utf8')).toMatch(/^flags:\s+02/m);
    } finally {
      for (const fd of fds) closeSync(fd);
    }
  });

  it('mountOverlay makes a detached overlay mount, layers given one by one, as an fd to attach', async () => {
    const at = mkdtempSync(join(dir, 'ovl-'));
    const [top, bottom, upper, work] = ['top', 'bottom', 'upper', 'work'].map((d) => join(at, d)) as [
      string,
      string,
      string,
      string,
    ];
    for (const d of [top, bottom, upper, work]) mkdirSync(d);
    writeFileSync(join(bottom, 'shadowed'), 'bottom');
    writeFileSync(join(top, 'shadowed'), 'top');
    writeFileSync(join(bottom, 'only-below'), '');
    const fd = await addon.mountOverlay([top, bottom], upper, work, ['redirect_dir=nofollow', 'volatile']);
    try {
      const root = `/proc/self/fd/${String(fd)}`;
      expect(readdirSync(root).sort()).toEqual(['only-below', 'shadowed']);
      expect(readFileSync(join(root, 'shadowed'), 'utf8')).toBe('top');
      writeFileSync(join(root, 'written'), 'x');
      expect(readFileSync(join(upper, 'written'), 'utf8')).toBe('x');
      // Detached: attached nowhere in this mount namespace.
      expect(readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(upper);
      const flags = /^flags:\s+(\d+)$/m.exec(readFileSync(`/proc/self/fdinfo/${String(fd)}`, 'utf8'))?.[1];
      expect(Number.parseInt(flags ?? '0', 8) & O_CLOEXEC).toBe(O_CLOEXEC);
    } finally {
      closeSync(fd);
    }
    await expect(addon.mountOverlay([top], join(at, 'missing'), work, [])).rejects.toMatchObject({
      code: 'ENOENT',
      syscall: 'mount',
    });
  });

  it('mounts and unmounts in the host namespace', () => {
    const target = join(dir, 'mnt');
    mkdirSync(target);
    addon.mount('tsdock-test', target, 'tmpfs', MS_NOSUID, 'size=1m');
    try {
      const entry = readFileSync('/proc/self/mountinfo', 'utf8')
        .split('\n')
        .find((l) => l.split(' ')[4] === target);
      expect(entry).toMatch(/ rw,nosuid\S* - tmpfs tsdock-test rw,size=1024k/);
    } finally {
      addon.umount2(target, MNT_DETACH);
    }
    expect(readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(` ${target} `);
    expect(
      thrown(() => {
        addon.umount2(target, 0);
      }),
    ).toMatchObject({ code: 'EINVAL', syscall: 'umount2', path: target });
    const nowhere = join(dir, 'nowhere');
    expect(
      thrown(() => {
        addon.mount('', nowhere, 'tmpfs', 0n, '');
      }),
    ).toMatchObject({
      code: 'ENOENT',
      syscall: 'mount',
      path: nowhere,
    });
  });

  it('reads a file inside a root, symlinks resolved there, not on the host', () => {
    const root = join(dir, 'root');
    mkdirSync(join(root, 'etc'), { recursive: true });
    writeFileSync(join(root, 'etc/inside'), 'inside\n');
    symlinkSync('/etc/inside', join(root, 'etc/absolute'));
    symlinkSync('../../../../etc/inside', join(root, 'etc/climbing'));
    symlinkSync('/etc/hostname', join(root, 'etc/host'));
    symlinkSync('/proc/self/root/etc/hostname', join(root, 'etc/magic'));
    execFileSync('mkfifo', [join(root, 'etc/fifo')]);
    expect(addon.readFileInRoot(root, '/etc/absolute', 100)?.toString()).toBe('inside\n');
    expect(addon.readFileInRoot(root, 'etc/climbing', 100)?.toString()).toBe('inside\n');
    expect(addon.readFileInRoot(root, '/etc/inside', 3)?.toString()).toBe('ins');
    // The host's /etc/hostname is not the root's: there is none there.
    expect(addon.readFileInRoot(root, '/etc/host', 100)).toBeUndefined();
    expect(addon.readFileInRoot(root, '/etc/fifo', 100)).toBeUndefined();
    expect(addon.readFileInRoot(root, '/etc', 100)).toBeUndefined();
    // /proc is the root's own (here: none), so /proc/self/root never leads to the host's.
    expect(addon.readFileInRoot(root, '/etc/magic', 100)).toBeUndefined();
    expect(thrown(() => addon.readFileInRoot(join(dir, 'none'), '/etc', 100))).toMatchObject({
      code: 'ENOENT',
      syscall: 'open',
    });
  });

  it('spawnProcess starts a process with its own session, default signals and the given fds, and reaps it', async () => {
    const [ours, theirs] = addon.socketpair();
    const inheritable = inheritableFds();
    const devNull = openSync('/dev/null', 'r');
    const script = 'grep -E "^Sig(Blk|Ign)" /proc/self/status; ls /proc/$$/fd; ps -o sid= -p $$; exit 3';
    let resolveEnded!: (how: [number | null, number | null]) => void;
    const ended = new Promise<[number | null, number | null]>((resolve) => (resolveEnded = resolve));
    const spawning = addon.spawnProcess('/bin/sh', ['sh', '-c', script], [devNull, theirs, theirs], (code, signal) => {
      resolveEnded([code, signal]);
    });
    // Spawned off Node's thread: the fds stay open until then.
    const child = await spawning;
    closeSync(theirs);
    closeSync(devNull);
    const output = new Socket({ fd: ours, readable: true, writable: false });
    const chunks: Buffer[] = [];
    output.on('data', (chunk: Buffer) => chunks.push(chunk));
    await once(output, 'close');
    expect(await ended).toEqual([3, null]);
    const [blocked, ignored, ...rest] = Buffer.concat(chunks).toString().trim().split('\n');
    expect(blocked).toBe('SigBlk:\t0000000000000000');
    // Node ignores SIGPIPE (13); glibc keeps only its own internal signals 32 and 33 ignored.
    expect(ignored).toBe('SigIgn:\t0000000180000000');
    // The shell's fds: 0-2 and only those of ours not close-on-exec (say, from our parent).
    const byNumber = (a: number, b: number): number => a - b;
    expect(rest.slice(0, -1).map(Number).sort(byNumber)).toEqual([0, 1, 2, ...inheritable].sort(byNumber));
    expect(Number(rest.at(-1))).toBe(child.pid); // its own session

    let resolveKilled!: (how: [number | null, number | null]) => void;
    const killed = new Promise<[number | null, number | null]>((resolve) => (resolveKilled = resolve));
    const sleeper = await addon.spawnProcess('/bin/sleep', ['sleep', '600'], [0, 1, 2], (...how) => {
      resolveKilled(how);
    });
    process.kill(sleeper.pid, 'SIGKILL');
    expect(await killed).toEqual([null, 9]);
  });

  it('spawnProcess reports what kept it from starting like Node', async () => {
    const missing = join(dir, 'missing');
    const rejection = await addon.spawnProcess(missing, ['x'], [0, 1, 2], () => undefined).catch((e: unknown) => e);
    expect({ ...(rejection as object), message: (rejection as Error).message }).toEqual({
      message: `ENOENT: no such file or directory, posix_spawn '${missing}'`,
      code: 'ENOENT',
      errno: -2,
      syscall: 'posix_spawn',
      path: missing,
    });
    const unused = openSync('/dev/null', 'r');
    closeSync(unused);
    await expect(addon.spawnProcess('/bin/true', ['true'], [unused], () => undefined)).rejects.toMatchObject({
      code: 'EBADF',
      syscall: 'fcntl',
    });
  });

  it('rejects arguments of the wrong type', () => {
    const loose = addon as unknown as Record<string, (...args: unknown[]) => unknown>;
    expect(() => loose.mknod?.(1, 0, 0, 0)).toThrow(TypeError);
    expect(() => loose.mount?.('', '/x', 'tmpfs', 2, '')).toThrow(/"flags" argument must be of type bigint/);
    expect(() => loose.lsetxattr?.('/x', 'user.x', 'not a buffer')).toThrow(TypeError);
    expect(() => loose.flock?.(0, 'sideways')).toThrow(TypeError);
    expect(() => {
      addon.mount('', '/x\0y', 'tmpfs', 0n, '');
    }).toThrow(TypeError);
  });
});
