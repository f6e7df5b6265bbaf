/** `docker inspect`'s essentials for a container, and `docker ps`'s STATUS column. Pure. */
import type { NetworkSettings } from '../network/settings.js';
import type { ObservedContainer } from './container-ops.js';
import { networkModeOf } from './container-network.js';
import type { HealthConfig } from '../image/oci.js';
import { dockerHealthConfig, type HealthState } from './healthcheck.js';
import type { IdMapping } from './plan.js';
import type { BindMount } from './options.js';

export interface ContainerInspect {
  Id: string;
  Name: string;
  Created: string;
  Path: string;
  Args: string[];
  Image: string;
  /** Restarts by the restart policy since the last start. */
  RestartCount: number;
  State: {
    Status: string;
    Running: boolean;
    Paused: boolean;
    Restarting: boolean;
    OOMKilled: boolean;
    Dead: boolean;
    Pid: number;
    ExitCode: number;
    Error: string;
    StartedAt: string;
    FinishedAt: string;
    /**
     * tsdock's own: why the last run ended (exited, signal, oom, stop-timeout, health-kill,
     * monitor-lost).
     */
    ExitReason: string;
    /** A container with a health check: its state as of the last check. */
    Health?: HealthState;
  };
  Config: {
    Hostname: string;
    User: string;
    Env: string[];
    Cmd: string[] | null;
    Entrypoint: string[] | null;
    WorkingDir: string;
    Image: string;
    StopSignal: string;
    /** `--stop-timeout`, only when given (as Docker). */
    StopTimeout?: number;
    Tty: boolean;
    OpenStdin: boolean;
    StdinOnce: boolean;
    /** The health check run: the image's HEALTHCHECK and the `--health-*` flags merged. */
    Healthcheck?: Required<HealthConfig>;
    /** Podman's name for `--health-on-failure`. */
    HealthcheckOnFailureAction?: string;
  };
  HostConfig: {
    AutoRemove: boolean;
    RestartPolicy: { Name: string; MaximumRetryCount: number };
    NetworkMode: string;
    ReadonlyRootfs: boolean;
    CgroupParent: string;
    Memory: number;
    PidsLimit: number;
    CapAdd: string[];
    CapDrop: string[];
    /** `private` or `auto`; empty for the host's (Docker's spelling). */
    UsernsMode: string;
    /** Podman's form, `container:host:size`, when the container has a user namespace. */
    IDMappings?: { UidMap: string[]; GidMap: string[] };
  };
  /** Binds and volumes, as Docker lists them (`Name` and `Driver` for volumes only). */
  Mounts: MountPoint[];
  /** Addresses, MAC and published ports while the container is attached to a network. */
  NetworkSettings?: NetworkSettings;
}

/** One entry of `Mounts`. */
export interface MountPoint {
  Type: 'bind' | 'volume';
  Name?: string;
  Source: string;
  Destination: string;
  Driver?: 'local';
  Mode: string;
  RW: boolean;
  Propagation: string;
}

function mountsOf(binds: readonly BindMount[]): MountPoint[] {
  return binds.map((b) =>
    b.volume === undefined
      ? {
          Type: 'bind',
          Source: b.source,
          Destination: b.target,
          Mode: b.readonly ? 'ro' : '',
          RW: !b.readonly,
          Propagation: 'rprivate',
        }
      : {
          Type: 'volume',
          Name: b.volume.name,
          Source: b.source,
          Destination: b.target,
          Driver: 'local',
          Mode: b.readonly ? 'ro' : '',
          RW: !b.readonly,
          Propagation: '',
        },
  );
}

const mapText = (m: IdMapping): string => `${String(m.containerID)}:${String(m.hostID)}:${String(m.size)}`;

/** Docker prints the zero time for "never". */
const ZERO_TIME = '0001-01-01T00:00:00Z';

