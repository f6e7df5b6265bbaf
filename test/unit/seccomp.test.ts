/**
 * The seccomp compiler, checked by running its BPF in a small interpreter of classic BPF as
 * seccomp(2) runs it: a table of (syscall, args) -> expected return value.
 */
import { describe, expect, it } from 'vitest';
import { TsdockError } from '../../src/errors.js';
import type { SockFilter } from '../../src/runtime/plan.js';
import { Assembler, BPF, SECCOMP_RET } from '../../src/runtime/seccomp/bpf.js';
import { compileSeccomp } from '../../src/runtime/seccomp/compile.js';
import { DEFAULT_SECCOMP_PROFILE, parseSeccompProfile, seccompFilter } from '../../src/runtime/seccomp/index.js';
import { resolveProfile, type SeccompProfile } from '../../src/runtime/seccomp/profile.js';
import { AUDIT_ARCH_X86_64, SYSCALLS_X86_64 } from '../../src/runtime/seccomp/syscalls-x86_64.js';
import { DEFAULT_CAPABILITIES } from '../../src/runtime/capabilities.js';

interface Call {
  nr: number;
  arch?: number;
  args?: bigint[];
}

/** Runs a seccomp program over `struct seccomp_data`; throws on anything the kernel would refuse. */
function run(program: SockFilter[], call: Call): number {
  const data = Buffer.alloc(64);
  data.writeUInt32LE(call.nr >>> 0, 0);
  data.writeUInt32LE(call.arch ?? AUDIT_ARCH_X86_64, 4);
  (call.args ?? []).forEach((a, i) => data.writeBigUInt64LE(BigInt.asUintN(64, a), 16 + 8 * i));
  let acc = 0;
  for (let pc = 0, steps = 0; pc < program.length; steps++) {
    if (steps > program.length) throw new Error('loop');
    const { code, jt, jf, k } = program[pc] as SockFilter;
    pc++;
    switch (code) {
      case BPF.LD_W_ABS:
        if (k % 4 !== 0 || k + 4 > 64) throw new Error(`bad load at ${String(pc - 1)}`);
        acc = data.readUInt32LE(k);
        break;
      case BPF.ALU_AND_K:
        acc = (acc & k) >>> 0;
        break;
      case BPF.JA:
        pc += k;
        break;
      case BPF.JEQ_K:
        pc += acc === k ? jt : jf;
        break;
      case BPF.JGT_K:
        pc += acc > k ? jt : jf;
        break;
      case BPF.JGE_K:
        pc += acc >= k ? jt : jf;
        break;
      case BPF.JSET_K:
        pc += (acc & k) !== 0 ? jt : jf;
        break;
      case BPF.RET_K:
        return k;
      default:
        throw new Error(`unknown opcode 0x${code.toString(16)}`);
    }
  }
  throw new Error('fell off the end of the program');
}

const nr = (name: string): number => {
  const n = SYSCALLS_X86_64.get(name);
  if (n === undefined) throw new Error(name);
  return n;
};
const ALLOW = SECCOMP_RET.ALLOW;
const EPERM = SECCOMP_RET.ERRNO | 1;
const ENOSYS = SECCOMP_RET.ERRNO | 38;
const KILL = SECCOMP_RET.KILL_PROCESS;

const DEFAULT_CAPS = DEFAULT_CAPABILITIES.map(String);
const withDefaultCaps = seccompFilter(DEFAULT_SECCOMP_PROFILE, { caps: DEFAULT_CAPS, kernel: '6.18.0' });
const withSysAdmin = seccompFilter(DEFAULT_SECCOMP_PROFILE, { caps: [...DEFAULT_CAPS, 'SYS_ADMIN'], kernel: '6.18.0' });

