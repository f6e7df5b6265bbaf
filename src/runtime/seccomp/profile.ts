/**
 * Seccomp profiles in Docker's JSON format (`--security-opt seccomp=PROFILE.json`), parsed and
 * checked as untrusted input, and resolved for one container: the entries its capabilities,
 * architecture and kernel select, as rules per system call number.
 */
import { TsdockError } from '../../errors.js';
import { SECCOMP_RET } from './bpf.js';
import { SYSCALLS_X86_64 } from './syscalls-x86_64.js';

export type CompareOp =
  'SCMP_CMP_NE' | 'SCMP_CMP_LT' | 'SCMP_CMP_LE' | 'SCMP_CMP_EQ' | 'SCMP_CMP_GE' | 'SCMP_CMP_GT' | 'SCMP_CMP_MASKED_EQ';

export const COMPARE_OPS: readonly CompareOp[] = [
  'SCMP_CMP_NE',
  'SCMP_CMP_LT',
  'SCMP_CMP_LE',
  'SCMP_CMP_EQ',
  'SCMP_CMP_GE',
  'SCMP_CMP_GT',
  'SCMP_CMP_MASKED_EQ',
];

export const ACTIONS = [
  'SCMP_ACT_KILL',
  'SCMP_ACT_KILL_PROCESS',
  'SCMP_ACT_KILL_THREAD',
  'SCMP_ACT_TRAP',
  'SCMP_ACT_ERRNO',
  'SCMP_ACT_TRACE',
  'SCMP_ACT_ALLOW',
  'SCMP_ACT_LOG',
] as const;
export type ActionName = (typeof ACTIONS)[number];

/**
 * One argument comparison. For SCMP_CMP_MASKED_EQ, `value` is the mask and `valueTwo` what the
 * masked argument must equal (libseccomp's order). `width: 32` compares only the low half: for
 * an `int` argument the kernel ignores the high one, so a 64-bit SCMP_CMP_NE on it could be
 * sidestepped by setting high bits (tsdock's own default profile uses this; Docker's JSON
 * format has no such field and is compared on 64 bits, as Docker does).
 */
export interface ArgCondition {
  index: number;
  value: bigint;
  valueTwo: bigint;
  op: CompareOp;
  width?: 32;
}

export interface EntryFilter {
  caps?: string[];
  arches?: string[];
  minKernel?: string;
}

export interface SyscallEntry {
  names: string[];
  action: ActionName;
  errnoRet?: number;
  args?: ArgCondition[];
  includes?: EntryFilter;
  excludes?: EntryFilter;
}

export interface SeccompProfile {
  defaultAction: ActionName;
  defaultErrnoRet?: number;
  syscalls: SyscallEntry[];
}

/** A rule for one system call: when every condition holds, `action` (a SECCOMP_RET_* value). */
export interface SeccompRule {
  conditions: ArgCondition[];
  action: number;
}

/** A profile for one container: rules per syscall number, in profile order; else the default. */
export interface ResolvedProfile {
  defaultAction: number;
  rules: Map<number, SeccompRule[]>;
}

/** What of the container selects profile entries (Docker's `includes`/`excludes`). */
export interface ProfileContext {
  /** Capability names, with or without `CAP_` (the container's bounding set). */
  caps: readonly string[];
  /** The running kernel's release (`uname -r`), for `minKernel`. */
  kernel: string;
}

const EPERM = 1;
const MAX_PROFILE_BYTES = 1 << 20;
const MAX_ENTRIES = 4096;
const MAX_NAMES = 1024;
/** errno values a filter can return: SECCOMP_RET_DATA is 16 bits, errno(3) stays below 4096. */
const MAX_ERRNO = 4095;
/** This host's names for itself in `includes.arches` / `excludes.arches` (Go's and uname's). */
const NATIVE_ARCHES = new Set(['amd64', 'x86_64', 'SCMP_ARCH_X86_64']);

