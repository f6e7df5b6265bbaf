/**
 * The part of an OCI runtime-spec `config.json` tsdock-runtime honours, and its validation. The
 * file comes from whoever wrote the bundle, so every field is checked before it is used: a wrong
 * type is one line naming the field (`config.json: process.args[1]: expected a string`).
 * Unknown fields are ignored, as the spec asks of runtimes.
 */
import { TsdockError } from '../errors.js';

export interface OciUser {
  uid: number;
  gid: number;
  additionalGids?: number[];
}

export interface OciCapabilities {
  bounding?: string[];
  effective?: string[];
  permitted?: string[];
  inheritable?: string[];
  ambient?: string[];
}

export interface OciRlimit {
  type: string;
  soft: number;
  hard: number;
}

export interface OciProcess {
  terminal?: boolean;
  consoleSize?: { height: number; width: number };
  args: string[];
  env?: string[];
  cwd: string;
  user: OciUser;
  capabilities?: OciCapabilities;
  rlimits?: OciRlimit[];
  noNewPrivileges?: boolean;
  oomScoreAdj?: number;
}

export interface OciMount {
  destination: string;
  type?: string;
  source?: string;
  options?: string[];
  /** runtime-spec 1.1: an idmapped bind mount, on-disk ids mapped as a user namespace's are. */
  uidMappings?: OciIdMapping[];
  gidMappings?: OciIdMapping[];
}

export interface OciNamespace {
  type: string;
  path?: string;
}

export interface OciIdMapping {
  containerID: number;
  hostID: number;
  size: number;
}

export interface OciDevice {
  type: string;
  path: string;
  major?: number;
  minor?: number;
  fileMode?: number;
  uid?: number;
  gid?: number;
}

export interface OciDeviceRule {
  allow: boolean;
  type?: string;
  major?: number;
  minor?: number;
  access?: string;
}

export interface OciResources {
  memory?: { limit?: number; swap?: number; reservation?: number };
  cpu?: { shares?: number; quota?: number; period?: number; cpus?: string; mems?: string };
  pids?: { limit: number };
  devices?: OciDeviceRule[];
}

export interface OciHook {
  path: string;
  args?: string[];
  env?: string[];
  timeout?: number;
}

export const HOOK_KINDS = [
  'prestart',
  'createRuntime',
  'createContainer',
  'startContainer',
  'poststart',
  'poststop',
] as const;
export type HookKind = (typeof HOOK_KINDS)[number];
export type OciHooks = Partial<Record<HookKind, OciHook[]>>;

export interface OciLinux {
  namespaces?: OciNamespace[];
  uidMappings?: OciIdMapping[];
  gidMappings?: OciIdMapping[];
  devices?: OciDevice[];
  cgroupsPath?: string;
  resources?: OciResources;
  sysctl?: Record<string, string>;
  /** Kept as the raw JSON value: the seccomp profile parser validates it. */
  seccomp?: unknown;
  rootfsPropagation?: string;
  maskedPaths?: string[];
  readonlyPaths?: string[];
}

export interface OciSpec {
  ociVersion: string;
  root: { path: string; readonly?: boolean };
  process: OciProcess;
  hostname?: string;
  mounts?: OciMount[];
  hooks?: OciHooks;
  annotations?: Record<string, string>;
  linux: OciLinux;
}

type Json = Record<string, unknown>;

class Reader {
  constructor(private readonly file: string) {}

  fail(where: string, expected: string): never {
    throw new TsdockError('INVALID_ARGUMENT', `${this.file}: ${where}: expected ${expected}`);
  }

  obj(v: unknown, where: string): Json {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) this.fail(where, 'an object');
    return v as Json;
  }

  optObj(v: unknown, where: string): Json | undefined {
    return v === undefined || v === null ? undefined : this.obj(v, where);
  }

  str(v: unknown, where: string): string {
    if (typeof v !== 'string') this.fail(where, 'a string');
    return v;
  }

  optStr(v: unknown, where: string): string | undefined {
    return v === undefined ? undefined : this.str(v, where);
  }

  bool(v: unknown, where: string): boolean | undefined {
    if (v === undefined) return undefined;
    if (typeof v !== 'boolean') this.fail(where, 'true or false');
    return v;
  }

  /** An integer; `uint` for ids, sizes and limits (the spec's uint32/uint64 fields). */
  int(v: unknown, where: string, uint = false): number {
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || (uint && v < 0)) {
      this.fail(where, uint ? 'a non-negative integer' : 'an integer');
    }
    return v;
  }

  optInt(v: unknown, where: string, uint = false): number | undefined {
    return v === undefined || v === null ? undefined : this.int(v, where, uint);
  }

  list<T>(v: unknown, where: string, item: (x: unknown, where: string) => T): T[] | undefined {
    if (v === undefined || v === null) return undefined;
    if (!Array.isArray(v)) this.fail(where, 'a list');
    return v.map((x, i) => item(x, `${where}[${String(i)}]`));
  }

  strings(v: unknown, where: string): string[] | undefined {
    return this.list(v, where, (x, w) => this.str(x, w));
  }

  stringMap(v: unknown, where: string): Record<string, string> | undefined {
    const o = this.optObj(v, where);
    if (o === undefined) return undefined;
    for (const [k, x] of Object.entries(o)) this.str(x, `${where}.${k}`);
    return o as Record<string, string>;
  }
}

