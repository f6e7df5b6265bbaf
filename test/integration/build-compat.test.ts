/**
 * Where `tsdock build` must behave as Docker (BuildKit) does, each case a gap found in review:
 * ADD of bzip2 and xz archives (told by content), heredoc expansion in COPY, hardlinks among
 * COPY sources, WORKDIR's owner under USER, errors placed at their Dockerfile line, and a RUN
 * that renames a lower directory (the overlay must not record it as a redirect).
 */
import { execFile } from 'node:child_process';
import { link, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Runtime, TsdockError } from '../../src/index.js';
import { busyboxRoot, type BusyboxRoot } from '../helpers/busybox.js';
import { tempDir } from './image-helpers.js';

const exec = promisify(execFile);
let busybox: BusyboxRoot;
let runtime: Runtime;

beforeAll(async () => {
  busybox = await busyboxRoot('build-compat');
  runtime = await Runtime.open({ root: busybox.root });
});

afterAll(async () => {
  await busybox.remove();
});

async function context(dockerfile: string, files: Record<string, string> = {}): Promise<string> {
  const dir = await tempDir('tsdock-build-compat-');
  for (const [name, content] of Object.entries({ ...files, Dockerfile: dockerfile })) {
    await mkdir(join(dir, name, '..'), { recursive: true });
    await writeFile(join(dir, name), content);
  }
  return dir;
}

/** Runs `sh -c script` in `image`; its stdout. */
async function shIn(image: string, script: string): Promise<string> {
  const out = await tempDir('tsdock-build-compat-out-');
  const { exitCode } = await runtime.run(image, {
    command: ['sh', '-c', `(${script}) > /out/stdout`],
    binds: [{ source: out, target: '/out', readonly: false }],
  });
  expect(exitCode).toBe(0);
  return readFile(join(out, 'stdout'), 'utf8');
}

async function buildFailure(dir: string): Promise<TsdockError> {
  try {
    await runtime.build(dir, { network: 'none' });
  } catch (err) {
    if (err instanceof TsdockError) return err;
    throw err;
  }
  throw new Error('the build succeeded');
}

