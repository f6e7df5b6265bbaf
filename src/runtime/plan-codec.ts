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

class RecordWriter {
  private readonly chunks: Buffer[] = [Buffer.from(MAGIC, 'latin1')];

  record(tag: number, payload: Buffer): void {
    const head = Buffer.alloc(8);
    head.writeUInt32LE(tag, 0);
    head.writeUInt32LE(payload.length, 4);
    this.chunks.push(head, payload);
  }

  string(tag: number, value: string): void {
    this.record(tag, encodeString(value));
  }

  u32(tag: number, value: number): void {
    this.record(tag, u32(value));
  }

  finish(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

function encodeString(value: string): Buffer {
  const bytes = Buffer.from(value, 'utf8');
  if (bytes.includes(0)) throw new RangeError(`spawn plan string contains a NUL byte: ${JSON.stringify(value)}`);
  return bytes;
}

function u32(value: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(value >>> 0, 0);
  return b;
}

function u64(value: bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt.asUintN(64, value), 0);
  return b;
}

function lengthPrefixed(value: string): Buffer {
  const bytes = encodeString(value);
  return Buffer.concat([u32(bytes.length), bytes]);
}

function capMask(caps: number[]): bigint {
  return caps.reduce((mask, cap) => mask | (1n << BigInt(cap)), 0n);
}

function idMap(mappings: SpawnPlan['uidMappings']): string {
  return mappings.map((m) => `${m.containerID} ${m.hostID} ${m.size}\n`).join('');
}

function encodeOp(op: FsOp): Buffer {
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
  return Buffer.concat([
    u32(OpKind[op.kind]),
    u32(flags),
    u64(mountFlags),
    u32(mode),
    u32(major),
    u32(minor),
    lengthPrefixed(source),
    lengthPrefixed(op.target),
    lengthPrefixed(fstype),
    lengthPrefixed(data),
  ]);
}

/** `struct sock_filter[]` in the host's (little-endian) layout: u16 code, u8 jt, u8 jf, u32 k. */
export function encodeFilter(filter: readonly SockFilter[]): Buffer {
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
  const w = new RecordWriter();
  for (const arg of plan.args) w.string(Tag.arg, arg);
  for (const env of plan.env) w.string(Tag.env, env);
  w.string(Tag.cwd, plan.cwd);
  if (plan.hostname !== undefined) w.string(Tag.hostname, plan.hostname);
  if (plan.rootfs !== undefined) w.string(Tag.rootfs, plan.rootfs);
  w.u32(
    Tag.namespaces,
    plan.namespaces.reduce((flags, ns) => flags | CLONE_FLAG[ns], 0),
  );
  for (const join of plan.joinNamespaces) {
    w.record(Tag.nsJoin, Buffer.concat([u32(CLONE_FLAG[join.type]), encodeString(join.path)]));
  }
  w.u32(Tag.uid, plan.user.uid);
  w.u32(Tag.gid, plan.user.gid);
  for (const gid of plan.user.additionalGids) w.u32(Tag.additionalGid, gid);
  if (plan.uidMappings.length > 0) w.string(Tag.uidMap, idMap(plan.uidMappings));
  if (plan.gidMappings.length > 0) w.string(Tag.gidMap, idMap(plan.gidMappings));
  const c = plan.capabilities;
  w.record(
    Tag.caps,
    Buffer.concat([c.bounding, c.effective, c.permitted, c.inheritable, c.ambient].map((s) => u64(capMask(s)))),
  );
  w.u32(Tag.noNewPrivs, plan.noNewPrivileges ? 1 : 0);
  for (const r of plan.rlimits) w.record(Tag.rlimit, Buffer.concat([u32(r.resource), u64(r.soft), u64(r.hard)]));
  if (plan.oomScoreAdj !== undefined) {
    const b = Buffer.alloc(4);
    b.writeInt32LE(plan.oomScoreAdj, 0);
    w.record(Tag.oomScoreAdj, b);
  }
  for (const procs of plan.cgroupProcs) w.string(Tag.cgroupProcs, procs);
  w.record(Tag.propagation, u64(plan.rootfsPropagation));
  plan.rootfsOps.forEach((op, index) => {
    w.record(Tag.rootfsOp, encodeOp(op));
    if (op.kind === 'mount' && op.idmap === true && op.idmapMappings !== undefined) {
      const { uid, gid } = op.idmapMappings;
      w.record(Tag.mountIdmap, Buffer.concat([u32(index), lengthPrefixed(idMap(uid)), lengthPrefixed(idMap(gid))]));
    }
  });
  for (const op of plan.containerOps) w.record(Tag.containerOp, encodeOp(op));
  w.u32(Tag.readonlyRootfs, plan.readonlyRootfs ? 1 : 0);
  w.u32(Tag.loopbackUp, plan.loopbackUp ? 1 : 0);
  for (const dir of plan.cgroupDirs) w.string(Tag.cgroupDir, dir);
  if (plan.oom) w.record(Tag.oom, Buffer.concat([u32(OomDriver[plan.oom.driver]), encodeString(plan.oom.path)]));
  if (plan.exitFile !== undefined) w.string(Tag.exitFile, plan.exitFile);
  if (plan.seccomp !== undefined) w.record(Tag.seccomp, encodeFilter(plan.seccomp));
  if (plan.startSocket !== undefined) w.string(Tag.startSocket, plan.startSocket);
  if (plan.preserveFds !== undefined && plan.preserveFds > 0) w.u32(Tag.preserveFds, plan.preserveFds);
  if (plan.terminal !== undefined) {
    w.record(Tag.terminal, Buffer.concat([u32(plan.terminal.rows), u32(plan.terminal.cols)]));
  }
  for (const h of plan.hooks ?? []) {
    const head = [HookKind[h.kind], h.timeout ?? 0, h.args.length, h.env.length].map(u32);
    w.record(Tag.hook, Buffer.concat([...head, ...[h.path, ...h.args, ...h.env].map(lengthPrefixed)]));
  }
  if (plan.hookState !== undefined) w.string(Tag.hookState, plan.hookState);
  if (plan.runtimeHooks === true) w.u32(Tag.runtimeHooks, 1);
  return w.finish();
}