function processOf(r: Reader, v: unknown): OciProcess {
  const p = r.obj(v, 'process');
  const user = r.obj(p.user ?? {}, 'process.user');
  const caps = r.optObj(p.capabilities, 'process.capabilities');
  const args = r.strings(p.args, 'process.args') ?? [];
  if (args.length === 0) r.fail('process.args', 'at least one argument');
  const cwd = r.str(p.cwd ?? '/', 'process.cwd');
  if (!cwd.startsWith('/')) r.fail('process.cwd', 'an absolute path');
  const size = r.optObj(p.consoleSize, 'process.consoleSize');
  return {
    terminal: r.bool(p.terminal, 'process.terminal'),
    consoleSize: size && {
      height: r.int(size.height ?? 0, 'process.consoleSize.height', true),
      width: r.int(size.width ?? 0, 'process.consoleSize.width', true),
    },
    args,
    env: r.strings(p.env, 'process.env'),
    cwd,
    user: {
      uid: r.int(user.uid ?? 0, 'process.user.uid', true),
      gid: r.int(user.gid ?? 0, 'process.user.gid', true),
      additionalGids: r.list(user.additionalGids, 'process.user.additionalGids', (x, w) => r.int(x, w, true)),
    },
    capabilities:
      caps === undefined
        ? undefined
        : {
            bounding: r.strings(caps.bounding, 'process.capabilities.bounding'),
            effective: r.strings(caps.effective, 'process.capabilities.effective'),
            permitted: r.strings(caps.permitted, 'process.capabilities.permitted'),
            inheritable: r.strings(caps.inheritable, 'process.capabilities.inheritable'),
            ambient: r.strings(caps.ambient, 'process.capabilities.ambient'),
          },
    rlimits: r.list(p.rlimits, 'process.rlimits', (x, w) => {
      const o = r.obj(x, w);
      return {
        type: r.str(o.type, `${w}.type`),
        soft: r.int(o.soft, `${w}.soft`, true),
        hard: r.int(o.hard, `${w}.hard`, true),
      };
    }),
    noNewPrivileges: r.bool(p.noNewPrivileges, 'process.noNewPrivileges'),
    oomScoreAdj: r.optInt(p.oomScoreAdj, 'process.oomScoreAdj'),
  };
}

function idMappings(r: Reader, v: unknown, where: string): OciIdMapping[] | undefined {
  return r.list(v, where, (x, w) => {
    const o = r.obj(x, w);
    return {
      containerID: r.int(o.containerID, `${w}.containerID`, true),
      hostID: r.int(o.hostID, `${w}.hostID`, true),
      size: r.int(o.size, `${w}.size`, true),
    };
  });
}

/** `linux.resources`, also the whole document of `update --resources`. */
export function resourcesOf(r: Reader, v: unknown, where: string): OciResources | undefined {
  const o = r.optObj(v, where);
  if (o === undefined) return undefined;
  const memory = r.optObj(o.memory, `${where}.memory`);
  const cpu = r.optObj(o.cpu, `${where}.cpu`);
  const pids = r.optObj(o.pids, `${where}.pids`);
  return {
    memory: memory && {
      limit: r.optInt(memory.limit, `${where}.memory.limit`),
      swap: r.optInt(memory.swap, `${where}.memory.swap`),
      reservation: r.optInt(memory.reservation, `${where}.memory.reservation`),
    },
    cpu: cpu && {
      shares: r.optInt(cpu.shares, `${where}.cpu.shares`, true),
      quota: r.optInt(cpu.quota, `${where}.cpu.quota`),
      period: r.optInt(cpu.period, `${where}.cpu.period`, true),
      cpus: r.optStr(cpu.cpus, `${where}.cpu.cpus`),
      mems: r.optStr(cpu.mems, `${where}.cpu.mems`),
    },
    pids: pids && { limit: r.int(pids.limit, `${where}.pids.limit`) },
    devices: r.list(o.devices, `${where}.devices`, (x, w) => {
      const d = r.obj(x, w);
      return {
        allow: r.bool(d.allow, `${w}.allow`) ?? false,
        type: r.optStr(d.type, `${w}.type`),
        major: r.optInt(d.major, `${w}.major`),
        minor: r.optInt(d.minor, `${w}.minor`),
        access: r.optStr(d.access, `${w}.access`),
      };
    }),
  };
}

