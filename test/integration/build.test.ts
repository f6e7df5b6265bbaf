/**
 * `tsdock build` end to end, through the CLI, on the busybox image: RUN steps are real
 * containers. Whether a RUN ran is proven from outside the build: the RUNs fetch a URL from a
 * counting HTTP server on the host (`--network host`), so a cached step leaves the count alone.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { busyboxRoot, type BusyboxRoot } from '../helpers/busybox.js';
import { cgroupsUnder, hostMounts, tsdock } from '../helpers/host.js';
import { tempDir } from './image-helpers.js';

let busybox: BusyboxRoot;
let server: Server;
let url = '';
const hits = new Map<string, number>();

beforeAll(async () => {
  busybox = await busyboxRoot('build');
  server = createServer((req, res) => {
    hits.set(req.url ?? '', (hits.get(req.url ?? '') ?? 0) + 1);
    res.end('ok\n');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  await tsdock(['--root', busybox.root, 'network', 'prune', '-f']);
  await busybox.remove();
});

/** A context directory with these files. */
async function context(files: Record<string, string>): Promise<string> {
  const dir = await tempDir('tsdock-build-ctx-');
  for (const [name, content] of Object.entries(files)) {
    await mkdir(join(dir, name, '..'), { recursive: true });
    await writeFile(join(dir, name), content);
  }
  return dir;
}

const build = (args: string[]) => tsdock(['--root', busybox.root, 'build', '--network', 'host', ...args]);
const run = (args: string[]) => tsdock(['--root', busybox.root, 'run', '--rm', ...args]);
const hit = (path: string): string => `wget -q -O /dev/null ${url}${path}`;