describe('default seccomp profile', () => {
  const cases: [string, Call, number, SockFilter[]?][] = [
    ['read', { nr: nr('read') }, ALLOW],
    ['execve', { nr: nr('execve') }, ALLOW],
    ['a foreign architecture is killed', { nr: nr('read'), arch: 0x40000003 }, KILL],
    ['x32 ABI', { nr: nr('read') | 0x40000000 }, ENOSYS],
    ['mount without CAP_SYS_ADMIN', { nr: nr('mount') }, EPERM],
    ['mount with CAP_SYS_ADMIN', { nr: nr('mount') }, ALLOW, withSysAdmin],
    ['unshare', { nr: nr('unshare') }, EPERM],
    ['keyctl', { nr: nr('keyctl') }, EPERM],
    ['bpf', { nr: nr('bpf') }, EPERM],
    ['userfaultfd', { nr: nr('userfaultfd') }, EPERM],
    ['kexec_load even with CAP_SYS_ADMIN', { nr: nr('kexec_load') }, EPERM, withSysAdmin],
    ['clone of a thread', { nr: nr('clone'), args: [0x3d0f00n] }, ALLOW],
    ['clone with CLONE_NEWUSER', { nr: nr('clone'), args: [0x10000000n | 0x11n] }, EPERM],
    ['clone with CLONE_NEWNS', { nr: nr('clone'), args: [0x20000n] }, EPERM],
    ['clone with CLONE_NEWUSER and CAP_SYS_ADMIN', { nr: nr('clone'), args: [0x10000000n] }, ALLOW, withSysAdmin],
    ['clone with high bits only', { nr: nr('clone'), args: [0xffffffff00000000n] }, ALLOW],
    ['clone3', { nr: nr('clone3') }, ENOSYS],
    ['clone3 with CAP_SYS_ADMIN', { nr: nr('clone3') }, ALLOW, withSysAdmin],
    ['socket AF_INET', { nr: nr('socket'), args: [2n] }, ALLOW],
    ['socket AF_VSOCK', { nr: nr('socket'), args: [40n] }, EPERM],
    ['socket AF_ALG', { nr: nr('socket'), args: [38n] }, EPERM],
    ['socket AF_VSOCK hidden in the high half', { nr: nr('socket'), args: [(1n << 32n) | 40n] }, EPERM],
    ['personality(PER_LINUX)', { nr: nr('personality'), args: [0n] }, ALLOW],
    ['personality query', { nr: nr('personality'), args: [0xffffffffn] }, ALLOW],
    ['personality(READ_IMPLIES_EXEC)', { nr: nr('personality'), args: [0x400000n] }, EPERM],
    ['ptrace (kernel >= 4.8)', { nr: nr('ptrace') }, ALLOW],
    ['an unassigned number below the highest', { nr: 400 }, ENOSYS],
    ['the number after the highest known', { nr: Math.max(...SYSCALLS_X86_64.values()) + 1 }, ENOSYS],
    ['a huge number', { nr: 0x3fffffff }, ENOSYS],
    ['nr -1', { nr: -1 }, ENOSYS],
    ['the highest known', { nr: nr('file_setattr') }, EPERM],
    ['syscall 0', { nr: 0 }, ALLOW],
  ];
  it.each(cases)('%s', (_name, call, expected, program = withDefaultCaps) => {
    expect(run(program, call).toString(16)).toBe(expected.toString(16));
  });

  it('has every allowed name in the syscall table (a typo would silently refuse a call)', () => {
    const missing = DEFAULT_SECCOMP_PROFILE.syscalls.flatMap((e) => e.names).filter((n) => !SYSCALLS_X86_64.has(n));
    expect(missing).toEqual([]);
  });

  it('fits in the kernel limit and keeps every conditional jump within 255', () => {
    expect(withSysAdmin.length).toBeLessThan(4096);
    expect(withDefaultCaps.every((i) => i.jt <= 255 && i.jf <= 255)).toBe(true);
  });

  it('gives every known syscall the same answer as a straight lookup of the profile', () => {
    const resolved = resolveProfile(DEFAULT_SECCOMP_PROFILE, { caps: DEFAULT_CAPS, kernel: '6.18.0' });
    for (const n of SYSCALLS_X86_64.values()) {
      const rules = resolved.rules.get(n);
      if (rules?.[0]?.conditions.length) continue;
      expect([n, run(withDefaultCaps, { nr: n })]).toEqual([n, rules?.[0]?.action ?? EPERM]);
    }
  });
});

