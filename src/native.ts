/**
 * Loads the native half of tsdock: the addon (`tsdock.node`, for the few syscalls Node lacks)
 * and the path of the `tsdock-monitor` executable, both built by `native/binding.gyp`.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TsdockError } from './errors.js';

/** A process started by {@link NativeAddon.spawnProcess}. */
export interface SpawnedProcess {
  readonly pid: number;
  /** Lets Node exit while the process runs; it is still reaped if it ends first. */
  unref(): void;
}

/** The addon's surface; `native/src/addon/addon.cc` implements exactly this. */
export interface NativeAddon {
  /** mknod(2); throws an Error with `code` (e.g. 'EEXIST') and `syscall` on failure. */
  mknod(path: string, mode: number, major: number, minor: number): void;
  /** lsetxattr(2) with flags 0. */
  lsetxattr(path: string, name: string, value: Buffer): void;
  /** lgetxattr(2); `undefined` when the attribute does not exist (ENODATA). */
  lgetxattr(path: string, name: string): Buffer | undefined;
  /** llistxattr(2): the attribute names of a path, not following symlinks. */
  llistxattr(path: string): string[];
  /**
   * flock(2) on an open fd. A free lock is taken at once; waiting for a held one happens on the
   * libuv thread pool, so it never blocks the loop.
   */
  flock(fd: number, operation: 'exclusive' | 'shared' | 'unlock'): Promise<void>;
  /** mount(2): for the host-side mounts tests and volumes need. */
  mount(source: string, target: string, fstype: string, flags: bigint, data: string): void;
  /** umount2(2). */
  umount2(target: string, flags: number): void;
  /**
   * bpf(2): loads `program` (`struct bpf_insn[]`) as a BPF_PROG_TYPE_CGROUP_DEVICE program and
   * attaches it to the cgroup v2 directory `cgroupDir` (BPF_F_ALLOW_MULTI).
   */
  attachDeviceProgram(cgroupDir: string, program: Buffer): void;
  /**
   * bpf(2): makes (or reuses) the cgroup sock_addr links (`connect4`, `getpeername4`, pinned
   * and attached to the cgroup v2 directory `cgroupDir`) and maps (`services`, `peers`) under
   * the bpffs directory `pinDir`, then sets `services` to exactly `entries` (socket-lb-program.ts).
   * An error from a program load carries the verifier's `verifierLog`.
   */
  socketLbSync(pinDir: string, cgroupDir: string, connect4: Buffer, getpeername4: Buffer, entries: Buffer): void;
  /**
   * The first `limit` bytes of the regular file `path` resolved inside the directory `root`
   * (openat2(2) `RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS`: symlinks never lead out of it);
   * `undefined` when there is no such file.
   */
  readFileInRoot(root: string, path: string, limit: number): Buffer | undefined;
  /** Clears OPOST on the terminal `fd` (after Node's setRawMode, which keeps ONLCR). */
  rawOutput(fd: number): void;
  /** socketpair(2): a connected AF_UNIX stream pair, both ends close-on-exec. */
  socketpair(): [number, number];
  /**
   * `rm -rf path` on the libuv thread pool, at the lowest CPU and I/O priority (as root), never
   * following a symlink or crossing into another mount. Settles once: rejected with the first
   * errno-carrying failure, after the rest was removed anyway.
   */
  removeTree(path: string): Promise<void>;
  /**
   * unshare(2) of a network namespace on a thread of its own (off Node's loop, and no thread of
   * Node's keeps it): resolves to an fd of it, close-on-exec.
   */
  newNetworkNamespace(): Promise<number>;
  /**
   * An overlay mount made with fsopen(2), fsconfig(2) and fsmount(2) on a thread-pool thread:
   * resolves to an fd of the detached mount, close-on-exec, for a container's child to attach.
   * `lower`: absolute paths, top first, each given on its own (`lowerdir+`, Linux 6.8);
   * `options`: `key=value` or a flag's name.
   */
  mountOverlay(lower: string[], upper: string, work: string, options: string[]): Promise<number>;
  /**
   * posix_spawn(3) of `path` without forking Node, on a thread-pool thread (its vfork holds the
   * calling thread until the exec): in a session of its own, every signal at its default and
   * none blocked, fd i a copy of `childFds[i]`, which stay open until it settles (other fds as
   * Node's: close-on-exec). The addon reaps it (a pidfd polled on Node's loop) and calls
   * `onExit` with its exit code, or the number of the signal that killed it. Rejects with an
   * errno-carrying error if it cannot start.
   */
  spawnProcess(
    path: string,
    argv: string[],
    childFds: number[],
    onExit: (exitCode: number | null, signal: number | null) => void,
  ): Promise<SpawnedProcess>;
}

/** The package root: two levels up from `dist/src/native.js`, one from `src/native.ts` (tests). */
function packageRoot(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const fromSource = join(here, '..');
  return existsSync(join(fromSource, 'native', 'binding.gyp')) ? fromSource : join(here, '..', '..');
}

const buildDirs = ['build/Release', 'build/Debug'].map((d) => join(packageRoot(), 'native', d));

function locate(file: string): string {
  const tried = buildDirs.map((d) => join(d, file));
  const found = tried.find((p) => existsSync(p));
  if (found === undefined) {
    throw new TsdockError(
      'HOST_UNSUPPORTED',
      `native ${file} not built (tried ${tried.join(', ')}); run \`make build\``,
    );
  }
  return found;
}

let addon: NativeAddon | undefined;

/** The addon, loaded on first use so that commands that need none start faster. */
export function native(): NativeAddon {
  addon ??= createRequire(import.meta.url)(locate('tsdock.node')) as NativeAddon;
  return addon;
}

/** Absolute path of the `tsdock-monitor` executable. */
export function monitorPath(): string {
  return locate('tsdock-monitor');
}

/** The `tsdock` command line's entry script, for a monitor's exit command (`bin/tsdock.js`). */
export function cliPath(): string {
  return join(packageRoot(), 'bin', 'tsdock.js');
}

/** The static `tsdock-init` executable that `run --init` mounts into the container as pid 1. */
export function initPath(): string {
  return locate('tsdock-init');
}

/** The static `tsdock-pause` executable that holds a pod's namespaces. */
export function pausePath(): string {
  return locate('tsdock-pause');
}