describe('tsdock build', () => {
  it('builds, runs and streams output; an unchanged rebuild runs nothing and gives the same ID', async () => {
    const dir = await context({
      'app/hello.txt': 'hello\n',
      Dockerfile: [
        'FROM busybox',
        'ARG WHO=world',
        'ENV GREETING=hi',
        'WORKDIR /srv',
        'COPY app/ ./app/',
        `RUN ${hit('/first')} && echo "$GREETING $WHO" > greeting && echo built-it`,
        'EXPOSE 8080',
        'CMD ["sh", "-c", "cat /srv/greeting /srv/app/hello.txt; pwd"]',
      ].join('\n'),
    });
    const first = await build(['-t', 'greeter:1', dir]);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toContain('Step 6/8 : RUN');
    expect(first.stdout).toMatch(/ ---> Running in [0-9a-f]{12}\nbuilt-it\n/);
    expect(first.stdout).toMatch(/Successfully built [0-9a-f]{12}\nSuccessfully tagged greeter:1\n$/);
    expect(hits.get('/first')).toBe(1);

    const ran = await run(['greeter:1']);
    expect(ran.stdout).toBe('hi world\nhello\n/srv\n');

    const again = await build(['-t', 'greeter:1', dir]);
    expect(again.code).toBe(0);
    expect(again.stdout).not.toContain('Running in');
    expect(again.stdout.match(/ ---> Using cache/g)).toHaveLength(3); // WORKDIR, COPY, RUN
    expect(hits.get('/first')).toBe(1);
    const id = (out: string): string | undefined => /Successfully built (\w+)/.exec(out)?.[1];
    expect(id(again.stdout)).toBe(id(first.stdout));

    const inspect = await tsdock(['--root', busybox.root, 'images']);
    expect(inspect.stdout).toMatch(/greeter\s+1\s+/);
  });

  it('a change to one copied file reruns that COPY and every step after it, not the ones before', async () => {
    const dir = await context({
      'a.txt': 'a1\n',
      'b.txt': 'b\n',
      Dockerfile: [
        'FROM busybox',
        `RUN ${hit('/before')}`,
        'COPY b.txt /b.txt',
        'COPY a.txt /a.txt',
        `RUN ${hit('/after')} && cat /a.txt`,
      ].join('\n'),
    });
    expect((await build([dir])).code).toBe(0);
    expect([hits.get('/before'), hits.get('/after')]).toEqual([1, 1]);
    await writeFile(join(dir, 'a.txt'), 'a2\n');
    const rebuilt = await build(['-q', dir]);
    expect(rebuilt.code).toBe(0);
    expect([hits.get('/before'), hits.get('/after')]).toEqual([1, 2]);
    // Touching a file without changing it is no change (Docker hashes content, not times).
    await writeFile(join(dir, 'a.txt'), 'a2\n');
    expect((await build(['-q', dir])).code).toBe(0);
    expect(hits.get('/after')).toBe(2);
    expect((await build(['--no-cache', '-q', dir])).code).toBe(0);
    expect([hits.get('/before'), hits.get('/after')]).toEqual([2, 3]);
  });

  it('multi-stage: COPY --from a stage; --target builds only the stages it needs', async () => {
    const dir = await context({
      Dockerfile: [
        'FROM busybox AS compile',
        'RUN mkdir /out && echo compiled > /out/artifact',
        'FROM busybox AS broken',
        `RUN ${hit('/broken')} && false`,
        'FROM scratch AS final',
        'COPY --from=compile /out/artifact /artifact',
        'COPY --from=0 /bin/busybox /bin/cat',
        'COPY --from=busybox /etc/passwd /etc/passwd',
        'CMD ["/bin/cat", "/artifact"]',
      ].join('\n'),
    });
    const built = await build(['-t', 'final:1', dir]);
    expect(built.stderr).toBe('');
    expect(built.code).toBe(0);
    expect(hits.get('/broken')).toBeUndefined();
    expect((await run(['final:1'])).stdout).toBe('compiled\n');
    expect((await run(['final:1', '/bin/cat', '/etc/passwd'])).stdout).toMatch(/^root:x:0:0:/);

    const target = await build(['--target', 'compile', '-t', 'compile:1', dir]);
    expect(target.stdout).toContain('Step 2/2 : RUN mkdir');
    const unused = await build(['--target', 'compile', '--build-arg', 'NOBODY=1', '-q', dir]);
    expect(unused.stderr).toBe('[Warning] One or more build-args [NOBODY] were not consumed\n');
    expect((await run(['compile:1', 'cat', '/out/artifact'])).stdout).toBe('compiled\n');
  });

  it('honours .dockerignore with Docker\u2019s rules (exceptions, nested paths)', async () => {
    const dir = await context({
      '.dockerignore': 'secret.txt\nlogs\n*.tmp\n!keep.tmp\n',
      'secret.txt': 'no',
      'logs/a.log': 'no',
      'x.tmp': 'no',
      'keep.tmp': 'yes',
      'sub/x.tmp': 'yes: *.tmp is for the top level only',
      Dockerfile: 'FROM busybox\nCOPY . /ctx/\nCMD ["find", "/ctx", "-type", "f"]\n',
    });
    expect((await build(['-t', 'ignored:1', dir])).code).toBe(0);
    const files = (await run(['ignored:1'])).stdout.trim().split('\n').sort();
    expect(files).toEqual(['/ctx/.dockerignore', '/ctx/Dockerfile', '/ctx/keep.tmp', '/ctx/sub/x.tmp']);
    await writeFile(join(dir, 'Dockerfile.bad'), 'FROM busybox\nCOPY secret.txt /\n');
    const missing = await build(['-f', 'Dockerfile.bad', dir]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('file not found in build context or excluded by .dockerignore');
  });

  it('a failing RUN exits 1 with its status and leaves images, containers and mounts as they were', async () => {
    const dir = await context({ Dockerfile: 'FROM busybox\nRUN echo partial > /p\nRUN exit 3\n' });
    const imagesBefore = await readFile(join(busybox.root, 'images.json'), 'utf8');
    const failed = await build(['-t', 'greeter:1', dir]);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toBe("tsdock: Dockerfile:3: The command '/bin/sh -c exit 3' returned a non-zero code: 3\n");
    const running = [...failed.stdout.matchAll(/Running in ([0-9a-f]{12})/g)].map((m) => m[1] ?? '');
    expect(running).toHaveLength(2);
    const leftCgroups = (await cgroupsUnder('tsdock')).filter((dir) => running.some((id) => dir.includes(`/${id}`)));
    expect(leftCgroups).toEqual([]);
    expect(await readFile(join(busybox.root, 'images.json'), 'utf8')).toBe(imagesBefore);
    expect((await tsdock(['--root', busybox.root, 'ps', '-a', '-q'])).stdout).toBe('');
    expect((await hostMounts()).filter((m) => m.startsWith(busybox.root))).toEqual([]);
  });

  it('RUN on the default network gets a bridge interface; a heredoc RUN runs as a script', async () => {
    const dir = await context({
      Dockerfile: ['FROM busybox', 'RUN <<EOF', 'ip -o -4 addr show eth0 | grep -q inet', 'echo has-eth0', 'EOF'].join(
        '\n',
      ),
    });
    const built = await tsdock(['--root', busybox.root, 'build', dir]);
    expect(built.stderr).toBe('');
    expect(built.stdout).toContain('has-eth0');
  });
});
