/** `tsdock logout [REGISTRY]`. */
import { Runtime } from '../../index.js';
import type { GlobalOptions } from '../main.js';

export async function logout(globals: GlobalOptions, server: string | undefined): Promise<void> {
  const runtime = await Runtime.open({ root: globals.root });
  const { domain, removed } = await runtime.logout(server);
  process.stdout.write(removed ? `Removing login credentials for ${domain}\n` : `Not logged in to ${domain}\n`);
}