function invalid(message: string): TsdockError {
  return new TsdockError('INVALID_ARGUMENT', `invalid seccomp profile: ${message}`);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function stringList(v: unknown, what: string, max: number): string[] {
  if (!Array.isArray(v) || v.length > max || !v.every((s): s is string => typeof s === 'string' && s.length <= 256)) {
    throw invalid(`${what} must be a list of at most ${String(max)} strings`);
  }
  return v;
}

function errnoOf(v: unknown, what: string): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > MAX_ERRNO) {
    throw invalid(`${what} must be an errno number from 0 to ${String(MAX_ERRNO)}`);
  }
  return v;
}

function actionOf(v: unknown, what: string): ActionName {
  if (typeof v !== 'string' || !(ACTIONS as readonly string[]).includes(v)) {
    throw invalid(`${what} "${String(v)}" is not one of ${ACTIONS.join(', ')}`);
  }
  return v as ActionName;
}

/** JSON numbers above 2^53 are already rounded by the parser: refuse rather than filter on a guess. */
function u64Of(v: unknown, what: string): bigint {
  if (v === undefined) return 0n;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
    throw invalid(`${what} must be a non-negative integer below 2^53`);
  }
  return BigInt(v);
}

function argOf(v: unknown, where: string): ArgCondition {
  if (!isRecord(v)) throw invalid(`${where} must be an object`);
  const { index, op } = v;
  if (typeof index !== 'number' || !Number.isInteger(index) || index < 0 || index > 5) {
    throw invalid(`${where}.index must be 0 to 5`);
  }
  if (typeof op !== 'string' || !(COMPARE_OPS as readonly string[]).includes(op)) {
    throw invalid(`${where}.op "${String(op)}" is not one of ${COMPARE_OPS.join(', ')}`);
  }
  return {
    index,
    op: op as CompareOp,
    value: u64Of(v.value, `${where}.value`),
    valueTwo: u64Of(v.valueTwo, `${where}.valueTwo`),
  };
}

function filterOf(v: unknown, where: string): EntryFilter | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isRecord(v)) throw invalid(`${where} must be an object`);
  const filter: EntryFilter = {};
  if (v.caps !== undefined && v.caps !== null) filter.caps = stringList(v.caps, `${where}.caps`, 64);
  if (v.arches !== undefined && v.arches !== null) filter.arches = stringList(v.arches, `${where}.arches`, 64);
  if (v.minKernel !== undefined && v.minKernel !== null) {
    if (typeof v.minKernel !== 'string' || !/^\d+\.\d+$/.test(v.minKernel)) {
      throw invalid(`${where}.minKernel must look like "4.8"`);
    }
    filter.minKernel = v.minKernel;
  }
  return filter;
}

function entryOf(v: unknown, i: number): SyscallEntry {
  const where = `syscalls[${String(i)}]`;
  if (!isRecord(v)) throw invalid(`${where} must be an object`);
  // Docker's older files name one call in "name".
  const names =
    v.names !== undefined && v.names !== null
      ? stringList(v.names, `${where}.names`, MAX_NAMES)
      : typeof v.name === 'string'
        ? [v.name]
        : undefined;
  if (names === undefined || names.length === 0) throw invalid(`${where} names no system call`);
  const args = v.args === undefined || v.args === null ? [] : v.args;
  if (!Array.isArray(args) || args.length > 6) throw invalid(`${where}.args must be a list of at most 6 comparisons`);
  return {
    names,
    action: actionOf(v.action, `${where}.action`),
    errnoRet: errnoOf(v.errnoRet, `${where}.errnoRet`),
    args: args.map((a, j) => argOf(a, `${where}.args[${String(j)}]`)),
    includes: filterOf(v.includes, `${where}.includes`),
    excludes: filterOf(v.excludes, `${where}.excludes`),
  };
}

/**
 * Parses a profile in Docker's JSON format. Every field is checked; unknown fields are ignored
 * (as Docker does), as are `architectures`/`archMap`, since the native one is always filtered.
 *
 * @example parseSeccompProfile('{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW"}]}')
 * @throws TsdockError `INVALID_ARGUMENT` naming the first bad field.
 */
