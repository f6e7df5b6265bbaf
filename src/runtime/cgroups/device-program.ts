/**
 * The device allow-list as a BPF_PROG_TYPE_CGROUP_DEVICE program, for cgroup v2, which has no
 * `devices` controller (Documentation/admin-guide/cgroup-v2.rst, "Device controller"). The kernel
 * runs it on every open and mknod of a device node with a `struct bpf_cgroup_dev_ctx`
 * (linux/bpf.h): `access_type` (access << 16 | type), `major`, `minor`; 1 allows, 0 refuses.
 *
 * Rules are matched last to first, and the first match decides: the same result as writing them
 * in order to v1's devices.allow / devices.deny. Nothing matching refuses.
 */
import { EBPF, type EbpfInsn } from '../../ebpf.js';
import type { DeviceRule } from './devices.js';

export { EBPF, encodeEbpf, type EbpfInsn } from '../../ebpf.js';

/** BPF_DEVCG_DEV_* and BPF_DEVCG_ACC_* (linux/bpf.h). */
const DEV_TYPE = { b: 1, c: 2 } as const;
const ACCESS = { m: 1, r: 2, w: 4 } as const;

const insn = (code: number, dst: number, src: number, off: number, imm: number): EbpfInsn => ({
  code,
  dst,
  src,
  off,
  imm,
});

/** Registers: r1 the context; r2 type, r3 access, r4 major, r5 minor; r0 scratch and result. */
const PROLOGUE: EbpfInsn[] = [
  insn(EBPF.LDX_MEM_W, 2, 1, 0, 0),
  insn(EBPF.ALU32_AND_K, 2, 0, 0, 0xffff),
  insn(EBPF.LDX_MEM_W, 3, 1, 0, 0),
  insn(EBPF.ALU32_RSH_K, 3, 0, 0, 16),
  insn(EBPF.LDX_MEM_W, 4, 1, 4, 0),
  insn(EBPF.LDX_MEM_W, 5, 1, 8, 0),
];

/** One rule: each check jumps past the block when it fails; the block ends by returning. */
function ruleBlock(rule: DeviceRule): EbpfInsn[] {
  const checks: EbpfInsn[][] = [];
  if (rule.type !== 'a') checks.push([insn(EBPF.JNE_K, 2, 0, 0, DEV_TYPE[rule.type])]);
  const granted = rule.access.split('').reduce((bits, c) => bits | ACCESS[c as keyof typeof ACCESS], 0);
  if (granted !== 7) {
    // Refused if any access asked for is outside the rule's.
    checks.push([
      insn(EBPF.ALU32_MOV_X, 0, 3, 0, 0),
      insn(EBPF.ALU32_AND_K, 0, 0, 0, ~granted & 7),
      insn(EBPF.JNE_K, 0, 0, 0, 0),
    ]);
  }
  if (rule.major !== undefined) checks.push([insn(EBPF.JNE_K, 4, 0, 0, rule.major)]);
  if (rule.minor !== undefined) checks.push([insn(EBPF.JNE_K, 5, 0, 0, rule.minor)]);
  const block = [...checks.flat(), insn(EBPF.ALU32_MOV_K, 0, 0, 0, rule.allow ? 1 : 0), insn(EBPF.EXIT, 0, 0, 0, 0)];
  // Each conditional jump lands just past the block: off counts from the next instruction.
  return block.map((i, at) => (i.code === EBPF.JNE_K ? { ...i, off: block.length - at - 1 } : i));
}

/**
 * Compiles device rules (as in `CgroupLimits.devices`) to a cgroup device program. A rule that
 * matches everything ends it: the verifier refuses unreachable instructions (bpf(2) EINVAL).
 */
export function compileDeviceProgram(rules: readonly DeviceRule[]): EbpfInsn[] {
  const program = [...PROLOGUE];
  for (const rule of [...rules].reverse()) {
    const block = ruleBlock(rule);
    program.push(...block);
    if (!block.some((i) => i.code === EBPF.JNE_K)) return program;
  }
  return [...program, insn(EBPF.ALU32_MOV_K, 0, 0, 0, 0), insn(EBPF.EXIT, 0, 0, 0, 0)];
}
