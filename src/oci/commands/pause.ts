/** `pause ID` and `resume ID`: the cgroup freezer (v2 `cgroup.freeze`, else v1's freezer). */
import { loadContainer, requireStatus } from '../container.js';
import type { Flags, Globals } from '../context.js';

export async function pause(g: Globals, _flags: Flags, args: string[]): Promise<void> {
  const c = await loadContainer(g.root, args[0] ?? '');
  requireStatus(c, ['running', 'created'], 'pause');
  await c.cgroup.freeze();
}

export async function resume(g: Globals, _flags: Flags, args: string[]): Promise<void> {
  const c = await loadContainer(g.root, args[0] ?? '');
  requireStatus(c, ['paused'], 'resume');
  await c.cgroup.thaw();
}
