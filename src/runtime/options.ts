/**
 * What a caller asks of one container, already typed (the CLI parses flags into this; a library
 * user builds it directly), plus the parsers for the flag forms that need one: `-v`, `--tmpfs`,
 * `-e` and `--env-file`.
 */
import { readFileSync } from 'node:fs';
import { isAbsolute, posix } from 'node:path';
import { TsdockError } from '../errors.js';
import type { CgroupLimits } from './cgroups/index.js';

/** A bind mount from the host (`-v /host:/ctr[:ro]`). */
export interface BindMount {
  source: string;
  target: string;
  readonly: boolean;
}

/** A tmpfs mount (`--tmpfs /run:size=64m`); `options` is the mount data after Docker's defaults. */
export interface TmpfsMount {
  target: string;
  options: string[];
}

export type NamespaceMode = 'private' | 'host';

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
  network?: 'none' | 'host';
  pid?: NamespaceMode;
  ipc?: NamespaceMode;
  uts?: NamespaceMode;
  userns?: NamespaceMode;
  readonlyRootfs?: boolean;
  binds?: BindMount[];
  tmpfs?: TmpfsMount[];
  capAdd?: string[];
  capDrop?: string[];
  noNewPrivileges?: boolean;
  limits?: CgroupLimits;
  /** cgroup parent: absolute from each hierarchy's root, relative from tsdock's own cgroup. */
  cgroupParent?: string;
}

/** `/a/b/` and `/a//b` are `/a/b` to the kernel; keep one spelling so mounts sort by depth. */
function cleanPath(path: string): string {
  const normal = posix.normalize(path);
  return normal.length > 1 ? normal.replace(/\/$/, '') : normal;
}

function invalid(message: string): TsdockError {
  return new TsdockError('INVALID_ARGUMENT', message);
}

/** Parses `-v /host:/ctr[:ro|rw]`. Named volumes come with the lifecycle work. */
export function parseBind(spec: string): BindMount {
  const parts = spec.split(':');
  const [source = '', target = '', mode, ...rest] = parts;
  const hint = 'expected -v /host/path:/container/path[:ro|rw]';
  if (rest.length > 0 || source === '' || target === '') throw invalid(`invalid volume "${spec}": ${hint}`);
  if (!isAbsolute(source)) {
    throw invalid(`invalid volume "${spec}": host path "${source}" must be absolute (named volumes are not supported)`);
  }
  if (!posix.isAbsolute(target)) throw invalid(`invalid volume "${spec}": container path "${target}" must be absolute`);
  if (cleanPath(target) === '/') throw invalid(`invalid volume "${spec}": cannot mount over the container's /`);
  if (mode !== undefined && mode !== 'ro' && mode !== 'rw') throw invalid(`invalid volume "${spec}": ${hint}`);
  return { source, target: cleanPath(target), readonly: mode === 'ro' };
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
