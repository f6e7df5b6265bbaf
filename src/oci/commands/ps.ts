/** `ps [--format table|json] ID [PS_ARGS...]`: the container's processes (host pids). */
import { execFileSync } from 'node:child_process';
import { TsdockError } from '../../errors.js';
import { cgroupPids, loadContainer } from '../container.js';
import { flagString, type Flags, type Globals } from '../context.js';

/** The header of `ps` output and the lines whose PID column is one of pids. */
export function filterPsOutput(text: string, pids: ReadonlySet<number>): string {
  const [header = '', ...lines] = text.split('\n');
  const column = header.trim().split(/\s+/).indexOf('PID');
  if (column < 0) throw new TsdockError('INVALID_ARGUMENT', 'ps output has no PID column: keep PID in the ps options');
  const mine = lines.filter((line) => pids.has(Number(line.trim().split(/\s+/)[column])));
  return [header, ...mine].join('\n') + '\n';
}

export async function ps(g: Globals, flags: Flags, args: string[]): Promise<void> {
  const c = await loadContainer(g.root, args[0] ?? '');
  const pids = cgroupPids(c.cgroup);
  const format = flagString(flags, 'format') ?? 'table';
  if (format === 'json') {
    process.stdout.write(JSON.stringify(pids) + '\n');
    return;
  }
  if (format !== 'table') throw new TsdockError('INVALID_ARGUMENT', `invalid --format "${format}": use table or json`);
  const psArgs = args.length > 1 ? args.slice(1) : ['-ef'];
  process.stdout.write(filterPsOutput(execFileSync('ps', psArgs, { encoding: 'utf8' }), new Set(pids)));
}
