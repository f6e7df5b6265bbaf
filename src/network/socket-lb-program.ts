/**
 * The socket-level half of published ports: two BPF_PROG_TYPE_CGROUP_SOCK_ADDR programs and the
 * records of their services map, built here as bytes for the addon to load (`socketLbSync`).
 *
 * `connect4` runs in connect(2) of every IPv4 socket of the cgroup2 hierarchy (man 2 bpf,
 * linux/bpf.h `struct bpf_sock_addr`): a host-namespace client connecting to a published
 * address (127.0.0.1:HOSTPORT) gets the container's address written in its place, so its
 * packets need no NAT at all. It notes the original against the socket's cookie in `peers`,
 * where `getpeername4` finds it, so the client still sees the address it asked for.
 *
 * Map keys are the client's network namespace cookie (only the host's is in the map: inside a
 * container 127.0.0.1 is its own), the address and port as the socket holds them (network byte
 * order) and the protocol. A BPF_PSEUDO_MAP_FD load's `imm` names the map by its index (0
 * services, 1 peers); the addon replaces it with the map's fd.
 */
import { EBPF, type EbpfInsn } from '../ebpf.js';
import { TsdockError } from '../errors.js';
import { parseAddress } from './ipv4.js';

/** `struct bpf_sock_addr` offsets (linux/bpf.h). */
const CTX = { userIp4: 4, userPort: 24, protocol: 36 } as const;
/** Helper ids (linux/bpf.h `__BPF_FUNC_MAPPER`). */
const HELPER = { mapLookup: 1, mapUpdate: 2, socketCookie: 46, netnsCookie: 122 } as const;
export const MAP_INDEX = { services: 0, peers: 1 } as const;
const IPPROTO = { tcp: 6, udp: 17 } as const;

const i = (code: number, dst: number, src: number, off: number, imm: number): EbpfInsn => ({
  code,
  dst,
  src,
  off,
  imm,
});
const loadMap = (index: number): EbpfInsn[] => [i(EBPF.LD_IMM64, 1, EBPF.PSEUDO_MAP_FD, 0, index), i(0, 0, 0, 0, 0)];
const stackPointer = (reg: number, off: number): EbpfInsn[] => [
  i(EBPF.MOV64_X, reg, 10, 0, 0),
  i(EBPF.ADD64_K, reg, 0, 0, off),
];
const copyWord = (dst: number, dstOff: number, src: number, srcOff: number): EbpfInsn[] => [
  i(EBPF.LDX_MEM_W, 2, src, srcOff, 0),
  i(EBPF.STX_MEM_W, dst, 2, dstOff, 0),
];
/** Sock_addr programs must return 1 from getpeername; from connect, 1 lets it proceed. */
const ALLOW: EbpfInsn[] = [i(EBPF.ALU32_MOV_K, 0, 0, 0, 1), i(EBPF.EXIT, 0, 0, 0, 0)];

/** r0 == 0 jumps to ALLOW, which the program ends with: `rest` is what lies in between. */
const unlessNull = (rest: EbpfInsn[]): EbpfInsn[] => [i(EBPF.JEQ_K, 0, 0, rest.length, 0), ...rest];

/**
 * connect4. Stack: services key at -16 (netns cookie u64, address u32, port u16, protocol
 * u16), peers key at -32 (socket cookie u64, address u32, port u32), peers value at -40.
 */
export function connectProgram(): EbpfInsn[] {
  return [
    i(EBPF.MOV64_X, 6, 1, 0, 0),
    i(EBPF.CALL, 0, 0, 0, HELPER.netnsCookie),
    i(EBPF.STX_MEM_DW, 10, 0, -16, 0),
    ...copyWord(10, -8, 6, CTX.userIp4),
    i(EBPF.LDX_MEM_W, 2, 6, CTX.userPort, 0),
    i(EBPF.STX_MEM_H, 10, 2, -4, 0),
    i(EBPF.LDX_MEM_W, 2, 6, CTX.protocol, 0),
    i(EBPF.STX_MEM_H, 10, 2, -2, 0),
    ...loadMap(MAP_INDEX.services),
    ...stackPointer(2, -16),
    i(EBPF.CALL, 0, 0, 0, HELPER.mapLookup),
    ...unlessNull([
      i(EBPF.MOV64_X, 7, 0, 0, 0),
      i(EBPF.MOV64_X, 1, 6, 0, 0),
      i(EBPF.CALL, 0, 0, 0, HELPER.socketCookie),
      i(EBPF.STX_MEM_DW, 10, 0, -32, 0),
      ...copyWord(10, -24, 7, 0),
      ...copyWord(10, -20, 7, 4),
      ...copyWord(10, -40, 6, CTX.userIp4),
      ...copyWord(10, -36, 6, CTX.userPort),
      ...loadMap(MAP_INDEX.peers),
      ...stackPointer(2, -32),
      ...stackPointer(3, -40),
      i(EBPF.MOV64_K, 4, 0, 0, 0), // BPF_ANY
      i(EBPF.CALL, 0, 0, 0, HELPER.mapUpdate),
      ...copyWord(6, CTX.userIp4, 7, 0),
      ...copyWord(6, CTX.userPort, 7, 4),
    ]),
    ...ALLOW,
  ];
}

/** getpeername4: a socket connect4 redirected reports the address it asked for. */
export function getpeernameProgram(): EbpfInsn[] {
  return [
    i(EBPF.MOV64_X, 6, 1, 0, 0),
    i(EBPF.CALL, 0, 0, 0, HELPER.socketCookie),
    i(EBPF.STX_MEM_DW, 10, 0, -16, 0),
    ...copyWord(10, -8, 6, CTX.userIp4),
    ...copyWord(10, -4, 6, CTX.userPort),
    ...loadMap(MAP_INDEX.peers),
    ...stackPointer(2, -16),
    i(EBPF.CALL, 0, 0, 0, HELPER.mapLookup),
    ...unlessNull([i(EBPF.MOV64_X, 7, 0, 0, 0), ...copyWord(6, CTX.userIp4, 7, 0), ...copyWord(6, CTX.userPort, 7, 4)]),
    ...ALLOW,
  ];
}

/** One published address as a local client reaches it, and the container's address behind it. */
export interface SocketService {
  ip: string;
  port: number;
  protocol: 'tcp' | 'udp';
  backendIp: string;
  backendPort: number;
}

function ipBytes(ip: string): Buffer {
  const n = parseAddress(ip);
  if (n === undefined) throw new TsdockError('INVALID_ARGUMENT', `invalid IPv4 address "${ip}"`);
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}

/**
 * The services map's records: a 16-byte key (8 bytes of netns cookie the addon fills in, the
 * address, the port as the socket holds it, the protocol as a little-endian u16, as the
 * program stores `ctx->protocol`) and an 8-byte value (the address, then the port as the u32
 * `ctx->user_port` holds it: network order in its first two bytes).
 */
export function encodeServices(services: readonly SocketService[]): Buffer {
  const b = Buffer.alloc(services.length * 24);
  services.forEach((s, n) => {
    const at = n * 24;
    ipBytes(s.ip).copy(b, at + 8);
    b.writeUInt16BE(s.port, at + 12);
    b.writeUInt16LE(IPPROTO[s.protocol], at + 14);
    ipBytes(s.backendIp).copy(b, at + 16);
    b.writeUInt16BE(s.backendPort, at + 20);
  });
  return b;
}
