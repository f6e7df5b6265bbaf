/**
 * Pruning the build cache: `builder prune` (default: what no image shares; `-a`: everything;
 * `--filter until=`), the clean-up of entries an image removal leaves unreachable, and a prune
 * during a build waiting for it instead of taking its layers.
 */
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseUntilFilters } from '../../src/cli/commands/builder.js';
import { Runtime, type BuildEvent } from '../../src/index.js';
import { busyboxRoot, type BusyboxRoot } from '../helpers/busybox.js';
import { tsdock } from '../helpers/host.js';
import { tempDir } from './image-helpers.js';

let busybox: BusyboxRoot;
let runtime: Runtime;
let server: Server;
let url = '';
/** Requests to /hold wait here until the test answers them. */
const held: ServerResponse[] = [];
let onHold: () => void = () => undefined;

beforeAll(async () => {
  busybox = await busyboxRoot('build-prune');
  runtime = await Runtime.open({ root: busybox.root });
  server = createServer((req, res) => {
    if (req.url === '/hold') {
      held.push(res);
      onHold();
      return;
    }
    res.end('ok\n');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  for (const res of held) res.end();
  await new Promise((resolve) => server.close(resolve));
  await busybox.remove();
});

async function context(dockerfile: string): Promise<string> {
  const dir = await tempDir('tsdock-build-prune-');
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'Dockerfile'), dockerfile);
  return dir;
}

/** Builds; returns how many steps ran a container and how many came from the cache. */
async function build(dir: string, tag: string): Promise<{ ran: number; cached: number }> {
  const events: BuildEvent[] = [];
  await runtime.build(dir, { tags: [tag], network: 'host', onEvent: (e) => events.push(e) });
  return {
    ran: events.filter((e) => e.type === 'running').length,
    cached: events.filter((e) => e.type === 'cached').length,
  };
}

const entries = async (): Promise<string[]> => (await readdir(join(busybox.root, 'build-cache'))).sort();

// A stage the image does not keep (its RUN layer is the cache's alone) and one it does.
const MULTI = [
  'FROM busybox AS tmp',
  'RUN echo scratch-work > /w && echo not-copied > /other',
  'FROM busybox',
  'RUN echo kept > /k',
  'COPY --from=tmp /w /w',
].join('\n');

describe('builder prune', () => {
  it('parses until=DURATION and refuses other filters', () => {
    expect(parseUntilFilters(['until=24h'], 100_000_000)).toBe(100_000_000 - 86_400_000);
    expect(parseUntilFilters([])).toBeUndefined();
    expect(() => parseUntilFilters(['dangling=true'])).toThrow('until=DURATION');
    expect(() => parseUntilFilters(['until=yesterday'])).toThrow('until=DURATION');
  });

  it('by default removes what no image shares; -a everything; until= keeps what was used since', async () => {
    const dir = await context(MULTI);
    expect(await build(dir, 'pruned:1')).toMatchObject({ ran: 2 });
    const before = await entries();

    const recent = await runtime.pruneBuildCache({ all: true, usedBefore: Date.now() - 3_600_000 });
    expect(recent.removed).toEqual([]);
    expect(await entries()).toEqual(before);

    const dangling = await runtime.pruneBuildCache();
    expect(dangling.removed).toHaveLength(1); // the tmp stage's RUN
    expect(dangling.reclaimed).toBeGreaterThan(0); // and its layer's blob
    expect(await build(dir, 'pruned:1')).toEqual({ ran: 1, cached: 2 });

    const all = await runtime.pruneBuildCache({ all: true });
    expect(all.removed.length).toBeGreaterThan(2);
    expect(await entries()).toEqual([]);
    expect(await build(dir, 'pruned:1')).toEqual({ ran: 2, cached: 0 });
  });

  it('removing the image drops the entries no build can reach any more', async () => {
    const dir = await context('FROM busybox\nRUN echo one > /1\nENV A=1\nRUN echo two > /2\n');
    await build(dir, 'dropped:1');
    const withImage = await entries();
    expect(await runtime.removeImage('dropped:1')).toContainEqual(expect.stringMatching(/^Deleted: /));
    const left = await entries();
    // Its three steps go with their layers (and any entry whose layer only the cache held).
    expect(withImage.filter((key) => !left.includes(key)).length).toBeGreaterThanOrEqual(3);
    for (const name of left) {
      const step = JSON.parse(await readFile(join(busybox.root, 'build-cache', name), 'utf8')) as {
        layer?: { descriptor: { digest: string } };
      };
      const digest = step.layer?.descriptor.digest;
      if (digest !== undefined) await stat(join(busybox.root, 'blobs', ...digest.split(':')));
    }
    expect(await build(dir, 'dropped:1')).toEqual({ ran: 2, cached: 0 });
  });

  it('the CLI prints what it removed and its total', async () => {
    const dir = await context(MULTI);
    await build(dir, 'cli-pruned:1');
    const out = await tsdock(['--root', busybox.root, 'builder', 'prune', '-a', '-f', '--filter', 'until=0s']);
    expect(out.code).toBe(0);
    expect(out.stdout).toMatch(/^Deleted build cache objects:\n([0-9a-f]{25}\n)+\nTotal reclaimed space: /);
    const bad = await tsdock(['--root', busybox.root, 'builder', 'prune', '-f', '--filter', 'label=x']);
    expect(bad.code).toBe(125);
    expect(bad.stderr).toContain('builder prune takes until=DURATION');
  });

  it('a prune during a build waits for it and takes nothing it uses', async () => {
    const dir = await context(`FROM busybox\nRUN echo in-flight > /f\nRUN wget -q -O /dev/null ${url}/hold\n`);
    const order: string[] = [];
    const holding = new Promise<void>((resolve) => (onHold = resolve));
    const building = build(dir, 'inflight:1').then(() => order.push('build'));
    await holding;
    const pruning = runtime.pruneBuildCache({ all: true }).then(() => order.push('prune'));
    for (const res of held.splice(0)) res.end('ok\n');
    await Promise.all([building, pruning]);
    expect(order).toEqual(['build', 'prune']);
    const image = await runtime.inspectImage('inflight:1');
    expect((await runtime.run('inflight:1', { command: ['cat', '/f'] })).exitCode).toBe(0);
    expect(image.layers.length).toBeGreaterThan(1);
  });
});
