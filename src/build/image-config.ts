/**
 * The image config as a build changes it: the metadata instructions (ENV, LABEL, WORKDIR, USER,
 * CMD, ENTRYPOINT, EXPOSE, VOLUME, STOPSIGNAL, HEALTHCHECK, SHELL, ONBUILD) are pure functions
 * from one config to the next. Words are expanded by the caller's `expand`, with the variables
 * in effect before the instruction, as Docker does.
 */
import { posix } from 'node:path';
import { TsdockError } from '../errors.js';
import type { HealthConfig, ImageConfig } from '../image/oci.js';
import type { CommandForm, Instruction } from './dockerfile/types.js';

/** The image config's `config` object with the Docker fields a build also keeps. */
export interface BuildConfig extends ImageConfig {
  /** SHELL: what shell-form RUN, CMD and ENTRYPOINT run under (Docker's extension). */
  Shell?: string[];
  /** ONBUILD triggers, run when another build starts FROM this image. */
  OnBuild?: string[];
}

export const DEFAULT_SHELL: readonly string[] = ['/bin/sh', '-c'];

/** The state of a stage besides its layers. */
export interface ConfigState {
  config: BuildConfig;
  /** Whether this stage set CMD (so a later ENTRYPOINT keeps it). */
  cmdSet: boolean;
}

/** Expands a raw word with the variables in effect at this instruction. */
export type ExpandWord = (raw: string) => string;

/** `exec` args as given, `shell` form under the stage's SHELL. */
export function commandArgs(command: CommandForm, config: BuildConfig): string[] {
  if (command.form === 'exec') return [...command.args];
  return [...(config.Shell ?? DEFAULT_SHELL), command.script];
}

/** The Env entries as a map (last wins), and back. */
export function envMap(config: BuildConfig): Map<string, string> {
  const map = new Map<string, string>();
  for (const entry of config.Env ?? []) {
    const eq = entry.indexOf('=');
    map.set(eq < 0 ? entry : entry.slice(0, eq), eq < 0 ? '' : entry.slice(eq + 1));
  }
  return map;
}

function withEnv(config: BuildConfig, pairs: [string, string][]): BuildConfig {
  const env = envMap(config);
  for (const [k, v] of pairs) env.set(k, v);
  return { ...config, Env: [...env].map(([k, v]) => `${k}=${v}`) };
}

/** `80`, `80/udp`, `8000-8002/tcp` -> `80/tcp`… (Docker's nat.ParsePortSpecs, ports only). */
export function exposedPortKeys(spec: string): string[] {
  const match = /^(\d+)(?:-(\d+))?(?:\/(tcp|udp|sctp))?$/i.exec(spec);
  const first = Number(match?.[1]);
  const last = match?.[2] === undefined ? first : Number(match[2]);
  if (match === null || first < 1 || last > 65535 || last < first) {
    throw new TsdockError('INVALID_ARGUMENT', `EXPOSE ${spec}: expected PORT[-PORT][/tcp|udp|sctp]`);
  }
  const proto = (match[3] ?? 'tcp').toLowerCase();
  const keys: string[] = [];
  for (let port = first; port <= last; port++) keys.push(`${port}/${proto}`);
  return keys;
}

/** WORKDIR: relative paths build on the current working directory. */
export function resolveWorkdir(current: string | undefined, path: string): string {
  const normal = posix.normalize(posix.isAbsolute(path) ? path : posix.join(current ?? '/', path));
  return normal.length > 1 ? normal.replace(/\/$/, '') : normal;
}

function healthcheck(instruction: Extract<Instruction, { kind: 'HEALTHCHECK' }>): HealthConfig {
  if (instruction.test === 'none') return { Test: ['NONE'] };
  const test =
    instruction.test.form === 'exec' ? ['CMD', ...instruction.test.args] : ['CMD-SHELL', instruction.test.script];
  const h: HealthConfig = { Test: test };
  if (instruction.intervalNs !== undefined) h.Interval = instruction.intervalNs;
  if (instruction.timeoutNs !== undefined) h.Timeout = instruction.timeoutNs;
  if (instruction.startPeriodNs !== undefined) h.StartPeriod = instruction.startPeriodNs;
  if (instruction.startIntervalNs !== undefined) h.StartInterval = instruction.startIntervalNs;
  if (instruction.retries !== undefined) h.Retries = instruction.retries;
  return h;
}

/**
 * Applies one metadata instruction. RUN, COPY, ADD, ARG and FROM are not metadata: the caller
 * handles them (it gets the state back unchanged).
 */
export function applyMetadata(state: ConfigState, instruction: Instruction, expand: ExpandWord): ConfigState {
  const { config } = state;
  switch (instruction.kind) {
    case 'ENV':
      return {
        ...state,
        config: withEnv(
          config,
          instruction.pairs.map(([k, v]) => [expand(k), expand(v)]),
        ),
      };
    case 'LABEL': {
      const labels = { ...config.Labels };
      for (const [k, v] of instruction.pairs) labels[expand(k)] = expand(v);
      return { ...state, config: { ...config, Labels: labels } };
    }
    case 'WORKDIR':
      return {
        ...state,
        config: { ...config, WorkingDir: resolveWorkdir(config.WorkingDir, expand(instruction.value)) },
      };
    case 'USER':
      return { ...state, config: { ...config, User: expand(instruction.value) } };
    case 'STOPSIGNAL':
      return { ...state, config: { ...config, StopSignal: expand(instruction.value) } };
    case 'CMD':
      return { config: { ...config, Cmd: commandArgs(instruction.command, config) }, cmdSet: true };
    case 'ENTRYPOINT': {
      // Docker: a new ENTRYPOINT drops a CMD inherited from the base image, not one set here.
      const next: BuildConfig = { ...config, Entrypoint: commandArgs(instruction.command, config) };
      if (!state.cmdSet) delete next.Cmd;
      return { ...state, config: next };
    }
    case 'EXPOSE': {
      const ports = { ...config.ExposedPorts };
      for (const word of instruction.values) for (const key of exposedPortKeys(expand(word))) ports[key] = {};
      return { ...state, config: { ...config, ExposedPorts: ports } };
    }
    case 'VOLUME': {
      const volumes = { ...config.Volumes };
      for (const word of instruction.values) {
        const path = expand(word);
        if (path === '') throw new TsdockError('INVALID_ARGUMENT', 'VOLUME: an empty path');
        volumes[path] = {};
      }
      return { ...state, config: { ...config, Volumes: volumes } };
    }
    case 'HEALTHCHECK':
      return { ...state, config: { ...config, Healthcheck: healthcheck(instruction) } };
    case 'SHELL':
      return { ...state, config: { ...config, Shell: [...instruction.shell] } };
    case 'ONBUILD':
      return { ...state, config: { ...config, OnBuild: [...(config.OnBuild ?? []), instruction.trigger] } };
    default:
      return state;
  }
}

/**
 * The config a built image starts from when it builds on `base`: everything but the ONBUILD
 * triggers, which run now and are not inherited (Docker's rule).
 */
export function inheritConfig(base: BuildConfig): ConfigState {
  const config = { ...base };
  delete config.OnBuild;
  return { config, cmdSet: false };
}
