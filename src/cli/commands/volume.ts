/** `tsdock volume create|ls|inspect|rm|prune`, as Docker's (local driver). */
import { Runtime } from '../../index.js';
import { TsdockError } from '../../errors.js';
import type { VolumeFilters } from '../../runtime/volume-store.js';
import type { GlobalOptions } from '../main.js';
import { confirmPrune } from '../confirm-prune.js';
import { humanSize, reportError, table } from '../render.js';

function parseLabels(labels: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const label of labels) {
    const eq = label.indexOf('=');
    const key = eq < 0 ? label : label.slice(0, eq);
    if (key === '') throw new TsdockError('INVALID_ARGUMENT', `invalid --label "${label}": expected key=value`);
    out[key] = eq < 0 ? '' : label.slice(eq + 1);
  }
  return out;
}

/** `name=`, `label=` and `dangling=true|false`, as `docker volume ls --filter`. */
export function parseVolumeFilters(filters: string[]): VolumeFilters {
  const out: VolumeFilters = {};
  for (const filter of filters) {
    const eq = filter.indexOf('=');
    const key = filter.slice(0, Math.max(eq, 0));
    const value = filter.slice(eq + 1);
    if (key === 'name') out.name = [...(out.name ?? []), value];
    else if (key === 'label' && value !== '') out.label = [...(out.label ?? []), value];
    else if (key === 'dangling' && /^(true|false|1|0)$/.test(value)) out.dangling = value === 'true' || value === '1';
    else {
      throw new TsdockError(
        'INVALID_ARGUMENT',
        `invalid --filter "${filter}": expected name=NAME, label=KEY[=VALUE] or dangling=true|false`,
      );
    }
  }
  return out;
}

export async function volumeCreate(
  globals: GlobalOptions,
  name: string | undefined,
  flags: { label: string[]; driver?: string },
): Promise<void> {
  if (flags.driver !== undefined && flags.driver !== 'local') {
    throw new TsdockError('INVALID_ARGUMENT', `volume driver "${flags.driver}" is not supported: only local`);
  }
  const labels = parseLabels(flags.label);
  const runtime = await Runtime.open({ root: globals.root });
  process.stdout.write(`${(await runtime.createVolume(name, { labels })).Name}\n`);
}

export async function volumeLs(globals: GlobalOptions, flags: { quiet?: boolean; filter: string[] }): Promise<void> {
  const filters = parseVolumeFilters(flags.filter);
  const runtime = await Runtime.open({ root: globals.root });
  const volumes = await runtime.listVolumes(filters);
  if (flags.quiet === true) {
    process.stdout.write(volumes.map((v) => `${v.Name}\n`).join(''));
    return;
  }
  process.stdout.write(
    table(
      ['DRIVER', 'VOLUME NAME'],
      volumes.map((v) => [v.Driver, v.Name]),
    ),
  );
}

/** Runs `fn` per name; each failure is reported and the rest still run, exit status 1 (Docker's). */
async function each(names: string[], fn: (name: string) => Promise<void>): Promise<void> {
  for (const name of names) {
    try {
      await fn(name);
    } catch (err) {
      reportError(err);
      process.exitCode = 1;
    }
  }
}

export async function volumeInspect(globals: GlobalOptions, names: string[]): Promise<void> {
  const runtime = await Runtime.open({ root: globals.root });
  const found: unknown[] = [];
  await each(names, async (name) => {
    found.push(await runtime.inspectVolume(name));
  });
  process.stdout.write(JSON.stringify(found, null, 4) + '\n');
}

export async function volumeRm(globals: GlobalOptions, names: string[], flags: { force?: boolean }): Promise<void> {
  const runtime = await Runtime.open({ root: globals.root });
  await each(names, async (name) => {
    await runtime.removeVolume(name, { force: flags.force });
    process.stdout.write(`${name}\n`);
  });
}

export async function volumePrune(
  globals: GlobalOptions,
  flags: { all?: boolean; force?: boolean; filter: string[] },
): Promise<void> {
  const label = parseVolumeFilters(flags.filter).label;
  if (flags.filter.some((f) => !f.startsWith('label='))) {
    throw new TsdockError('INVALID_ARGUMENT', 'volume prune takes --filter label=KEY[=VALUE] only');
  }
  const all = flags.all === true;
  const what = `${all ? 'all' : 'anonymous'} local volumes not used by at least one container`;
  if (flags.force !== true && !(await confirmPrune(what))) return;
  const runtime = await Runtime.open({ root: globals.root });
  const { volumes, spaceReclaimed } = await runtime.pruneVolumes({ all, ...(label === undefined ? {} : { label }) });
  const deleted = volumes.length === 0 ? '' : `Deleted Volumes:\n${volumes.map((v) => `${v}\n`).join('')}\n`;
  process.stdout.write(`${deleted}Total reclaimed space: ${humanSize(spaceReclaimed)}\n`);
}
