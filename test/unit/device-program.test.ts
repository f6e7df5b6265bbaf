/**
 * The cgroup v2 device program, run in a small eBPF interpreter (just the instructions it uses)
 * against a table of (type, major, minor, access) -> allowed, and checked against the v1 rules.
 */
import { describe, expect, it } from 'vitest';
import { compileDeviceProgram, EBPF, encodeEbpf, type EbpfInsn } from '../../src/runtime/cgroups/device-program.js';
import { ALL_DEVICES, deviceRulesFor } from '../../src/runtime/cgroups/devices.js';

const TYPE = { b: 1, c: 2 } as const;
const ACCESS = { m: 1, r: 2, w: 4 } as const;

function run(program: EbpfInsn[], type: 'b' | 'c', major: number, minor: number, access: string): boolean {
  const accessBits = access.split('').reduce((a, c) => a | ACCESS[c as keyof typeof ACCESS], 0);
  const ctx = [((accessBits << 16) | TYPE[type]) >>> 0, major, minor];
  const r = new Array<number>(11).fill(0);
  for (let pc = 0; pc < program.length; pc++) {
    const { code, dst, src, off, imm } = program[pc] as EbpfInsn;
    switch (code) {
      case EBPF.LDX_MEM_W:
        if (src !== 1 || off % 4 !== 0 || off > 8) throw new Error(`bad load at ${String(pc)}`);
        r[dst] = ctx[off / 4] ?? 0;
        break;
      case EBPF.ALU32_AND_K:
        r[dst] = ((r[dst] ?? 0) & imm) >>> 0;
        break;
      case EBPF.ALU32_RSH_K:
        r[dst] = (r[dst] ?? 0) >>> imm;
        break;
      case EBPF.ALU32_MOV_K:
        r[dst] = imm >>> 0;
        break;
      case EBPF.ALU32_MOV_X:
        r[dst] = r[src] ?? 0;
        break;
      case EBPF.JNE_K:
        if (r[dst] !== imm >>> 0) pc += off;
        break;
      case EBPF.EXIT:
        return r[0] === 1;
      default:
        throw new Error(`unknown opcode 0x${code.toString(16)}`);
    }
  }
  throw new Error('fell off the end');
}

describe('cgroup device program', () => {
  const loop = { type: 'b' as const, major: 7, minor: 0, permissions: 'r' };
  const program = compileDeviceProgram(deviceRulesFor([loop], false));
  it.each([
    ['c', 1, 3, 'rw', true],
    ['c', 1, 9, 'r', true],
    ['c', 136, 4, 'rw', true],
    ['c', 5, 2, 'rw', true],
    ['c', 10, 200, 'rw', false],
    ['b', 8, 0, 'r', false],
    ['b', 8, 0, 'm', true],
    ['b', 8, 0, 'mr', false],
    ['c', 4, 1, 'w', false],
    ['b', 7, 0, 'r', true],
    ['b', 7, 0, 'w', false],
    ['b', 7, 1, 'r', false],
    ['c', 7, 0, 'r', false],
  ] as const)('%s %d:%d %s -> %s', (type, major, minor, access, allowed) => {
    expect(run(program, type, major, minor, access)).toBe(allowed);
  });

  it('allows everything when privileged', () => {
    const all = compileDeviceProgram(ALL_DEVICES);
    expect(run(all, 'b', 8, 0, 'rwm')).toBe(true);
    // Nothing after an unconditional rule: the verifier refuses unreachable instructions.
    expect(all).toHaveLength(8);
  });

  it('lets a later deny override an earlier allow, as v1 does', () => {
    const p = compileDeviceProgram([
      { allow: true, type: 'a', access: 'rwm' },
      { allow: false, type: 'c', major: 1, minor: 3, access: 'w' },
    ]);
    expect(run(p, 'c', 1, 3, 'r')).toBe(true);
    expect(run(p, 'c', 1, 3, 'w')).toBe(false);
  });

  it('encodes struct bpf_insn', () => {
    expect(encodeEbpf([{ code: 0x61, dst: 2, src: 1, off: 4, imm: -1 }]).toString('hex')).toBe('61120400ffffffff');
  });
});
