/**
 * COPY and ADD in depth, and the library's build API: archives, URLs, heredocs, owners by name,
 * destinations through the image's own symlinks (never the host's), ONBUILD triggers, progress
 * events and aborting a running step.
 */
import { execFile } from 'node:child_process';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Runtime, type BuildEvent } from '../../src/index.js';
import { busyboxRoot, type BusyboxRoot } from '../helpers/busybox.js';
import { tempDir } from './image-helpers.js';

let busybox: BusyboxRoot;
let runtime: Runtime;
let server: Server;
let url = '';

beforeAll(async () => {
  busybox = await busyboxRoot('build-copy');
  runtime = await Runtime.open({ root: busybox.root });
  server = createServer((req, res) => {
    if (req.url === '/moved') {
      res.writeHead(302, { location: '/files/remote.txt' }).end();
      return;
    }
    res.writeHead(200, { 'last-modified': 'Wed, 21 Oct 2015 07:28:00 GMT' }).end('from the server\n');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  await busybox.remove();
});

async function context(dockerfile: string, files: Record<string, string> = {}): Promise<string> {
  const dir = await tempDir('tsdock-build-copy-');
  for (const [name, content] of Object.entries({ ...files, Dockerfile: dockerfile })) {
    await mkdir(join(dir, name, '..'), { recursive: true });
    await writeFile(join(dir, name), content);
  }
  return dir;
}

/** Runs `sh -c script` in `image`; its stdout. */
async function shIn(image: string, script: string): Promise<string> {
  const out = join(await tempDir('tsdock-build-out-'), 'out');
  await mkdir(out);
  const { exitCode } = await runtime.run(image, {
    command: ['sh', '-c', `(${script}) > /out/stdout`],
    binds: [{ source: out, target: '/out', readonly: false }],
  });
  expect(exitCode).toBe(0);
  const { readFile } = await import('node:fs/promises');
  return readFile(join(out, 'stdout'), 'utf8');
}

describe('COPY and ADD', () => {
  it('ADD extracts local archives, downloads URLs (0600, Last-Modified); COPY heredocs and --chown by name', async () => {
    const dir = await context(
      [
        'FROM busybox',
        'RUN echo "app:x:1234:4321::/home/app:/bin/sh" >> /etc/passwd && echo "app:x:4321:" >> /etc/group',
        'ADD bundle.tar.gz /opt/',
        `ADD ${url}/moved /downloads/`,
        'COPY --chown=app <<EOF /etc/motd',
        'hello from a heredoc',
        'EOF',
      ].join('\n'),
      { 'bundle/a.txt': 'a\n', 'bundle/sub/b.txt': 'b\n' },
    );
    await promisify(execFile)('tar', ['-czf', join(dir, 'bundle.tar.gz'), '-C', dir, 'bundle']);
    await runtime.build(dir, { tags: ['added:1'], network: 'none' });
    expect(await shIn('added:1', 'cat /opt/bundle/a.txt /opt/bundle/sub/b.txt')).toBe('a\nb\n');
    expect(await shIn('added:1', 'stat -c "%a %Y" /downloads/remote.txt; cat /downloads/remote.txt')).toBe(
      '600 1445412480\nfrom the server\n',
    );
    expect(await shIn('added:1', 'stat -c "%u:%g" /etc/motd; cat /etc/motd')).toBe('1234:4321\nhello from a heredoc\n');
  });

  it('a destination through an image symlink to a host path lands inside the image', async () => {
    const host = await tempDir('tsdock-build-host-');
    const dir = await context(`FROM busybox\nRUN ln -s ${host} /escape\nCOPY a.txt /escape/\n`, {
      'a.txt': 'inside\n',
    });
    await runtime.build(dir, { tags: ['escape:1'], network: 'none' });
    expect(await readdir(host)).toEqual([]);
    expect(await shIn('escape:1', `cat ${host}/a.txt`)).toBe('inside\n');
  });

  it('ONBUILD triggers run in the next build FROM the image and are not inherited', async () => {
    const base = await context('FROM busybox\nONBUILD RUN echo triggered > /onbuild\n');
    await runtime.build(base, { tags: ['onbuild-base:1'], network: 'none' });
    const events: BuildEvent[] = [];
    const child = await context('FROM onbuild-base:1\nRUN cat /onbuild\n');
    await runtime.build(child, { tags: ['onbuild-child:1'], network: 'none', onEvent: (e) => events.push(e) });
    expect(events).toContainEqual({ type: 'triggers', count: 1 });
    const output = events.flatMap((e) => (e.type === 'output' ? [e.chunk.toString()] : [])).join('');
    expect(output).toBe('triggered\n');
    const grandchild = await context('FROM onbuild-child:1\nRUN test ! -e /again && echo no-trigger\n');
    const again: BuildEvent[] = [];
    await runtime.build(grandchild, { network: 'none', onEvent: (e) => again.push(e) });
    expect(again.some((e) => e.type === 'triggers')).toBe(false);
  });

  it('an aborted build kills its running step and leaves no container', async () => {
    const dir = await context('FROM busybox\nRUN echo started && sleep 60\n');
    const abort = new AbortController();
    const building = runtime.build(dir, {
      tags: ['aborted:1'],
      network: 'none',
      signal: abort.signal,
      onEvent: (e) => {
        if (e.type === 'output' && e.chunk.toString().includes('started')) abort.abort();
      },
    });
    await expect(building).rejects.toThrow(/abort/i);
    expect(await runtime.list({ all: true })).toEqual([]);
    expect((await runtime.listImages()).map((i) => i.repository)).not.toContain('aborted');
  });
});
