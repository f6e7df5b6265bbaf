/** `update --resources FILE|- ID`: new cgroup limits from a `linux.resources` document. */
import { readFileSync } from 'node:fs';
import { TsdockError } from '../../errors.js';
import { loadContainer, requireStatus } from '../container.js';
import { flagString, type Flags, type Globals } from '../context.js';
import { resourcesToLimits } from '../resources.js';
import { parseResources } from '../spec.js';

export async function update(g: Globals, flags: Flags, args: string[]): Promise<void> {
  const source = flagString(flags, 'resources');
  if (source === undefined) throw new TsdockError('INVALID_ARGUMENT', 'update needs --resources FILE (or - for stdin)');
  const c = await loadContainer(g.root, args[0] ?? '');
  requireStatus(c, ['created', 'running', 'paused'], 'update');
  const text = readFileSync(source === '-' ? 0 : source, 'utf8');
  await c.cgroup.applyLimits(resourcesToLimits(parseResources(text, source === '-' ? 'stdin' : source)));
}
