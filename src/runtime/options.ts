/**
 * What a caller asks of one container, already typed (the CLI parses flags into this; a library
 * user builds it directly), plus the parsers for the flag forms that need one: `-v`, `--tmpfs`,
 * `-e` and `--env-file`.
 */
import { readFileSync, statSync } from 'node:fs';
import { isAbsolute, posix } from 'node:path';
import { TsdockError } from '../errors.js';
import type { PortSpec } from '../network/ports.js';
import type { CgroupLimits } from './cgroups/index.js';
import type { HealthcheckOptions } from './healthcheck.js';

/** A bind mount from the host (`-v /host:/ctr[:ro,idmap,U]`). */
export interface BindMount {
  source: string;
  target: string;
  readonly: boolean;
  /**
   * `idmap` (Podman's): an idmapped mount for the container's user namespace, so host id N
   * shows as N inside and the container's root writes files its host owner's ids own.
   */
  idmap?: boolean;
  /**
   * `U` (Podman's): before the container starts, chown the source recursively to the host ids
   * of the container's user (its `-u`, through the user namespace's mapping).
   */
  chown?: boolean;
  /** Set when the source is a volume's `_data` (`runtime/volume-mounts.ts`): what inspect and `rm -v` see. */
  volume?: { name: string; anonymous: boolean };
}

/**
 * A volume asked for (`-v NAME:/ctr[:opts]`, `-v /ctr`): named, made when missing, or anonymous
 * (`name` absent: a new volume with a random 64-hex name). `Runtime` turns each into a
 * {@link BindMount} of the volume's `_data` before the container is created.
 */
export interface VolumeMount {
  name?: string;
  target: string;
  readonly: boolean;
  /** As on a bind: an idmapped mount for the container's user namespace. */
  idmap?: boolean;
  /** As on a bind: chown the volume to the container user's host ids. */
  chown?: boolean;
  /** Do not copy the image's content at `target` into a new, empty volume. */
  nocopy?: boolean;
}

/** A tmpfs mount (`--tmpfs /run:size=64m`); `options` is the mount data after Docker's defaults. */
export interface TmpfsMount {
  target: string;
  options: string[];
}

export type NamespaceMode = 'private' | 'host';

/** `--userns`: `private` maps root to 100000 in every container, `auto` gives each its own range. */
export type UsernsMode = NamespaceMode | 'auto';

/** Whether the container gets a user namespace of its own. */
export function usesUserNamespace(options: { userns?: UsernsMode | undefined }): boolean {
  return options.userns === 'private' || options.userns === 'auto';
}

/** A host device node made available in the container (`--device /dev/x[:/dev/y][:rwm]`). */
export interface DeviceMapping {
  hostPath: string;
  /** Under `/dev`. */
  containerPath: string;
  /** What the cgroup allows: a non-empty subset of `rwm`. */
  permissions: string;
  type: 'c' | 'b';
  major: number;
  minor: number;
  /** The host node's permission bits, given to the container's node. */
  mode: number;
}

export interface ContainerOptions {
  /** Replaces the image's Cmd; with `entrypoint` given, the image's Cmd is dropped. */
  command?: string[];
  /** Replaces the image's Entrypoint; `[]` clears it (`--entrypoint ""`). */
  entrypoint?: string[];
  /** `KEY=value` entries applied over the image's Env, in order. */
  env?: string[];
  workdir?: string;
  /** `-u user[:group]`. */
  user?: string;
  hostname?: string;
  /**
   * `none`, `host`, `bridge` (the default network), a user network's name, `container:<name|id>`
   * (share that container's namespace) or the path of a network namespace to join (pods).
   */
  network?: string;
  /** `-p`: ports published on the host (bridge and user networks). */
  publish?: PortSpec[];
  /** `-P`: every port of the image's EXPOSE on a random host port. */
  publishAll?: boolean;
  /** `--ip`: the address on the first network. */
  ip?: string;
  /** `--mac-address`: the MAC of the first network's interface. */
  macAddress?: string;
  /** `--network-alias`: more names peers on user networks resolve to this container. */
  networkAliases?: string[];
  /** `--add-host name:ip` entries for /etc/hosts. */
  addHosts?: { name: string; ip: string }[];
  /** `--dns`, `--dns-search`: replace the host's nameservers and search domains. */
  dns?: string[];
  dnsSearch?: string[];
  pid?: NamespaceMode;
  ipc?: NamespaceMode;
  uts?: NamespaceMode;
  userns?: UsernsMode;
  readonlyRootfs?: boolean;
  binds?: BindMount[];
  /** Named and anonymous volumes; `Runtime` makes them binds (see {@link VolumeMount}). */
  volumes?: VolumeMount[];
  tmpfs?: TmpfsMount[];
  capAdd?: string[];
  capDrop?: string[];
  noNewPrivileges?: boolean;
  /**
   * `--security-opt seccomp=…`: `unconfined`, or the JSON text of a profile in Docker's format;
   * absent: tsdock's default profile. Text rather than the parsed profile, so options stay JSON.
   */
  seccomp?: string;
  /** `--privileged`: every capability and device, no seccomp, no masked or read-only paths. */
  privileged?: boolean;
  devices?: DeviceMapping[];
  limits?: CgroupLimits;
  /** cgroup parent: absolute from each hierarchy's root, relative from tsdock's own cgroup. */
  cgroupParent?: string;
  /**
   * The pod to run in (name or id; recorded as its id): the container joins the namespaces the
   * pod shares, and starting it starts the pod.
   */
  pod?: string;
  /** `-t`: a pty of the container's own as the process's terminal, served to attach clients. */
  tty?: boolean;
  /** The terminal's size at start; absent: 0x0 until a client sends its size. */
  consoleSize?: { rows: number; cols: number };
  /** `-i`: clients attached to the terminal may type into it. */
  interactive?: boolean;
  /**
   * Docker's StdinOnce, with `interactive` and no terminal: the end of an attached client's input
   * closes the container's stdin (`run -i` in the foreground, `create -i`). Without it (`run -d
   * -i`) a client's end of input is its own, and the stdin stays open for the next client.
   */
  stdinOnce?: boolean;
  /**
   * `--health-*`, `--no-healthcheck` (`test: ['NONE']`): merged field by field over the image's
   * HEALTHCHECK; the container's monitor runs the check.
   */
  healthcheck?: HealthcheckOptions;
}

