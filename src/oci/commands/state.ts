/** `state ID`: the runtime-spec state document, as JSON on stdout. */
import { loadContainer } from '../container.js';
import type { Flags, Globals } from '../context.js';
import { specState } from '../state.js';

export async function state(g: Globals, _flags: Flags, args: string[]): Promise<void> {
  const c = await loadContainer(g.root, args[0] ?? '');
  process.stdout.write(JSON.stringify(specState(c.state, c.status), null, 2) + '\n');
}
