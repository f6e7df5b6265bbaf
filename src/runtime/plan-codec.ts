/**
 * Encodes a {@link SpawnPlan} into the binary wire format of `native/include/plan.h`. Only
 * encoding lives here: the native side decodes, and its decoder is unit-tested in C against
 * buffers this encoder produced.
 */
import type { FsOp, NamespaceType, SockFilter, SpawnPlan } from './plan.js';

const MAGIC = 'TSDPLAN1';

/** Record tags, mirrored from `enum tsd_plan_tag` in plan.h. */
export const Tag = {
  arg: 1,
  env: 2,
  cwd: 3,
  hostname: 4,
  rootfs: 5,
  namespaces: 6,
  nsJoin: 7,
  uid: 8,
  gid: 9,
  additionalGid: 10,
  uidMap: 11,
  gidMap: 12,
  caps: 13,
  noNewPrivs: 14,
  rlimit: 15,
  oomScoreAdj: 16,
  cgroupProcs: 17,
  rootfsOp: 18,
  containerOp: 19,
  readonlyRootfs: 20,
  loopbackUp: 21,
  propagation: 22,
  cgroupDir: 23,
  oom: 24,
  exitFile: 25,
  seccomp: 26,
  startSocket: 27,
  preserveFds: 28,
  terminal: 29,
  hook: 30,
  hookState: 31,
  runtimeHooks: 32,
  mountIdmap: 33,
} as const;

const OpKind = { mount: 1, mkdir: 2, mknod: 3, symlink: 4, mask: 5, readonly: 6, chdir: 7, write: 8 } as const;
const OpFlag = { mkdirTarget: 1, mkfileTarget: 2, readonly: 4, noSymlinks: 8, idmap: 16 } as const;
const OomDriver = { v1: 1, v2: 2 } as const;
const HookKind = { createContainer: 1, startContainer: 2 } as const;

/** CLONE_NEW* flag of each namespace type (linux/sched.h). */
export const CLONE_FLAG: Record<NamespaceType, number> = {
  mount: 0x00020000,
  uts: 0x04000000,
  ipc: 0x08000000,
  user: 0x10000000,
  pid: 0x20000000,
  network: 0x40000000,
  cgroup: 0x02000000,
};

/**
 * The plan's bytes, written into one growing buffer: a plan is a few hundred small fields, and a
 * Buffer for each of them (then concatenated) cost more than the rest of a container's create.
 */
class PlanWriter {
  private buf = Buffer.allocUnsafe(16 * 1024);
  private len = 0;

  constructor() {
    this.bytes(Buffer.from(MAGIC, 'latin1'));
  }

  private reserve(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.len + n));
    this.buf.copy(grown, 0, 0, this.len);
    this.buf = grown;
  }

  /** A record: its tag, its payload's length, and the payload `write` appends. */
  record(tag: number, write: () => void): void {
    this.u32(tag);
    const lengthAt = this.len;
    this.u32(0);
    write();
    this.buf.writeUInt32LE(this.len - lengthAt - 4, lengthAt);
  }

  u32(value: number): void {
    this.reserve(4);
    this.len = this.buf.writeUInt32LE(value >>> 0, this.len);
  }

  i32(value: number): void {
    this.reserve(4);
    this.len = this.buf.writeInt32LE(value, this.len);
  }

  u64(value: bigint): void {
    this.reserve(8);
    this.len = this.buf.writeBigUInt64LE(BigInt.asUintN(64, value), this.len);
  }

  bytes(value: Uint8Array): void {
    this.reserve(value.length);
    this.buf.set(value, this.len);
    this.len += value.length;
  }

  /** UTF-8, without a terminator: the record's or the prefix's length delimits it. */
  string(value: string): void {
    if (value.includes('\0')) throw new RangeError(`spawn plan string contains a NUL byte: ${JSON.stringify(value)}`);
    const size = Buffer.byteLength(value, 'utf8');
    this.reserve(size);
    this.len += this.buf.write(value, this.len, 'utf8');
  }

  lengthPrefixed(value: string): void {
    const lengthAt = this.len;
    this.u32(0);
    this.string(value);
    this.buf.writeUInt32LE(this.len - lengthAt - 4, lengthAt);
  }

  stringRecord(tag: number, value: string): void {
    this.record(tag, () => {
      this.string(value);
    });
  }

  u32Record(tag: number, value: number): void {
    this.record(tag, () => {
      this.u32(value);
    });
  }

  finish(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.len));
  }
}

function capMask(caps: number[]): bigint {
  return caps.reduce((mask, cap) => mask | (1n << BigInt(cap)), 0n);
}

function idMap(mappings: SpawnPlan['uidMappings']): string {
  return mappings.map((m) => `${m.containerID} ${m.hostID} ${m.size}\n`).join('');
}

function writeOp(w: PlanWriter, op: FsOp): void {
  let flags = 0;
  let mountFlags = 0n;
  let mode = 0;
  let major = 0;
  let minor = 0;
  let source = '';
  let fstype = '';
  let data = '';
  switch (op.kind) {
    case 'mount':
      ({ source, fstype, data } = op);
      mountFlags = op.flags;
      if (op.createTarget === 'dir') flags |= OpFlag.mkdirTarget;
      if (op.createTarget === 'file') flags |= OpFlag.mkfileTarget;
      if (op.readonly) flags |= OpFlag.readonly;
      if (op.noSymlinks) flags |= OpFlag.noSymlinks;
      if (op.idmap) flags |= OpFlag.idmap;
      break;
    case 'mkdir':
      mode = op.mode;
      break;
    case 'mknod':
      ({ mode, major, minor } = op);
      break;
    case 'symlink':
      source = op.linkTarget;
      break;
    case 'write':
      data = op.data;
      break;
    case 'mask':
    case 'readonly':
    case 'chdir':
      break;
  }
  w.u32(OpKind[op.kind]);
  w.u32(flags);
  w.u64(mountFlags);
  w.u32(mode);
  w.u32(major);
  w.u32(minor);
  w.lengthPrefixed(source);
  w.lengthPrefixed(op.target);
  w.lengthPrefixed(fstype);
  w.lengthPrefixed(data);
}