/** `/a/b/` and `/a//b` are `/a/b` to the kernel; keep one spelling so mounts sort by depth. */
function cleanPath(path: string): string {
  const normal = posix.normalize(path);
  return normal.length > 1 ? normal.replace(/\/$/, '') : normal;
}

function invalid(message: string): TsdockError {
  return new TsdockError('INVALID_ARGUMENT', message);
}

/** The options `-v` takes after the container path, comma-separated (a subset of Podman's). */
const BIND_OPTIONS = ['ro', 'rw', 'idmap', 'U'] as const;
/** A volume also takes Docker's `nocopy`. */
const VOLUME_OPTIONS = [...BIND_OPTIONS, 'nocopy'] as const;

/** Docker's local volume names: two or more of these characters, not starting with `_.-`. */
const VOLUME_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

/** Whether `name` is a valid local volume name. */
export function isVolumeName(name: string): boolean {
  return VOLUME_NAME.test(name);
}

/** @throws TsdockError `INVALID_ARGUMENT` with Docker's wording for a malformed volume name. */
export function checkVolumeName(name: string): string {
  if (!isVolumeName(name)) {
    throw invalid(
      `"${name}" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`,
    );
  }
  return name;
}

/**
 * Parses `-v` in Docker's three forms: `/host:/ctr[:opts]` (a bind), `NAME:/ctr[:opts]` (a named
 * volume) and `/ctr` (an anonymous volume). OPT: `ro`, `rw`, `idmap`, `U`, and for volumes `nocopy`.
 */
export function parseVolumeFlag(spec: string): { bind: BindMount } | { volume: VolumeMount } {
  const parts = spec.split(':');
  const [first = '', target, opts, ...rest] = parts;
  const hint = 'expected -v /host/path:/container/path[:opts], -v NAME:/container/path[:opts] or -v /container/path';
  if (rest.length > 0 || first === '' || target === '') throw invalid(`invalid volume "${spec}": ${hint}`);
  if (target === undefined) {
    if (!posix.isAbsolute(first)) throw invalid(`invalid volume "${spec}": ${hint}`);
    return { volume: { target: checkTarget(spec, first), readonly: false } };
  }
  if (isAbsolute(first)) return { bind: parseBind(spec) };
  checkVolumeName(first);
  const given = checkOptions(spec, opts, VOLUME_OPTIONS, hint);
  return {
    volume: {
      name: first,
      target: checkTarget(spec, target),
      readonly: given.includes('ro'),
      ...(given.includes('idmap') ? { idmap: true } : {}),
      ...(given.includes('U') ? { chown: true } : {}),
      ...(given.includes('nocopy') ? { nocopy: true } : {}),
    },
  };
}

function checkTarget(spec: string, target: string): string {
  if (!posix.isAbsolute(target)) throw invalid(`invalid volume "${spec}": container path "${target}" must be absolute`);
  if (cleanPath(target) === '/') throw invalid(`invalid volume "${spec}": cannot mount over the container's /`);
  return cleanPath(target);
}

function checkOptions(spec: string, opts: string | undefined, known: readonly string[], hint: string): string[] {
  const given = opts === undefined ? [] : opts.split(',');
  for (const opt of given) {
    if (opt.startsWith('idmap='))
      throw invalid(`invalid volume "${spec}": idmap takes no mappings here (the container's own are used)`);
    if (!known.includes(opt)) throw invalid(`invalid volume "${spec}": ${hint}`);
  }
  if (given.includes('ro') && given.includes('rw')) throw invalid(`invalid volume "${spec}": ro and rw conflict`);
  return given;
}