describe('argument comparisons', () => {
  const big = 0x1_0000_0005n;
  const profile = (op: string, value: bigint, valueTwo = 0n): SockFilter[] =>
    compileSeccomp(
      resolveProfile(
        {
          defaultAction: 'SCMP_ACT_ERRNO',
          syscalls: [
            {
              names: ['read'],
              action: 'SCMP_ACT_ALLOW',
              args: [{ index: 2, op: op as 'SCMP_CMP_EQ', value, valueTwo }],
            },
          ],
        },
        { caps: [], kernel: '6.1' },
      ),
    );
  const table: [string, bigint, bigint, boolean][] = [
    ['SCMP_CMP_EQ', big, big, true],
    ['SCMP_CMP_EQ', big, 5n, false],
    ['SCMP_CMP_NE', big, 5n, true],
    ['SCMP_CMP_NE', big, big, false],
    ['SCMP_CMP_GT', big, big + 1n, true],
    ['SCMP_CMP_GT', big, big, false],
    ['SCMP_CMP_GT', big, 0x2_0000_0000n, true],
    ['SCMP_CMP_GT', big, 0xffff_ffffn, false],
    ['SCMP_CMP_GE', big, big, true],
    ['SCMP_CMP_GE', big, big - 1n, false],
    ['SCMP_CMP_LT', big, big - 1n, true],
    ['SCMP_CMP_LT', big, big, false],
    ['SCMP_CMP_LT', big, 0x2_0000_0000n, false],
    ['SCMP_CMP_LE', big, big, true],
    ['SCMP_CMP_LE', big, big + 1n, false],
  ];
  it.each(table)('%s %s against %s -> %s', (op, value, arg, allowed) => {
    expect(run(profile(op, value), { nr: nr('read'), args: [0n, 0n, arg] })).toBe(allowed ? ALLOW : EPERM);
  });
  it('SCMP_CMP_MASKED_EQ masks both halves', () => {
    const p = profile('SCMP_CMP_MASKED_EQ', 0xf0_0000_00f0n, 0x10_0000_0020n);
    expect(run(p, { nr: nr('read'), args: [0n, 0n, 0x1f_1234_562fn] })).toBe(ALLOW);
    expect(run(p, { nr: nr('read'), args: [0n, 0n, 0x2f_1234_562fn] })).toBe(EPERM);
    expect(run(p, { nr: nr('read'), args: [0n, 0n, 0x1f_1234_563fn] })).toBe(EPERM);
  });
  it('a default of ALLOW keeps unknown numbers allowed (a deny-list profile)', () => {
    const p = compileSeccomp(
      resolveProfile(
        { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mount'], action: 'SCMP_ACT_ERRNO', errnoRet: 13 }] },
        { caps: [], kernel: '6.1' },
      ),
    );
    expect(run(p, { nr: 999 })).toBe(ALLOW);
    expect(run(p, { nr: nr('mount') })).toBe(SECCOMP_RET.ERRNO | 13);
  });
});

describe('BPF assembler', () => {
  it('turns a conditional jump of more than 255 instructions into a long one', () => {
    const a = new Assembler();
    const far = a.label();
    const near = a.label();
    a.load(0);
    a.jump(BPF.JEQ_K, 7, far, near);
    a.place(near);
    for (let i = 0; i < 300; i++) a.ret(i);
    a.place(far);
    a.ret(0x7fff0000);
    const program = a.assemble();
    expect(program.length).toBe(1 + 3 + 300 + 1);
    expect(run(program, { nr: 7 })).toBe(0x7fff0000);
    expect(run(program, { nr: 8 })).toBe(0);
  });
});

describe('Docker JSON profiles', () => {
  const good = JSON.stringify({
    defaultAction: 'SCMP_ACT_ERRNO',
    defaultErrnoRet: 1,
    architectures: ['SCMP_ARCH_X86_64'],
    syscalls: [
      { names: ['read', 'write', 'execve', 'not_a_syscall', 'constructor', '__proto__'], action: 'SCMP_ACT_ALLOW' },
      { name: 'getpid', action: 'SCMP_ACT_ERRNO', errnoRet: 99 },
      { names: ['mount'], action: 'SCMP_ACT_ALLOW', includes: { caps: ['CAP_SYS_ADMIN'] } },
      { names: ['arch_prctl'], action: 'SCMP_ACT_ALLOW', includes: { arches: ['amd64'] } },
      { names: ['ioperm'], action: 'SCMP_ACT_ALLOW', includes: { arches: ['s390x'] } },
      { names: ['socket'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 40, op: 'SCMP_CMP_NE' }] },
    ],
  });
  it('parses and compiles one', () => {
    const program = seccompFilter(parseSeccompProfile(good), {
      caps: ['CHOWN'],
      kernel: '6.1.0',
      noNewPrivileges: true,
    });
    expect(run(program, { nr: nr('read') })).toBe(ALLOW);
    expect(run(program, { nr: nr('getpid') })).toBe(SECCOMP_RET.ERRNO | 99);
    expect(run(program, { nr: nr('mount') })).toBe(EPERM);
    expect(run(program, { nr: nr('arch_prctl') })).toBe(ALLOW);
    expect(run(program, { nr: nr('ioperm') })).toBe(EPERM);
    expect(run(program, { nr: nr('socket'), args: [40n] })).toBe(EPERM);
    expect(run(program, { nr: nr('socket'), args: [2n] })).toBe(ALLOW);
  });

  const bad: [string, unknown, RegExp][] = [
    ['not JSON', '{', /not JSON/],
    ['an array', [], /top level/],
    ['no default action', { syscalls: [] }, /defaultAction/],
    ['an unknown action', { defaultAction: 'SCMP_ACT_MAYBE' }, /defaultAction "SCMP_ACT_MAYBE"/],
    ['notify', { defaultAction: 'SCMP_ACT_ERRNO', listenerPath: '/x.sock' }, /NOTIFY/],
    ['syscalls not a list', { defaultAction: 'SCMP_ACT_ERRNO', syscalls: {} }, /syscalls must be a list/],
    [
      'an entry without names',
      { defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ action: 'SCMP_ACT_ALLOW' }] },
      /names no system call/,
    ],
    [
      'names of numbers',
      { defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: [1], action: 'SCMP_ACT_ALLOW' }] },
      /names must be/,
    ],
    [
      'arg index 6',
      {
        defaultAction: 'SCMP_ACT_ERRNO',
        syscalls: [{ names: ['read'], action: 'SCMP_ACT_ALLOW', args: [{ index: 6, value: 0, op: 'SCMP_CMP_EQ' }] }],
      },
      /index must be 0 to 5/,
    ],
    [
      'an unknown op',
      {
        defaultAction: 'SCMP_ACT_ERRNO',
        syscalls: [{ names: ['read'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 0, op: 'SCMP_CMP_LIKE' }] }],
      },
      /op "SCMP_CMP_LIKE"/,
    ],
    [
      'a negative value',
      {
        defaultAction: 'SCMP_ACT_ERRNO',
        syscalls: [{ names: ['read'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: -1, op: 'SCMP_CMP_EQ' }] }],
      },
      /non-negative integer/,
    ],
    [
      'a value past 2^53',
      {
        defaultAction: 'SCMP_ACT_ERRNO',
        syscalls: [
          { names: ['read'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 2 ** 60, op: 'SCMP_CMP_EQ' }] },
        ],
      },
      /below 2\^53/,
    ],
    [
      'seven args',
      {
        defaultAction: 'SCMP_ACT_ERRNO',
        syscalls: [
          {
            names: ['read'],
            action: 'SCMP_ACT_ALLOW',
            args: new Array(7).fill({ index: 0, value: 0, op: 'SCMP_CMP_EQ' }),
          },
        ],
      },
      /at most 6/,
    ],
    ['errno 5000', { defaultAction: 'SCMP_ACT_ERRNO', defaultErrnoRet: 5000 }, /errno number/],
    [
      'a bad minKernel',
      {
        defaultAction: 'SCMP_ACT_ERRNO',
        syscalls: [{ names: ['read'], action: 'SCMP_ACT_ALLOW', includes: { minKernel: 'soon' } }],
      },
      /minKernel/,
    ],
    ['more than 1 MiB', { defaultAction: 'SCMP_ACT_ERRNO', comment: 'x'.repeat(1 << 20) }, /larger than/],
  ];
  it.each(bad)('refuses %s', (_name, input, message) => {
    const text = typeof input === 'string' ? input : JSON.stringify(input);
    expect(() => parseSeccompProfile(text)).toThrow(message);
    expect(() => parseSeccompProfile(text)).toThrow(TsdockError);
  });

  it('refuses a profile whose program exceeds the kernel limit', () => {
    const syscalls: SeccompProfile['syscalls'] = [...SYSCALLS_X86_64.keys()].map((name) => ({
      names: [name],
      action: 'SCMP_ACT_ALLOW',
      args: [0, 1, 2, 3, 4, 5].map((index) => ({ index, op: 'SCMP_CMP_GT' as const, value: 1n << 40n, valueTwo: 0n })),
    }));
    expect(() =>
      compileSeccomp(resolveProfile({ defaultAction: 'SCMP_ACT_ERRNO', syscalls }, { caps: [], kernel: '6.1' })),
    ).toThrow(/more than the kernel's 4096/);
  });
});

