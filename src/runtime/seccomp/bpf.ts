/**
 * Classic BPF, as seccomp(2) runs it: the opcodes of linux/filter.h and linux/seccomp.h, and a
 * small assembler that turns instructions with symbolic jump targets into `struct sock_filter`s.
 *
 * Conditional jumps carry 8-bit offsets (forward only, at most 255 instructions); `ja` carries
 * 32 bits. The assembler lays the program out, and every conditional jump whose target is too
 * far becomes `jxx k, 0, 1; ja T; ja F` — repeated until nothing moves, since each rewrite only
 * ever makes the program longer.
 */
import type { SockFilter } from '../plan.js';

export const BPF = {
  LD_W_ABS: 0x20, // BPF_LD | BPF_W | BPF_ABS
  ALU_AND_K: 0x54, // BPF_ALU | BPF_AND | BPF_K
  JA: 0x05, // BPF_JMP | BPF_JA
  JEQ_K: 0x15, // BPF_JMP | BPF_JEQ | BPF_K
  JGT_K: 0x25, // BPF_JMP | BPF_JGT | BPF_K
  JGE_K: 0x35, // BPF_JMP | BPF_JGE | BPF_K
  JSET_K: 0x45, // BPF_JMP | BPF_JSET | BPF_K
  RET_K: 0x06, // BPF_RET | BPF_K
} as const;

/** BPF_MAXINSNS (linux/bpf_common.h): the most instructions seccomp(2) accepts. */
export const BPF_MAXINSNS = 4096;

/** seccomp(2) return values: the action in the high 16 bits, its data in the low 16. */
export const SECCOMP_RET = {
  KILL_PROCESS: 0x80000000,
  KILL_THREAD: 0x00000000,
  TRAP: 0x00030000,
  ERRNO: 0x00050000,
  USER_NOTIF: 0x7fc00000,
  TRACE: 0x7ff00000,
  LOG: 0x7ffc0000,
  ALLOW: 0x7fff0000,
} as const;

/** Offsets into `struct seccomp_data` (linux/seccomp.h); arguments are u64, little-endian here. */
export const SECCOMP_DATA = {
  nr: 0,
  arch: 4,
  argLow: (index: number): number => 16 + 8 * index,
  argHigh: (index: number): number => 20 + 8 * index,
} as const;

export type Label = number & { readonly __label: unique symbol };

type Node =
  | { kind: 'insn'; insn: SockFilter }
  | { kind: 'jump'; code: number; k: number; t: Label; f: Label }
  | { kind: 'ja'; target: Label }
  | { kind: 'label'; label: Label };

/** Builds a program in order; jumps name labels placed (later) with `place`. */
export class Assembler {
  private readonly nodes: Node[] = [];
  private nextLabel = 0;

  label(): Label {
    return this.nextLabel++ as Label;
  }

  place(label: Label): void {
    this.nodes.push({ kind: 'label', label });
  }

  /** A label placed right here. */
  here(): Label {
    const label = this.label();
    this.place(label);
    return label;
  }

  load(offset: number): void {
    this.nodes.push({ kind: 'insn', insn: { code: BPF.LD_W_ABS, jt: 0, jf: 0, k: offset } });
  }

  and(mask: number): void {
    this.nodes.push({ kind: 'insn', insn: { code: BPF.ALU_AND_K, jt: 0, jf: 0, k: mask >>> 0 } });
  }

  ret(k: number): void {
    this.nodes.push({ kind: 'insn', insn: { code: BPF.RET_K, jt: 0, jf: 0, k: k >>> 0 } });
  }

  /** A conditional jump on the accumulator against k. */
  jump(code: number, k: number, t: Label, f: Label): void {
    this.nodes.push({ kind: 'jump', code, k: k >>> 0, t, f });
  }

  goto(target: Label): void {
    this.nodes.push({ kind: 'ja', target });
  }

  /** Lays the program out; throws RangeError on a label never placed or a backward jump. */
  assemble(): SockFilter[] {
    const far = new Set<number>();
    for (;;) {
      const { at, size } = this.layout(far);
      const before = far.size;
      this.nodes.forEach((node, i) => {
        if (node.kind !== 'jump' || far.has(i)) return;
        const next = (at.get(i) ?? 0) + 1;
        if (offset(this.target(node.t), next) > 255 || offset(this.target(node.f), next) > 255) far.add(i);
      });
      if (far.size === before) return this.emit(far, at, size);
    }
  }

  private labelsAt = new Map<Label, number>();

  private target(label: Label): number {
    const pc = this.labelsAt.get(label);
    if (pc === undefined) throw new RangeError(`BPF label ${String(label)} is never placed`);
    return pc;
  }

  private layout(far: ReadonlySet<number>): { at: Map<number, number>; size: number } {
    const at = new Map<number, number>();
    this.labelsAt = new Map();
    let pc = 0;
    this.nodes.forEach((node, i) => {
      at.set(i, pc);
      if (node.kind === 'label') this.labelsAt.set(node.label, pc);
      else pc += node.kind === 'jump' && far.has(i) ? 3 : 1;
    });
    return { at, size: pc };
  }

  private emit(far: ReadonlySet<number>, at: Map<number, number>, size: number): SockFilter[] {
    const out: SockFilter[] = [];
    const ja = (pc: number, target: Label): SockFilter => ({
      code: BPF.JA,
      jt: 0,
      jf: 0,
      k: offset(this.target(target), pc + 1),
    });
    this.nodes.forEach((node, i) => {
      const pc = at.get(i) ?? 0;
      switch (node.kind) {
        case 'label':
          return;
        case 'insn':
          out.push(node.insn);
          return;
        case 'ja':
          out.push(ja(pc, node.target));
          return;
        case 'jump':
          if (far.has(i)) {
            out.push({ code: node.code, jt: 0, jf: 1, k: node.k }, ja(pc + 1, node.t), ja(pc + 2, node.f));
          } else {
            const next = pc + 1;
            out.push({
              code: node.code,
              jt: offset(this.target(node.t), next),
              jf: offset(this.target(node.f), next),
              k: node.k,
            });
          }
      }
    });
    if (out.length !== size) throw new RangeError('BPF layout changed while emitting');
    return out;
  }
}

function offset(target: number, next: number): number {
  if (target < next) throw new RangeError('BPF jumps only forward');
  return target - next;
}
