/**
 * Compiles a resolved seccomp profile to a classic BPF program for seccomp(2)
 * (Documentation/userspace-api/seccomp_filter.rst). Pure: the same profile always gives the
 * same program, which the unit tests run in an interpreter.
 *
 * The program:
 *   1. the architecture: anything but AUDIT_ARCH_X86_64 is killed (its numbers mean other calls);
 *   2. the x32 ABI (nr with X32_SYSCALL_BIT) gets ENOSYS, as on a kernel built without it;
 *   3. a binary search over ranges of syscall numbers that share an outcome, ending in a shared
 *      `ret` or in the argument rules of one call;
 *   4. numbers not in the syscall table — unassigned ones and everything above the highest
 *      known — get ENOSYS when the profile's default refuses, so a libc that tries a call newer
 *      than this table falls back to an older one instead of failing on EPERM (Docker answers
 *      them with its default).
 */
import { TsdockError } from '../../errors.js';
import type { SockFilter } from '../plan.js';
import { Assembler, BPF, BPF_MAXINSNS, SECCOMP_DATA, SECCOMP_RET, type Label } from './bpf.js';
import type { ArgCondition, ResolvedProfile, SeccompRule } from './profile.js';
import { AUDIT_ARCH_X86_64, SYSCALLS_X86_64, X32_SYSCALL_BIT } from './syscalls-x86_64.js';

const ENOSYS = 38;
const RET_ENOSYS = SECCOMP_RET.ERRNO | ENOSYS;

/** A run of syscall numbers [start, next range's start) with one outcome. */
interface Range {
  start: number;
  /** `ret` of this value, or the rules of one syscall. */
  outcome: { ret: number } | { rules: SeccompRule[]; nr: number };
}

function refuses(action: number): boolean {
  return action !== SECCOMP_RET.ALLOW && action !== SECCOMP_RET.LOG;
}

function ranges(profile: ResolvedProfile): Range[] {
  const known = new Set(SYSCALLS_X86_64.values());
  const highest = Math.max(...known);
  const unknown = refuses(profile.defaultAction) ? RET_ENOSYS : profile.defaultAction;
  const out: Range[] = [];
  for (let nr = 0; nr <= highest + 1; nr++) {
    const rules = profile.rules.get(nr);
    const first = rules?.[0];
    let outcome: Range['outcome'];
    if (!known.has(nr)) outcome = { ret: unknown };
    else if (first === undefined) outcome = { ret: profile.defaultAction };
    else if (first.conditions.length === 0) outcome = { ret: first.action };
    else outcome = { rules: rules ?? [], nr };
    const last = out.at(-1);
    if (last && 'ret' in last.outcome && 'ret' in outcome && last.outcome.ret === outcome.ret) continue;
    out.push({ start: nr, outcome });
  }
  return out;
}

class Compiler {
  readonly asm = new Assembler();
  private readonly rets = new Map<number, Label>();
  private readonly chains: { label: Label; rules: SeccompRule[] }[] = [];

  constructor(private readonly defaultAction: number) {}

  /** The label of a shared `ret value`, placed at the end. */
  retLabel(value: number): Label {
    let label = this.rets.get(value);
    if (label === undefined) {
      label = this.asm.label();
      this.rets.set(value, label);
    }
    return label;
  }

  private targetOf(range: Range): Label {
    if ('ret' in range.outcome) return this.retLabel(range.outcome.ret);
    const label = this.asm.label();
    this.chains.push({ label, rules: range.outcome.rules });
    return label;
  }

  /** The label a search over rs starts at: a bare target for one range, else a fresh label. */
  private entry(rs: Range[]): Label {
    return rs.length === 1 ? this.targetOf(rs[0] as Range) : this.asm.label();
  }

  /** A binary search over rs (nr in the accumulator): each comparison halves what is left. */
  search(rs: Range[], at?: Label): void {
    if (at !== undefined) this.asm.place(at);
    if (rs.length === 1) {
      this.asm.goto(this.targetOf(rs[0] as Range));
      return;
    }
    const mid = rs.length >> 1;
    const low = rs.slice(0, mid);
    const high = rs.slice(mid);
    const f = this.entry(low);
    const t = this.entry(high);
    this.asm.jump(BPF.JGE_K, (rs[mid] as Range).start, t, f);
    if (low.length > 1) this.search(low, f);
    if (high.length > 1) this.search(high, t);
  }

