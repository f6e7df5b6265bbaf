/**
 * The socket-level published ports: which ports a host client is redirected for, where the
 * cgroup2 root is, and the connect4 / getpeername4 programs run in a small eBPF interpreter
 * (just the instructions they use) against the services records `encodeServices` writes, so the
 * program and the map's byte layout are checked against each other.
 */
import { describe, expect, it } from 'vitest';
import { EBPF, type EbpfInsn } from '../../src/ebpf.js';
import {
  connectProgram,
  encodeServices,
  getpeernameProgram,
  MAP_INDEX,
  type SocketService,
} from '../../src/network/socket-lb-program.js';
import { cgroup2Root, socketServices } from '../../src/network/socket-lb.js';

type Value = { num: bigint } | { buf: Buffer; off: number } | { map: number };

const HOST_NETNS = 0x1111n;
const SOCKET = 0x2222n;

/** One socket's sock_addr context (struct bpf_sock_addr) and the maps the programs share. */
class Kernel {
  readonly maps: Map<string, Buffer>[] = [new Map<string, Buffer>(), new Map<string, Buffer>()];

  constructor(services: readonly SocketService[]) {
    const records = encodeServices(services);
    for (let at = 0; at < records.length; at += 24) {
      const key = Buffer.from(records.subarray(at, at + 16));
      key.writeBigUInt64LE(HOST_NETNS);
      this.maps[MAP_INDEX.services]?.set(key.toString('hex'), Buffer.from(records.subarray(at + 16, at + 24)));
    }
  }

  /** Runs `program` over a context for ip:port (protocol 6 or 17) in namespace `netns`. */
  run(program: EbpfInsn[], ip: string, port: number, protocol: number, netns = HOST_NETNS): string {
    const ctx = Buffer.alloc(72);
    Buffer.from(ip.split('.').map(Number)).copy(ctx, 4);
    ctx.writeUInt16BE(port, 24);
    ctx.writeUInt32LE(protocol, 36);
    const stack = Buffer.alloc(512);
    const r: Value[] = Array.from({ length: 11 }, () => ({ num: 0n }));
    r[1] = { buf: ctx, off: 0 };
    r[10] = { buf: stack, off: 512 };
    const ptr = (v: Value | undefined): { buf: Buffer; off: number } => {
      if (v === undefined || !('buf' in v)) throw new Error('not a pointer');
      return v;
    };
    const num = (v: Value | undefined): bigint => {
      if (v === undefined || !('num' in v)) throw new Error('not a scalar');
      return v.num;
    };
    const map = (v: Value | undefined): Map<string, Buffer> => {
      const found = v !== undefined && 'map' in v ? this.maps[v.map] : undefined;
      if (found === undefined) throw new Error('not a map');
      return found;
    };
    for (let pc = 0; ; pc++) {
      const { code, dst, src, off, imm } = program[pc] as EbpfInsn;
      switch (code) {
        case EBPF.MOV64_X:
          r[dst] = r[src] as Value;
          break;
        case EBPF.MOV64_K:
        case EBPF.ALU32_MOV_K:
          r[dst] = { num: BigInt(imm) };
          break;
        case EBPF.ADD64_K: {
          const p = ptr(r[dst]);
          r[dst] = { buf: p.buf, off: p.off + imm };
          break;
        }
        case EBPF.LDX_MEM_W: {
          const p = ptr(r[src]);
          r[dst] = { num: BigInt(p.buf.readUInt32LE(p.off + off)) };
          break;
        }
        case EBPF.STX_MEM_W:
        case EBPF.STX_MEM_H:
        case EBPF.STX_MEM_DW: {
          const p = ptr(r[dst]);
          const v = num(r[src]);
          if (code === EBPF.STX_MEM_DW) p.buf.writeBigUInt64LE(v, p.off + off);
          else if (code === EBPF.STX_MEM_W) p.buf.writeUInt32LE(Number(v & 0xffffffffn), p.off + off);
          else p.buf.writeUInt16LE(Number(v & 0xffffn), p.off + off);
          break;
        }
        case EBPF.LD_IMM64:
          expect(src).toBe(EBPF.PSEUDO_MAP_FD);
          r[dst] = { map: imm };
          pc++;
          break;
        case EBPF.JEQ_K: {
          // A pointer (a map value found) is never equal to a constant.
          const v = r[dst];
          if (v !== undefined && 'num' in v && v.num === BigInt(imm)) pc += off;
          break;
        }
        case EBPF.CALL: {
          const key = (p: Value | undefined): string => {
            const at = ptr(p);
            return at.buf.subarray(at.off, at.off + 16).toString('hex');
          };
          if (imm === 122) r[0] = { num: netns };
          else if (imm === 46) r[0] = { num: SOCKET };
          else if (imm === 1) {
            const found = map(r[1]).get(key(r[2]));
            r[0] = found === undefined ? { num: 0n } : { buf: found, off: 0 };
          } else if (imm === 2) {
            const value = ptr(r[3]);
            map(r[1]).set(key(r[2]), Buffer.from(value.buf.subarray(value.off, value.off + 8)));
            r[0] = { num: 0n };
          } else throw new Error(`helper ${String(imm)}`);
          break;
        }
        case EBPF.EXIT:
          expect(num(r[0])).toBe(1n);
          return `${[...ctx.subarray(4, 8)].join('.')}:${String(ctx.readUInt16BE(24))}`;
        default:
          throw new Error(`opcode ${code.toString(16)}`);
      }
    }
  }
}