export function parseSeccompProfile(text: string): SeccompProfile {
  if (Buffer.byteLength(text) > MAX_PROFILE_BYTES) throw invalid(`larger than ${String(MAX_PROFILE_BYTES)} bytes`);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw invalid(`not JSON: ${(err as Error).message}`);
  }
  if (!isRecord(json)) throw invalid('the top level must be an object');
  if (typeof json.listenerPath === 'string' && json.listenerPath !== '') {
    throw invalid('SCMP_ACT_NOTIFY and listenerPath are not supported');
  }
  const syscalls = json.syscalls ?? [];
  if (!Array.isArray(syscalls) || syscalls.length > MAX_ENTRIES) {
    throw invalid(`syscalls must be a list of at most ${String(MAX_ENTRIES)} entries`);
  }
  return {
    defaultAction: actionOf(json.defaultAction, 'defaultAction'),
    defaultErrnoRet: errnoOf(json.defaultErrnoRet, 'defaultErrnoRet'),
    syscalls: syscalls.map(entryOf),
  };
}

function kernelAtLeast(release: string, min: string): boolean {
  const [a = 0, b = 0] = release.split(/[.-]/).map(Number);
  const [c = 0, d = 0] = min.split('.').map(Number);
  return a > c || (a === c && b >= d);
}

function capName(name: string): string {
  const upper = name.toUpperCase();
  return upper.startsWith('CAP_') ? upper : `CAP_${upper}`;
}

/** Docker's selection: every `includes` condition must hold, and no `excludes` one. */
function selected(entry: SyscallEntry, caps: ReadonlySet<string>, kernel: string): boolean {
  const inc = entry.includes;
  const exc = entry.excludes;
  if (inc?.caps?.some((c) => !caps.has(capName(c)))) return false;
  if (inc?.arches && !inc.arches.some((a) => NATIVE_ARCHES.has(a))) return false;
  if (inc?.minKernel !== undefined && !kernelAtLeast(kernel, inc.minKernel)) return false;
  if (exc?.caps?.some((c) => caps.has(capName(c)))) return false;
  if (exc?.arches?.some((a) => NATIVE_ARCHES.has(a))) return false;
  if (exc?.minKernel !== undefined && kernelAtLeast(kernel, exc.minKernel)) return false;
  return true;
}

/** The SECCOMP_RET_* value of a profile action. */
export function actionValue(action: ActionName, errnoRet: number | undefined, defaultErrno: number): number {
  switch (action) {
    case 'SCMP_ACT_KILL':
    case 'SCMP_ACT_KILL_THREAD':
      return SECCOMP_RET.KILL_THREAD;
    case 'SCMP_ACT_KILL_PROCESS':
      return SECCOMP_RET.KILL_PROCESS;
    case 'SCMP_ACT_TRAP':
      return SECCOMP_RET.TRAP;
    case 'SCMP_ACT_ERRNO':
      return SECCOMP_RET.ERRNO | (errnoRet ?? defaultErrno);
    case 'SCMP_ACT_TRACE':
      return SECCOMP_RET.TRACE | (errnoRet ?? 0);
    case 'SCMP_ACT_ALLOW':
      return SECCOMP_RET.ALLOW;
    case 'SCMP_ACT_LOG':
      return SECCOMP_RET.LOG;
  }
}

/**
 * The rules one container gets from a profile. Names this architecture does not have are
 * skipped (Docker's profiles list every architecture's calls). Rules keep profile order and the
 * first whose conditions hold decides, so an unconditional rule ends a call's list.
 */
export function resolveProfile(profile: SeccompProfile, context: ProfileContext): ResolvedProfile {
  const defaultErrno = profile.defaultErrnoRet ?? EPERM;
  const caps = new Set(context.caps.map(capName));
  const rules = new Map<number, SeccompRule[]>();
  for (const entry of profile.syscalls) {
    if (!selected(entry, caps, context.kernel)) continue;
    const rule: SeccompRule = {
      conditions: entry.args ?? [],
      action: actionValue(entry.action, entry.errnoRet, defaultErrno),
    };
    for (const name of entry.names) {
      const nr = SYSCALLS_X86_64.get(name);
      if (nr === undefined) continue;
      const list = rules.get(nr) ?? [];
      if (list.some((r) => r.conditions.length === 0)) continue;
      list.push(rule);
      rules.set(nr, list);
    }
  }
  return { defaultAction: actionValue(profile.defaultAction, undefined, defaultErrno), rules };
}
