/** `list [--format table|json] [--quiet]`: every container under the root. */
import { readdirSync } from 'node:fs';
import { TsdockError } from '../../errors.js';
import { loadContainer, type Container } from '../container.js';
import { flagString, type Flags, type Globals } from '../context.js';
import { specState } from '../state.js';

async function all(root: string): Promise<Container[]> {
  let ids: string[];
  try {
    ids = readdirSync(root);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const found: Container[] = [];
  for (const id of ids.sort()) {
    try {
      found.push(await loadContainer(root, id));
    } catch (err) {
      // Being created or deleted right now: not a container yet, or any more.
      if (!(err instanceof TsdockError && err.code === 'CONTAINER_NOT_FOUND')) throw err;
    }
  }
  return found;
}

export async function list(g: Globals, flags: Flags): Promise<void> {
  const containers = await all(g.root);
  const format = flagString(flags, 'format') ?? 'table';
  if (flags.quiet === true) {
    process.stdout.write(containers.map((c) => `${c.state.id}\n`).join(''));
  } else if (format === 'json') {
    process.stdout.write(JSON.stringify(containers.map((c) => specState(c.state, c.status))) + '\n');
  } else if (format === 'table') {
    const rows = [['ID', 'PID', 'STATUS', 'BUNDLE', 'CREATED', 'OWNER']];
    for (const c of containers) {
      rows.push([
        c.state.id,
        String(c.status === 'stopped' ? 0 : c.state.pid),
        c.status,
        c.state.bundle,
        c.state.created,
        'root',
      ]);
    }
    const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => r[i]?.length ?? 0))) ?? [];
    process.stdout.write(
      rows
        .map(
          (r) =>
            r
              .map((cell, i) => cell.padEnd((widths[i] ?? 0) + 3))
              .join('')
              .trimEnd() + '\n',
        )
        .join(''),
    );
  } else {
    throw new TsdockError('INVALID_ARGUMENT', `invalid --format "${format}": use table or json`);
  }
}