/** Parses `-v /host:/ctr[:OPT[,OPT…]]` with OPT among `ro`, `rw`, `idmap`, `U`. */
export function parseBind(spec: string): BindMount {
  const parts = spec.split(':');
  const [source = '', target = '', opts, ...rest] = parts;
  const hint = 'expected -v /host/path:/container/path[:ro|rw][,idmap][,U]';
  if (rest.length > 0 || source === '' || target === '') throw invalid(`invalid volume "${spec}": ${hint}`);
  if (!isAbsolute(source)) {
    throw invalid(
      `invalid volume "${spec}": host path "${source}" must be absolute (or a volume name: see parseVolumeFlag)`,
    );
  }
  const given = checkOptions(spec, opts, BIND_OPTIONS, hint);
  return {
    source,
    target: checkTarget(spec, target),
    readonly: given.includes('ro'),
    ...(given.includes('idmap') ? { idmap: true } : {}),
    ...(given.includes('U') ? { chown: true } : {}),
  };
}

/** Linux's dev_t encoding (sysmacros.h: gnu_dev_major/gnu_dev_minor). */
function majorMinor(rdev: bigint): { major: number; minor: number } {
  return {
    major: Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn)),
    minor: Number((rdev & 0xffn) | ((rdev >> 12n) & ~0xffn)),
  };
}

/** Parses `--device /dev/x[:/dev/y][:rwm]` and reads the host node's type and numbers. */
export function parseDevice(spec: string): DeviceMapping {
  const parts = spec.split(':');
  const [hostPath = ''] = parts;
  let containerPath = hostPath;
  let permissions = 'rwm';
  const hint = 'expected --device /dev/HOST[:/dev/CONTAINER][:rwm]';
  if (parts.length === 3) [, containerPath = '', permissions = ''] = parts;
  else if (parts.length === 2 && parts[1]?.startsWith('/')) containerPath = parts[1];
  else if (parts.length === 2) permissions = parts[1] ?? '';
  else if (parts.length > 3) throw invalid(`invalid --device "${spec}": ${hint}`);
  const known = /^[rwm]+$/.test(permissions) && new Set(permissions.split('')).size === permissions.length;
  if (permissions === '' || !known) throw invalid(`invalid --device "${spec}": permissions must be a subset of rwm`);
  if (!isAbsolute(hostPath)) throw invalid(`invalid --device "${spec}": ${hint}`);
  containerPath = cleanPath(containerPath);
  if (!containerPath.startsWith('/dev/')) {
    throw invalid(`invalid --device "${spec}": the container path must be under /dev`);
  }
  let st;
  try {
    st = statSync(hostPath, { bigint: true });
  } catch (err) {
    throw invalid(`invalid --device "${spec}": ${(err as Error).message}`);
  }
  if (!st.isCharacterDevice() && !st.isBlockDevice()) {
    throw invalid(`invalid --device "${spec}": ${hostPath} is not a device node`);
  }
  return {
    hostPath,
    containerPath,
    permissions,
    type: st.isBlockDevice() ? 'b' : 'c',
    ...majorMinor(st.rdev),
    mode: Number(st.mode & 0o7777n),
  };
}

/** Docker's defaults for `--tmpfs`: noexec, nosuid, nodev unless the options say otherwise. */
const TMPFS_DEFAULTS = ['noexec', 'nosuid', 'nodev'];
const OPPOSITES: Record<string, string> = { exec: 'noexec', suid: 'nosuid', dev: 'nodev' };

/** Parses `--tmpfs /path[:opt,opt…]`. */
export function parseTmpfs(spec: string): TmpfsMount {
  const colon = spec.indexOf(':');
  const target = colon < 0 ? spec : spec.slice(0, colon);
  const given =
    colon < 0
      ? []
      : spec
          .slice(colon + 1)
          .split(',')
          .filter(Boolean);
  if (!posix.isAbsolute(target) || cleanPath(target) === '/') {
    throw invalid(`invalid --tmpfs "${spec}": expected an absolute container path other than /, e.g. /run:size=64m`);
  }
  const overridden = new Set(given.map((o) => OPPOSITES[o] ?? o));
  return { target: cleanPath(target), options: [...TMPFS_DEFAULTS.filter((o) => !overridden.has(o)), ...given] };
}

/** Parses `-e KEY=value` / `-e KEY` (takes the host's value, skipped when unset). */
export function parseEnv(spec: string, hostEnv: NodeJS.ProcessEnv = process.env): string[] {
  const eq = spec.indexOf('=');
  const key = eq < 0 ? spec : spec.slice(0, eq);
  if (key === '' || /\s/.test(key)) throw invalid(`invalid environment variable "${spec}": expected KEY=value`);
  if (eq >= 0) return [spec];
  const value = hostEnv[key];
  return value === undefined ? [] : [`${key}=${value}`];
}

/** Reads an `--env-file`: one `KEY=value` or `KEY` per line, `#` comments and blank lines ignored. */
export function readEnvFile(path: string, hostEnv: NodeJS.ProcessEnv = process.env): string[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new TsdockError('INVALID_ARGUMENT', `cannot read --env-file ${path}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  return text
    .split('\n')
    .map((line) => line.replace(/^\s+/, ''))
    .filter((line) => line !== '' && !line.startsWith('#'))
    .flatMap((line) => parseEnv(line, hostEnv));
}
