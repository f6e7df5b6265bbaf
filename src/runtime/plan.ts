/**
 * The spawn plan: everything the native monitor does to start one container process, decided in
 * TypeScript. Field names follow the OCI runtime-spec `config.json` where one exists. The plan is
 * plain data: it can be printed, diffed and unit-tested without root; `plan-codec.ts` turns it
 * into the binary wire format described in `native/include/plan.h`.
 */

/** A namespace kind, as named in the OCI runtime spec. */
export type NamespaceType = 'mount' | 'pid' | 'network' | 'ipc' | 'uts' | 'user' | 'cgroup';

/** A namespace to join (instead of creating it): the monitor `setns`es before `clone`. */
export interface NamespaceJoin {
  type: NamespaceType;
  path: string;
}

/** One line of `/proc/<pid>/uid_map` or `gid_map`. */
export interface IdMapping {
  containerID: number;
  hostID: number;
  size: number;
}

/** Linux capability sets as capability numbers (see `capabilities.ts`). */
export interface CapabilitySets {
  bounding: number[];
  effective: number[];
  permitted: number[];
  inheritable: number[];
  ambient: number[];
}

/** A resource limit; `resource` is the RLIMIT_* number. */
export interface Rlimit {
  resource: number;
  soft: bigint;
  hard: bigint;
}

/**
 * One filesystem step the child performs in its own mount namespace. Steps run in order;
 * `rootfsOps` before `pivot_root` (host paths), `containerOps` after it (container paths).
 */
export type FsOp =
  | {
      kind: 'mount';
      source: string;
      target: string;
      fstype: string;
      /** MS_* flags. */
      flags: bigint;
      data: string;
      /** Create the target first: as a directory or as an empty file (for file bind mounts). */
      createTarget?: 'dir' | 'file';
      /** After a bind mount, remount it read-only (a bind mount ignores MS_RDONLY at first). */
      readonly?: boolean;
      /**
       * Refuse a target reached through any symlink in the image (`/proc`, `/sys`: the masks and
       * read-only paths that follow must land on the real thing). Every target below the rootfs
       * is resolved inside it anyway: a symlink never leads out.
       */
      noSymlinks?: boolean;
      /**
       * A bind mount of `source` idmapped to the container's user namespace (the plan's uid and
       * gid mappings): host id `hostID + n` shows as `n` inside. The monitor makes it detached
       * and the child attaches it in its own mount namespace. Rootfs ops with a user namespace only.
       */
      idmap?: boolean;
      /**
       * With `idmap`: the mount's own mappings (an OCI mount's uidMappings and gidMappings), in
       * a user namespace made for it, instead of the container's; then no user namespace of the
       * container's own is needed.
       */
      idmapMappings?: { uid: IdMapping[]; gid: IdMapping[] };
    }
  | { kind: 'mkdir'; target: string; mode: number }
  | { kind: 'mknod'; target: string; mode: number; major: number; minor: number }
  | { kind: 'symlink'; linkTarget: string; target: string }
  /** Hide a path: `/dev/null` over a file, an empty read-only tmpfs over a directory. */
  | { kind: 'mask'; target: string }
  /** Make an existing path read-only by bind-mounting it onto itself. Missing paths are skipped. */
  | { kind: 'readonly'; target: string }
  /** chdir, so that later mount data can name directories relatively (overlay's page-size limit). */
  | { kind: 'chdir'; target: string }
  /** Write `data` to an existing file in one write(2): a sysctl under `/proc/sys` (container path). */
  | { kind: 'write'; target: string; data: string };

/** One classic BPF instruction (`struct sock_filter`, linux/filter.h). */
export interface SockFilter {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

/** How the monitor learns that the container was OOM-killed. */
export interface OomSource {
  /** v1: `memory.oom_control` (`oom_kill N`); v2: `memory.events` (`oom_kill N`). */
  driver: 'v1' | 'v2';
  path: string;
}

export interface SpawnPlan {
  /** argv; `args[0]` is searched in the container's PATH when it has no slash. */
  args: string[];
  /** `KEY=value` strings. */
  env: string[];
  /** Working directory inside the container. */
  cwd: string;
  hostname?: string;
  /**
   * Host path where the container's root is mounted (by a `rootfsOps` step) and pivoted to.
   * Absent for an exec, which joins the running container's mount namespace instead.
   */
  rootfs?: string;
  /** Namespaces created with `clone`. */
  namespaces: NamespaceType[];
  /** Namespaces joined before `clone`. */
  joinNamespaces: NamespaceJoin[];
  uidMappings: IdMapping[];
  gidMappings: IdMapping[];
  user: { uid: number; gid: number; additionalGids: number[] };
  capabilities: CapabilitySets;
  noNewPrivileges: boolean;
  rlimits: Rlimit[];
  oomScoreAdj?: number;
  /** Propagation applied to `/` of the new mount namespace first (MS_* flags, e.g. MS_REC|MS_SLAVE). */
  rootfsPropagation: bigint;
  rootfsOps: FsOp[];
  containerOps: FsOp[];
  readonlyRootfs: boolean;
  /** Bring up `lo` in a new network namespace. */
  loopbackUp: boolean;
  /** `cgroup.procs` files the monitor writes the child's pid to before it may `execve`. */
  cgroupProcs: string[];
  /** cgroup directories the monitor removes after the container exits (deepest first). */
  cgroupDirs: string[];
  oom?: OomSource;
  /** Where the monitor records the exit status (JSON, written atomically). */
  exitFile?: string;
  /** A seccomp filter (compiled by `seccomp/compile.ts`), loaded last before `execve`. */
  seccomp?: SockFilter[];
  /**
   * OCI create/start: a unix socket path the monitor listens on. The process, once set up,
   * waits right before `execve` until something connects to it (`tsdock-runtime start`).
   */
  startSocket?: string;
  /** fds 3 .. 3+N-1 of the monitor passed on to the process (OCI `--preserve-fds`). */
  preserveFds?: number;
  /**
   * OCI's `process.terminal` and `consoleSize`: a new pty of the container's devpts becomes the
   * process's controlling terminal and stdio; the monitor holds its master. 0x0 leaves the size
   * to the first resize.
   */
  terminal?: { rows: number; cols: number };
  /**
   * OCI createContainer and startContainer hooks, which the child runs itself, in the
   * container's namespaces: the first after its mounts and before `pivot_root`, the second after
   * start and right before `execve`.
   */
  hooks?: PlanHook[];
  /** The OCI state those hooks read on stdin, a JSON object the child adds `status` and `pid` to. */
  hookState?: string;
  /**
   * The caller runs hooks in its own namespaces (OCI prestart, createRuntime) once the child's
   * exist, before the child's createContainer hooks: the monitor reports `runtime-hooks` with
   * the pid on its status fd and waits for one byte back.
   */
  runtimeHooks?: boolean;
}

export interface PlanHook {
  kind: 'createContainer' | 'startContainer';
  path: string;
  /** argv, argv[0] included. */
  args: string[];
  env: string[];
  /** Seconds; absent: none. */
  timeout?: number;
}