function linuxOf(r: Reader, v: unknown): OciLinux {
  const l = r.optObj(v, 'linux') ?? {};
  return {
    namespaces: r.list(l.namespaces, 'linux.namespaces', (x, w) => {
      const o = r.obj(x, w);
      return { type: r.str(o.type, `${w}.type`), path: r.optStr(o.path, `${w}.path`) };
    }),
    uidMappings: idMappings(r, l.uidMappings, 'linux.uidMappings'),
    gidMappings: idMappings(r, l.gidMappings, 'linux.gidMappings'),
    devices: r.list(l.devices, 'linux.devices', (x, w) => {
      const o = r.obj(x, w);
      return {
        type: r.str(o.type, `${w}.type`),
        path: r.str(o.path, `${w}.path`),
        major: r.optInt(o.major, `${w}.major`, true),
        minor: r.optInt(o.minor, `${w}.minor`, true),
        fileMode: r.optInt(o.fileMode, `${w}.fileMode`, true),
        uid: r.optInt(o.uid, `${w}.uid`, true),
        gid: r.optInt(o.gid, `${w}.gid`, true),
      };
    }),
    cgroupsPath: r.optStr(l.cgroupsPath, 'linux.cgroupsPath'),
    resources: resourcesOf(r, l.resources, 'linux.resources'),
    sysctl: r.stringMap(l.sysctl, 'linux.sysctl'),
    seccomp: l.seccomp ?? undefined,
    rootfsPropagation: r.optStr(l.rootfsPropagation, 'linux.rootfsPropagation'),
    maskedPaths: r.strings(l.maskedPaths, 'linux.maskedPaths'),
    readonlyPaths: r.strings(l.readonlyPaths, 'linux.readonlyPaths'),
  };
}

function hooksOf(r: Reader, v: unknown): OciHooks | undefined {
  const o = r.optObj(v, 'hooks');
  if (o === undefined) return undefined;
  const hooks: OciHooks = {};
  for (const kind of HOOK_KINDS) {
    hooks[kind] = r.list(o[kind], `hooks.${kind}`, (x, w) => {
      const h = r.obj(x, w);
      return {
        path: r.str(h.path, `${w}.path`),
        args: r.strings(h.args, `${w}.args`),
        env: r.strings(h.env, `${w}.env`),
        timeout: r.optInt(h.timeout, `${w}.timeout`, true),
      };
    });
  }
  return hooks;
}

/** Parses and checks a bundle's `config.json` text; `file` names it in messages. */
export function parseSpec(text: string, file = 'config.json'): OciSpec {
  const r = new Reader(file);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new TsdockError('INVALID_ARGUMENT', `${file}: not JSON: ${(err as Error).message}`);
  }
  const o = r.obj(json, 'the top level');
  const root = r.obj(o.root, 'root');
  return {
    ociVersion: r.str(o.ociVersion, 'ociVersion'),
    root: { path: r.str(root.path, 'root.path'), readonly: r.bool(root.readonly, 'root.readonly') },
    process: processOf(r, o.process),
    hostname: r.optStr(o.hostname, 'hostname'),
    mounts: r.list(o.mounts, 'mounts', (x, w) => {
      const m = r.obj(x, w);
      const destination = r.str(m.destination, `${w}.destination`);
      if (!destination.startsWith('/')) r.fail(`${w}.destination`, 'an absolute path');
      return {
        destination,
        type: r.optStr(m.type, `${w}.type`),
        source: r.optStr(m.source, `${w}.source`),
        options: r.strings(m.options, `${w}.options`),
        uidMappings: idMappings(r, m.uidMappings, `${w}.uidMappings`),
        gidMappings: idMappings(r, m.gidMappings, `${w}.gidMappings`),
      };
    }),
    hooks: hooksOf(r, o.hooks),
    annotations: r.stringMap(o.annotations, 'annotations'),
    linux: linuxOf(r, o.linux),
  };
}

/** Parses a process.json of `exec --process`: the spec's `process` object on its own. */
export function parseProcess(text: string, file: string): OciProcess {
  const r = new Reader(file);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new TsdockError('INVALID_ARGUMENT', `${file}: not JSON: ${(err as Error).message}`);
  }
  return processOf(r, json);
}

/** Parses the `update --resources` document (a `linux.resources` object). */
export function parseResources(text: string, file: string): OciResources {
  const r = new Reader(file);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new TsdockError('INVALID_ARGUMENT', `${file}: not JSON: ${(err as Error).message}`);
  }
  return resourcesOf(r, json, 'resources') ?? {};
}
