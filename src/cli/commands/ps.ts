/** `tsdock ps [-a] [-q] [--pod] [--filter health=…] [--format json]`. */
import { TsdockError } from '../../errors.js';
import { Runtime, type ObservedContainer } from '../../index.js';
import { healthStatusOf, statusText } from '../../runtime/container-inspect.js';
import type { GlobalOptions } from '../main.js';
import { since, table } from '../render.js';

export interface PsFlags {
  all?: boolean;
  quiet?: boolean;
  format?: string;
  /** Show each container's pod (podman's `ps --pod`). */
  pod?: boolean;
  /** Docker's `--filter key=value`; values of one key are alternatives. */
  filter?: string[];
}

const HEALTH_VALUES = ['starting', 'healthy', 'unhealthy', 'none'];

/** `health=X` filters as a predicate (every container when there are none). */
function psFilter(specs: string[]): (c: ObservedContainer) => boolean {
  const health = specs.map((spec) => {
    const [key, value = ''] = spec.split(/=(.*)/s);
    if (key !== 'health') {
      throw new TsdockError('INVALID_ARGUMENT', `invalid --filter "${spec}": the supported filter is health=…`);
    }
    if (!HEALTH_VALUES.includes(value)) {
      throw new TsdockError(
        'INVALID_ARGUMENT',
        `invalid --filter "${spec}": health is one of starting, healthy, unhealthy, none`,
      );
    }
    return value;
  });
  return (c) => health.length === 0 || health.includes(healthStatusOf(c));
}

/** `3 minutes` (no "ago"), for "Up 3 minutes". */
function duration(iso: string): string {
  const text = since(iso);
  return text === 'Less than a minute ago' ? 'Less than a minute' : text.replace(/ ago$/, '');
}

function command(args: string[]): string {
  const text = args.join(' ');
  return JSON.stringify(text.length > 20 ? `${text.slice(0, 19)}…` : text);
}

export async function ps(globals: GlobalOptions, flags: PsFlags): Promise<void> {
  const runtime = await Runtime.open({ root: globals.root });
  const matches = psFilter(flags.filter ?? []);
  const containers = (await runtime.list({ all: flags.all })).filter(matches);
  if (flags.quiet === true) {
    process.stdout.write(containers.map((c) => `${c.record.id.slice(0, 12)}\n`).join(''));
    return;
  }
  const inPod = containers.some((c) => c.record.options.pod !== undefined);
  const podNames = new Map(inPod ? (await runtime.listPods()).map((p) => [p.id, p.name]) : []);
  const podOf = (c: (typeof containers)[number]): { id: string; name: string } => {
    const id = c.record.options.pod ?? '';
    return { id: id.slice(0, 12), name: podNames.get(id) ?? '' };
  };
  if (flags.format === 'json') {
    for (const c of containers) {
      const line = {
        ID: c.record.id.slice(0, 12),
        Image: c.record.image,
        Command: c.record.args.join(' '),
        CreatedAt: c.record.created,
        State: c.observed.status,
        Status: statusText(c, since, duration),
        Names: c.record.name,
        Pid: c.observed.pid,
        ExitCode: c.observed.exitCode,
        Pod: podOf(c).id,
        PodName: podOf(c).name,
      };
      process.stdout.write(JSON.stringify(line) + '\n');
    }
    return;
  }
  const pods = flags.pod === true;
  const rows = containers.map((c) => [
    c.record.id.slice(0, 12),
    c.record.image,
    command(c.record.args),
    since(c.record.created),
    statusText(c, since, duration),
    c.record.name,
    ...(pods ? [podOf(c).id, podOf(c).name] : []),
  ]);
  const header = ['CONTAINER ID', 'IMAGE', 'COMMAND', 'CREATED', 'STATUS', 'NAMES'];
  process.stdout.write(table(pods ? [...header, 'POD ID', 'PODNAME'] : header, rows));
}