export function inspectContainer(c: ObservedContainer): ContainerInspect {
  const { record: r, observed: o } = c;
  const opts = r.options;
  const [path = '', ...args] = r.args;
  return {
    Id: r.id,
    Name: `/${r.name}`,
    Created: r.created,
    Path: path,
    Args: args,
    Image: r.imageId,
    RestartCount: o.restartCount,
    State: {
      Status: o.status,
      Running: o.status === 'running' || o.status === 'paused',
      Paused: o.status === 'paused',
      Restarting: o.status === 'restarting',
      OOMKilled: o.oomKilled,
      Dead: o.status === 'dead',
      Pid: o.pid,
      ExitCode: o.exitCode,
      Error: o.error ?? '',
      StartedAt: o.startedAt ?? ZERO_TIME,
      FinishedAt: o.finishedAt ?? ZERO_TIME,
      ExitReason: o.reason ?? '',
      // As Docker's: no Health before the first start, when no check has run or is due yet.
      ...(r.healthcheck === undefined || o.status === 'created'
        ? {}
        : { Health: o.health ?? { Status: 'starting', FailingStreak: 0, Log: [] } }),
    },
    Config: {
      Hostname: opts.hostname ?? r.id.slice(0, 12),
      User: opts.user ?? '',
      Env: opts.env ?? [],
      Cmd: opts.command ?? null,
      Entrypoint: opts.entrypoint ?? null,
      WorkingDir: opts.workdir ?? '',
      Image: r.image,
      StopSignal: r.stopSignal ?? 'SIGTERM',
      ...(r.stopTimeout === undefined ? {} : { StopTimeout: r.stopTimeout }),
      Tty: opts.tty ?? false,
      OpenStdin: opts.interactive ?? false,
      StdinOnce: (opts.interactive === true && opts.stdinOnce) ?? false,
      ...(r.healthcheck === undefined
        ? {}
        : {
            Healthcheck: dockerHealthConfig(r.healthcheck),
            HealthcheckOnFailureAction: r.healthcheck.onFailure,
          }),
    },
    HostConfig: {
      AutoRemove: r.autoRemove,
      RestartPolicy: {
        Name: r.restartPolicy?.name ?? 'no',
        MaximumRetryCount: r.restartPolicy?.maximumRetryCount ?? 0,
      },
      NetworkMode: networkModeOf(opts),
      ReadonlyRootfs: opts.readonlyRootfs ?? false,
      CgroupParent: opts.cgroupParent ?? '',
      Memory: opts.limits?.memory ?? 0,
      PidsLimit: typeof opts.limits?.pidsLimit === 'number' ? opts.limits.pidsLimit : 0,
      CapAdd: opts.capAdd ?? [],
      CapDrop: opts.capDrop ?? [],
      UsernsMode: opts.userns === undefined || opts.userns === 'host' ? '' : opts.userns,
      ...(r.idMappings === undefined
        ? {}
        : { IDMappings: { UidMap: [mapText(r.idMappings.uid)], GidMap: [mapText(r.idMappings.gid)] } }),
    },
    Mounts: mountsOf(opts.binds ?? []),
  };
}

/** What `ps --filter health=` matches: the check's status, or `none` without a check. */
export function healthStatusOf(c: ObservedContainer): HealthState['Status'] | 'none' {
  return c.record.healthcheck === undefined ? 'none' : (c.observed.health?.Status ?? 'starting');
}

/** Docker's suffix of a running container with a health check: ` (healthy)`, ` (health: starting)`. */
function healthSuffix(c: ObservedContainer): string {
  const status = healthStatusOf(c);
  if (status === 'none') return '';
  return status === 'starting' ? ' (health: starting)' : ` (${status})`;
}

/** `Up 3 minutes (healthy)`, `Exited (137) 5 seconds ago`, `Created`: the ps STATUS column. */
export function statusText(
  c: ObservedContainer,
  ago: (iso: string) => string,
  duration: (iso: string) => string,
): string {
  const o = c.observed;
  switch (o.status) {
    case 'created':
      return 'Created';
    case 'running':
      return `Up ${duration(o.startedAt ?? c.record.created)}${healthSuffix(c)}`;
    case 'paused':
      return `Up ${duration(o.startedAt ?? c.record.created)} (Paused)`;
    case 'restarting':
      return `Restarting (${o.exitCode}) ${ago(o.finishedAt ?? c.record.created)}`;
    case 'exited':
      return `Exited (${o.exitCode}) ${ago(o.finishedAt ?? c.record.created)}`;
    case 'dead':
      return 'Dead';
  }
}