const WEB: SocketService = { ip: '127.0.0.1', port: 8080, protocol: 'tcp', backendIp: '172.17.0.2', backendPort: 80 };

describe('connect4 and getpeername4', () => {
  it('redirect a host client to the container and report the published address as its peer', () => {
    const kernel = new Kernel([WEB, { ...WEB, port: 8443, backendPort: 443 }]);
    expect(kernel.run(connectProgram(), '127.0.0.1', 8080, 6)).toBe('172.17.0.2:80');
    expect(kernel.run(getpeernameProgram(), '172.17.0.2', 80, 6)).toBe('127.0.0.1:8080');
    expect(kernel.run(connectProgram(), '127.0.0.1', 8443, 6)).toBe('172.17.0.2:443');
  });

  it('leave other ports, protocols, addresses and namespaces alone', () => {
    const kernel = new Kernel([WEB]);
    expect(kernel.run(connectProgram(), '127.0.0.1', 8081, 6)).toBe('127.0.0.1:8081');
    expect(kernel.run(connectProgram(), '127.0.0.1', 8080, 17)).toBe('127.0.0.1:8080');
    expect(kernel.run(connectProgram(), '127.0.0.2', 8080, 6)).toBe('127.0.0.2:8080');
    expect(kernel.run(connectProgram(), '127.0.0.1', 8080, 6, 0x3333n)).toBe('127.0.0.1:8080');
    expect(kernel.run(getpeernameProgram(), '172.17.0.2', 80, 6)).toBe('172.17.0.2:80');
  });
});

describe('socketServices', () => {
  it('redirects TCP ports on every address via 127.0.0.1 and a given address as itself; not UDP', () => {
    const ports = [
      { protocol: 'tcp' as const, hostPort: 8080, containerPort: 80 },
      { protocol: 'tcp' as const, hostIp: '0.0.0.0', hostPort: 8081, containerPort: 81 },
      { protocol: 'tcp' as const, hostIp: '127.0.0.2', hostPort: 8082, containerPort: 82 },
      { protocol: 'udp' as const, hostPort: 5353, containerPort: 53 },
    ];
    expect(socketServices([{ ip: '10.0.0.2', ports }])).toEqual([
      { ip: '127.0.0.1', port: 8080, protocol: 'tcp', backendIp: '10.0.0.2', backendPort: 80 },
      { ip: '127.0.0.1', port: 8081, protocol: 'tcp', backendIp: '10.0.0.2', backendPort: 81 },
      { ip: '127.0.0.2', port: 8082, protocol: 'tcp', backendIp: '10.0.0.2', backendPort: 82 },
    ]);
  });
});

describe('cgroup2Root', () => {
  const line = (id: number, root: string, at: string, fs: string): string =>
    `${String(id)} 1 0:${String(id)} ${root} ${at} rw,nosuid - ${fs} ${fs} rw`;
  it('finds the unified hierarchy of a hybrid host, prefers /sys/fs/cgroup, skips bind mounts of subtrees', () => {
    const hybrid = [line(30, '/', '/sys/fs/cgroup', 'tmpfs'), line(31, '/', '/sys/fs/cgroup/unified', 'cgroup2')];
    expect(cgroup2Root(hybrid.join('\n'))).toBe('/sys/fs/cgroup/unified');
    const v2 = [
      line(40, '/sub', '/mnt/sub', 'cgroup2'),
      line(41, '/', '/mnt/cg', 'cgroup2'),
      line(42, '/', '/sys/fs/cgroup', 'cgroup2'),
    ];
    expect(cgroup2Root(v2.join('\n'))).toBe('/sys/fs/cgroup');
    expect(cgroup2Root(line(40, '/sub', '/mnt/sub', 'cgroup2'))).toBeUndefined();
    expect(cgroup2Root(line(30, '/', '/sys/fs/cgroup/memory', 'cgroup'))).toBeUndefined();
  });
});
