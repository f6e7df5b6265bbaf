/** eBPF instructions as tsdock's hand-assembled programs build them, and their wire form. */

/** One eBPF instruction (linux/bpf.h `struct bpf_insn`). */
export interface EbpfInsn {
  code: number;
  dst: number;
  src: number;
  off: number;
  imm: number;
}

/** Opcodes (linux/bpf_common.h, linux/bpf.h: class | op | source or size). */
export const EBPF = {
  LDX_MEM_W: 0x61, // BPF_LDX | BPF_MEM | BPF_W
  STX_MEM_W: 0x63,
  STX_MEM_H: 0x6b,
  STX_MEM_DW: 0x7b,
  LD_IMM64: 0x18, // BPF_LD | BPF_IMM | BPF_DW: two instructions
  ALU32_AND_K: 0x54,
  ALU32_RSH_K: 0x74,
  ALU32_MOV_K: 0xb4,
  ALU32_MOV_X: 0xbc,
  MOV64_K: 0xb7,
  MOV64_X: 0xbf,
  ADD64_K: 0x07,
  JNE_K: 0x55, // BPF_JMP | BPF_JNE | BPF_K
  JEQ_K: 0x15,
  CALL: 0x85,
  EXIT: 0x95, // BPF_JMP | BPF_EXIT
  /** `src` of an LD_IMM64 whose `imm` is a map fd (BPF_PSEUDO_MAP_FD). */
  PSEUDO_MAP_FD: 1,
} as const;

/** `struct bpf_insn[]` as bpf(2) takes it: u8 code, u8 dst:4|src:4, s16 off, s32 imm. */
export function encodeEbpf(program: readonly EbpfInsn[]): Buffer {
  const b = Buffer.alloc(program.length * 8);
  program.forEach((i, n) => {
    b.writeUInt8(i.code, n * 8);
    b.writeUInt8((i.src << 4) | i.dst, n * 8 + 1);
    b.writeInt16LE(i.off, n * 8 + 2);
    b.writeInt32LE(i.imm | 0, n * 8 + 4);
  });
  return b;
}