/** `struct sock_filter[]` in the host's (little-endian) layout: u16 code, u8 jt, u8 jf, u32 k. */
function encodeFilter(filter: readonly SockFilter[]): Buffer {
  const b = Buffer.alloc(filter.length * 8);
  filter.forEach((insn, i) => {
    b.writeUInt16LE(insn.code, i * 8);
    b.writeUInt8(insn.jt, i * 8 + 2);
    b.writeUInt8(insn.jf, i * 8 + 3);
    b.writeUInt32LE(insn.k >>> 0, i * 8 + 4);
  });
  return b;
}

/** Serialises a plan for `tsdock-monitor`. Throws RangeError on a string containing NUL. */
export function encodePlan(plan: SpawnPlan): Buffer {
  const w = new PlanWriter();
  for (const arg of plan.args) w.stringRecord(Tag.arg, arg);
  for (const env of plan.env) w.stringRecord(Tag.env, env);
  w.stringRecord(Tag.cwd, plan.cwd);
  if (plan.hostname !== undefined) w.stringRecord(Tag.hostname, plan.hostname);
  if (plan.rootfs !== undefined) w.stringRecord(Tag.rootfs, plan.rootfs);
  w.u32Record(
    Tag.namespaces,
    plan.namespaces.reduce((flags, ns) => flags | CLONE_FLAG[ns], 0),
  );
  for (const join of plan.joinNamespaces) {
    w.record(Tag.nsJoin, () => {
      w.u32(CLONE_FLAG[join.type]);
      w.string(join.path);
    });
  }
  w.u32Record(Tag.uid, plan.user.uid);
  w.u32Record(Tag.gid, plan.user.gid);
  for (const gid of plan.user.additionalGids) w.u32Record(Tag.additionalGid, gid);
  if (plan.uidMappings.length > 0) w.stringRecord(Tag.uidMap, idMap(plan.uidMappings));
  if (plan.gidMappings.length > 0) w.stringRecord(Tag.gidMap, idMap(plan.gidMappings));
  const c = plan.capabilities;
  w.record(Tag.caps, () => {
    for (const set of [c.bounding, c.effective, c.permitted, c.inheritable, c.ambient]) w.u64(capMask(set));
  });
  w.u32Record(Tag.noNewPrivs, plan.noNewPrivileges ? 1 : 0);
  for (const r of plan.rlimits) {
    w.record(Tag.rlimit, () => {
      w.u32(r.resource);
      w.u64(r.soft);
      w.u64(r.hard);
    });
  }
  const { oomScoreAdj } = plan;
  if (oomScoreAdj !== undefined) {
    w.record(Tag.oomScoreAdj, () => {
      w.i32(oomScoreAdj);
    });
  }
  for (const procs of plan.cgroupProcs) w.stringRecord(Tag.cgroupProcs, procs);
  w.record(Tag.propagation, () => {
    w.u64(plan.rootfsPropagation);
  });
  plan.rootfsOps.forEach((op, index) => {
    w.record(Tag.rootfsOp, () => {
      writeOp(w, op);
    });
    if (op.kind === 'mount' && op.idmap === true && op.idmapMappings !== undefined) {
      const { uid, gid } = op.idmapMappings;
      w.record(Tag.mountIdmap, () => {
        w.u32(index);
        w.lengthPrefixed(idMap(uid));
        w.lengthPrefixed(idMap(gid));
      });
    }
  });
  for (const op of plan.containerOps) {
    w.record(Tag.containerOp, () => {
      writeOp(w, op);
    });
  }
  w.u32Record(Tag.readonlyRootfs, plan.readonlyRootfs ? 1 : 0);
  w.u32Record(Tag.loopbackUp, plan.loopbackUp ? 1 : 0);
  for (const dir of plan.cgroupDirs) w.stringRecord(Tag.cgroupDir, dir);
  const { oom, seccomp, terminal } = plan;
  if (oom) {
    w.record(Tag.oom, () => {
      w.u32(OomDriver[oom.driver]);
      w.string(oom.path);
    });
  }
  if (plan.exitFile !== undefined) w.stringRecord(Tag.exitFile, plan.exitFile);
  if (seccomp !== undefined) {
    w.record(Tag.seccomp, () => {
      w.bytes(encodeFilter(seccomp));
    });
  }
  if (plan.startSocket !== undefined) w.stringRecord(Tag.startSocket, plan.startSocket);
  if (plan.preserveFds !== undefined && plan.preserveFds > 0) w.u32Record(Tag.preserveFds, plan.preserveFds);
  if (terminal !== undefined) {
    w.record(Tag.terminal, () => {
      w.u32(terminal.rows);
      w.u32(terminal.cols);
    });
  }
  for (const h of plan.hooks ?? []) {
    w.record(Tag.hook, () => {
      for (const n of [HookKind[h.kind], h.timeout ?? 0, h.args.length, h.env.length]) w.u32(n);
      for (const s of [h.path, ...h.args, ...h.env]) w.lengthPrefixed(s);
    });
  }
  if (plan.hookState !== undefined) w.stringRecord(Tag.hookState, plan.hookState);
  if (plan.runtimeHooks === true) w.u32Record(Tag.runtimeHooks, 1);
  return w.finish();
}
