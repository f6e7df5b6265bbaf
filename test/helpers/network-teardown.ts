/**
 * vitest globalSetup: after the whole run, the default bridges that test roots left (a root's
 * bridge stays once made, until `network prune`; a test that ends with containers still up, or
 * removes its root without a prune, leaves it) are removed with their nftables table and pin
 * directory — only idle ones (no port on the bridge, no pin), of non-default roots. A root that
 * still exists and uses its network again simply makes them anew.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, rmdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const RUN_DIR = '/run/tsdock';

function idleDefaultBridges(): string[] {
  if (!existsSync(RUN_DIR)) return [];
  return readdirSync(RUN_DIR)
    .flatMap((f) => /^tsdock_([0-9a-f]{8})\.rules$/.exec(f)?.[1] ?? [])
    .filter((tag) => {
      const brif = `/sys/class/net/tsd${tag}/brif`;
      const pins = join(RUN_DIR, `netns-${tag}`);
      return (
        (!existsSync(brif) || readdirSync(brif).length === 0) && (!existsSync(pins) || readdirSync(pins).length === 0)
      );
    });
}

export function setup(): () => void {
  return () => {
    for (const tag of idleDefaultBridges()) {
      if (existsSync(`/sys/class/net/tsd${tag}`)) execFileSync('ip', ['link', 'delete', `tsd${tag}`]);
      execFileSync('nft', ['-f', '-'], { input: `table ip tsdock_${tag}\ndelete table ip tsdock_${tag}\n` });
      rmSync(join(RUN_DIR, `tsdock_${tag}.rules`), { force: true });
      if (existsSync(join(RUN_DIR, `netns-${tag}`))) rmdirSync(join(RUN_DIR, `netns-${tag}`));
    }
  };
}
