import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cacheFileOf, commandOf } from '../../src/cli/code-cache.js';

describe('commandOf', () => {
  it.each([
    [['run', '--rm', 'busybox'], 'run'],
    [['--root', '/var/lib/x', 'ps', '-a'], 'ps'],
    [['--layer-limits', 'size=1g', '--root=/x', 'pod', 'ls'], 'pod'],
    [['--version'], undefined],
    [[], undefined],
    [['--', 'run'], undefined],
    [['../../etc/passwd'], undefined],
    [['RUN'], undefined],
  ])('%j runs %s', (argv, command) => {
    expect(commandOf(argv)).toBe(command);
  });
});

describe('cacheFileOf', () => {
  const bundle = { ino: 7, size: 1000, mtimeMs: 1700000000123.5 };

  it('lives beside the bundle, per command', () => {
    expect(cacheFileOf('/opt/t/dist/cli/main.cjs', bundle, ['run'])).toBe(
      '/opt/t/dist/cli/code-cache/main.cjs.7-1000-1700000000123.run',
    );
    expect(cacheFileOf('/opt/t/dist/cli/main.cjs', bundle, ['--help'])).toBe(
      '/opt/t/dist/cli/code-cache/main.cjs.7-1000-1700000000123.-',
    );
  });

  it.each([
    ['another inode', { ...bundle, ino: 8 }],
    ['another size', { ...bundle, size: 1001 }],
    ['another mtime', { ...bundle, mtimeMs: bundle.mtimeMs + 1 }],
  ])('changes for a rebuilt bundle: %s', (_what, rebuilt) => {
    expect(cacheFileOf('/b/main.cjs', rebuilt, ['run'])).not.toBe(cacheFileOf('/b/main.cjs', bundle, ['run']));
  });
});

describe('runCached', () => {
  const loader = join(import.meta.dirname, '..', '..', 'dist', 'cli', 'code-cache.cjs');
  let dir: string | undefined;
  afterEach(() => {
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  const run = (file: string, argv: string[]): { stdout: string; status: number | null } =>
    spawnSync(
      process.execPath,
      ['-e', `require(${JSON.stringify(loader)}).runCached(process.argv[1], process.argv.slice(2))`, file, ...argv],
      { encoding: 'utf8' },
    );

  it('runs the bundle, and writes the cache only after a successful run of a command', () => {
    dir = mkdtempSync(join(tmpdir(), 'tsdock-code-cache-'));
    const file = join(dir, 'main.cjs');
    writeFileSync(
      file,
      'exports.main = async (argv) => { console.log(argv.join(" ")); if (argv.includes("fail")) process.exitCode = 1; };\n',
    );
    const cacheOf = (argv: string[]): string => cacheFileOf(file, statSync(file), argv);

    expect(run(file, ['ps', 'fail'])).toMatchObject({ stdout: 'ps fail\n', status: 1 });
    expect(readdirSync(dir)).toEqual(['main.cjs']);

    expect(run(file, ['ps', '-a'])).toMatchObject({ stdout: 'ps -a\n', status: 0 });
    expect(statSync(cacheOf(['ps'])).size).toBeGreaterThan(0);
    expect(run(file, ['ps', '-q'])).toMatchObject({ stdout: 'ps -q\n', status: 0 });
    expect(readdirSync(join(dir, 'code-cache'))).toEqual([cacheOf(['ps']).split('/').pop()]);
  });
});