describe('build: Docker compatibility', () => {
  it('ADD extracts bzip2 and xz archives by content, and copies a compressed non-archive as it is', async () => {
    const dir = await context(['FROM busybox', 'ADD b.tbz /b/', 'ADD x.bin /x/', 'ADD note.xz /n/'].join('\n'), {
      'tree/a.txt': 'a\n',
      'tree/sub/s.txt': 's\n',
      note: 'just text\n',
    });
    await exec('tar', ['-cf', join(dir, 'tree.tar'), '-C', dir, 'tree']);
    await exec('sh', ['-c', `bzip2 -c tree.tar > b.tbz && xz -c tree.tar > x.bin && xz -c note > note.xz`], {
      cwd: dir,
    });
    await runtime.build(dir, { tags: ['compat-add:1'], network: 'none' });
    expect(await shIn('compat-add:1', 'cat /b/tree/a.txt /b/tree/sub/s.txt /x/tree/a.txt /x/tree/sub/s.txt')).toBe(
      'a\ns\na\ns\n',
    );
    expect(await shIn('compat-add:1', 'ls /n; xz -dc /n/note.xz 2>/dev/null || wc -c < /n/note.xz')).toMatch(
      /^note\.xz\n/,
    );
  });

  it('a corrupt xz file is copied as it is', async () => {
    const dir = await context('FROM busybox\nADD bad.xz /\n');
    await writeFile(join(dir, 'bad.xz'), Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 1, 2, 3]));
    await runtime.build(dir, { tags: ['compat-badxz:1'], network: 'none' });
    expect(await shIn('compat-badxz:1', 'wc -c < /bad.xz')).toBe('9\n');
  });

  it('expands COPY heredocs unless the delimiter is quoted, as BuildKit does', async () => {
    const dir = await context(
      [
        'FROM busybox',
        'ARG name=world',
        'COPY <<EOF /d/c1',
        'Hello ${name}!',
        'EOF',
        "COPY <<'EOF' /d/c2",
        'Hello ${name}!',
        'EOF',
        'COPY <<"EOF" /d/c3',
        'Hello ${name}!',
        'EOF',
        'COPY <<EOF /d/q',
        `"quoted" '\${name}' \\$name \${missing:-dflt}`,
        'EOF',
        'RUN <<EOF',
        'echo "run ${name}" > /d/r',
        'EOF',
      ].join('\n'),
    );
    await runtime.build(dir, { tags: ['compat-heredoc:1'], network: 'none' });
    expect(await shIn('compat-heredoc:1', 'cat /d/c1 /d/c2 /d/c3 /d/q /d/r')).toBe(
      ['Hello world!', 'Hello ${name}!', 'Hello ${name}!', `"quoted" 'world' $name dflt`, 'run world', ''].join('\n'),
    );
  });

  it('keeps files hardlinked among COPY sources linked in the layer', async () => {
    const dir = await context('FROM busybox\nCOPY files/ /f/\n', { 'files/a': 'same\n', 'files/other': 'x\n' });
    await mkdir(join(dir, 'files/sub'));
    await link(join(dir, 'files/a'), join(dir, 'files/sub/b'));
    await runtime.build(dir, { tags: ['compat-links:1'], network: 'none' });
    const [a, b, other] = (await shIn('compat-links:1', 'stat -c "%i %h" /f/a /f/sub/b /f/other')).trim().split('\n');
    expect(a).toBe(b);
    expect(a).toMatch(/ 2$/);
    expect(other).toMatch(/ 1$/);
    expect(await shIn('compat-links:1', 'cat /f/sub/b')).toBe('same\n');
  });

  it('WORKDIR makes missing directories owned by the USER (existing ones stay as they are)', async () => {
    const dir = await context(
      [
        'FROM busybox',
        'RUN echo "app:x:2345:3456::/home/app:/bin/sh" >> /etc/passwd',
        'USER 1234',
        'WORKDIR /tmp/a/b',
        'USER app',
        'WORKDIR /tmp/c',
        'USER ghost',
        'WORKDIR /tmp/g',
        'USER root',
      ].join('\n'),
    );
    await runtime.build(dir, { tags: ['compat-workdir:1'], network: 'none' });
    expect(await shIn('compat-workdir:1', 'stat -c "%n %u:%g" /tmp /tmp/a /tmp/a/b /tmp/c /tmp/g')).toBe(
      '/tmp 0:0\n/tmp/a 1234:1234\n/tmp/a/b 1234:1234\n/tmp/c 2345:3456\n/tmp/g 0:0\n',
    );
  });

  it.each([
    [
      'an expansion',
      'FROM busybox\nENV A=1\nWORKDIR ${NOPE:?unset}\n',
      'INVALID_ARGUMENT',
      'Dockerfile:3: NOPE: unset',
    ],
    ['a COPY', 'FROM busybox\n\nCOPY missing.txt /\n', 'BUILD_FAILED', 'Dockerfile:3: COPY failed: file not found'],
    ['a RUN', 'FROM busybox\nRUN exit 3\n', 'BUILD_FAILED', "Dockerfile:2: The command '/bin/sh -c exit 3'"],
    [
      'a COPY --chown',
      'FROM busybox\nCOPY --chown=ghost Dockerfile /\n',
      'INVALID_ARGUMENT',
      'Dockerfile:2: unable to find user',
    ],
  ])('an error in %s names the Dockerfile line', async (_what, dockerfile, code, message) => {
    const err = await buildFailure(await context(dockerfile));
    expect(err.code).toBe(code);
    expect(err.message.startsWith(message)).toBe(true);
  });

  it('a RUN that renames a lower directory gives the whole directory and a whiteout', async () => {
    const dir = await context('FROM busybox\nRUN mkdir -p /data/sub && echo kept > /data/sub/f\nRUN mv /data /moved\n');
    await runtime.build(dir, { tags: ['compat-rename:1'], network: 'none' });
    expect(await shIn('compat-rename:1', 'cat /moved/sub/f; test ! -e /data && echo gone')).toBe('kept\ngone\n');
    const image = await runtime.inspectImage('compat-rename:1');
    const top = image.layers.at(-1) ?? '';
    const blob = join(busybox.root, 'blobs/sha256', top.slice('sha256:'.length));
    const { stdout } = await exec('tar', ['-tf', blob]);
    expect(stdout.split('\n').filter((l) => l !== '')).toEqual(['.wh.data', 'moved/', 'moved/sub/', 'moved/sub/f']);
  });
});