describe('profiles no container could start under', () => {
  const profile = (denied: string[]): SeccompProfile => ({
    defaultAction: 'SCMP_ACT_ALLOW',
    syscalls: [{ names: denied, action: 'SCMP_ACT_ERRNO' }],
  });
  it.each([
    [['execve'], false, /refuses execve/],
    [['execve'], true, /refuses execve/],
    [['capset'], false, /refuses capset, which the container needs to start \(with no-new-privileges/],
  ])('refuses %j (no-new-privileges: %s)', (denied, nnp, message) => {
    expect(() => seccompFilter(profile(denied), { caps: [], kernel: '6.1', noNewPrivileges: nnp })).toThrow(message);
  });
  it('accepts what only matters before the filter is loaded', () => {
    expect(() =>
      seccompFilter(profile(['capset', 'setresuid']), { caps: [], kernel: '6.1', noNewPrivileges: true }),
    ).not.toThrow();
  });
  it('accepts a call allowed only for some arguments', () => {
    const conditional: SeccompProfile = {
      defaultAction: 'SCMP_ACT_ERRNO',
      syscalls: [
        {
          names: ['execve'],
          action: 'SCMP_ACT_ALLOW',
          args: [{ index: 0, value: 1n, valueTwo: 0n, op: 'SCMP_CMP_GE' }],
        },
      ],
    };
    expect(() => seccompFilter(conditional, { caps: [], kernel: '6.1', noNewPrivileges: true })).not.toThrow();
  });
});
