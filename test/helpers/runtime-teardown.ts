/** The clean-up of a test file that drives containers through the library. */
import type { Runtime } from '../../src/index.js';
import { isAlive } from '../../src/runtime/proc-stat.js';

/** SIGKILLs what the runtime's containers still run (monitors and inits alike), then removes them. */
export async function removeAllContainers(runtime: Runtime): Promise<void> {
  for (const c of await runtime.list({ all: true })) {
    for (const who of [c.record.state.init, c.record.state.monitor]) {
      if (who !== undefined && isAlive(who)) process.kill(who.pid, 'SIGKILL');
    }
    await runtime.remove(c.record.id, { force: true });
  }
}