  finish(): SockFilter[] {
    for (const { label, rules } of this.chains) {
      this.asm.place(label);
      for (const rule of rules) {
        const next = this.asm.label();
        for (const cond of rule.conditions) this.condition(cond, next);
        this.asm.ret(rule.action);
        this.asm.place(next);
      }
      this.asm.goto(this.retLabel(this.defaultAction));
    }
    for (const [value, label] of this.rets) {
      this.asm.place(label);
      this.asm.ret(value);
    }
    return this.asm.assemble();
  }

  /** Falls through when the condition holds, jumps to `fail` when it does not. */
  private condition(c: ArgCondition, fail: Label): void {
    const a = this.asm;
    const hi = Number((c.value >> 32n) & 0xffffffffn);
    const lo = Number(c.value & 0xffffffffn);
    const wide = c.width !== 32;
    const pass = a.label();
    switch (c.op) {
      case 'SCMP_CMP_EQ':
      case 'SCMP_CMP_NE': {
        const [onEqual, onOther] = c.op === 'SCMP_CMP_EQ' ? [pass, fail] : [fail, pass];
        if (wide) {
          a.load(SECCOMP_DATA.argHigh(c.index));
          const next = a.label();
          a.jump(BPF.JEQ_K, hi, next, onOther);
          a.place(next);
        }
        a.load(SECCOMP_DATA.argLow(c.index));
        a.jump(BPF.JEQ_K, lo, onEqual, onOther);
        break;
      }
      case 'SCMP_CMP_MASKED_EQ': {
        const vhi = Number((c.valueTwo >> 32n) & 0xffffffffn);
        const vlo = Number(c.valueTwo & 0xffffffffn);
        if (wide) {
          a.load(SECCOMP_DATA.argHigh(c.index));
          a.and(hi);
          const next = a.label();
          a.jump(BPF.JEQ_K, vhi, next, fail);
          a.place(next);
        }
        a.load(SECCOMP_DATA.argLow(c.index));
        a.and(lo);
        a.jump(BPF.JEQ_K, vlo, pass, fail);
        break;
      }
      default: {
        // Unsigned order of (hi, lo): the high halves decide unless they are equal.
        const strict = c.op === 'SCMP_CMP_GT' || c.op === 'SCMP_CMP_LE';
        const [above, notAbove] = c.op === 'SCMP_CMP_GT' || c.op === 'SCMP_CMP_GE' ? [pass, fail] : [fail, pass];
        if (wide) {
          a.load(SECCOMP_DATA.argHigh(c.index));
          const equalHigh = a.label();
          const notGreater = a.label();
          a.jump(BPF.JGT_K, hi, above, notGreater);
          a.place(notGreater);
          a.jump(BPF.JEQ_K, hi, equalHigh, notAbove);
          a.place(equalHigh);
        }
        a.load(SECCOMP_DATA.argLow(c.index));
        a.jump(strict ? BPF.JGT_K : BPF.JGE_K, lo, above, notAbove);
      }
    }
    a.place(pass);
  }
}

/**
 * Compiles a resolved profile for x86_64.
 *
 * @throws TsdockError `INVALID_ARGUMENT` when the program exceeds BPF_MAXINSNS.
 */
export function compileSeccomp(profile: ResolvedProfile): SockFilter[] {
  const c = new Compiler(profile.defaultAction);
  const a = c.asm;
  const nr = a.label();
  const x32 = a.label();
  const dispatch = a.label();
  a.load(SECCOMP_DATA.arch);
  a.jump(BPF.JEQ_K, AUDIT_ARCH_X86_64, nr, c.retLabel(SECCOMP_RET.KILL_PROCESS));
  a.place(nr);
  a.load(SECCOMP_DATA.nr);
  a.jump(BPF.JSET_K, X32_SYSCALL_BIT, x32, dispatch);
  a.place(x32);
  a.ret(RET_ENOSYS);
  a.place(dispatch);
  c.search(ranges(profile));
  const program = c.finish();
  if (program.length > BPF_MAXINSNS) {
    throw new TsdockError(
      'INVALID_ARGUMENT',
      `seccomp profile compiles to ${String(program.length)} BPF instructions, more than the kernel's ${String(BPF_MAXINSNS)}`,
    );
  }
  return program;
}
