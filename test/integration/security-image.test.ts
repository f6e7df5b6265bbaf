/**
 * Hostile images: a root file system whose symlinks point at the host (absolutely, by climbing
 * with "..", through /proc magic links), /proc and /sys that are not directories, a WORKDIR and
 * volume targets through such links. Each case builds its image, runs it through the CLI, and
 * checks what must hold: the container starts with everything inside its own root, or it is
 * refused in one line — and a canary on the host is exactly as it was.
 */
import { copyFileSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { writeOciArchive, writeOciLayout } from '../../src/image/oci-layout-writer.js';
import type { ImageConfig } from '../../src/image/oci.js';
import { makeCanary, type Canary } from '../helpers/canary.js';
import { removeCgroupParent, tsdock, uniqueCgroupParent } from '../helpers/host.js';

let dir: string;
let root: string;
let canary: Canary;
let before: string[];
const parent = uniqueCgroupParent('hostile-image');

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tsdock-hostile-'));
  await chmod(dir, 0o711);
  root = join(dir, 'root');
  canary = await makeCanary();
  before = await canary.snapshot();
});

afterEach(async () => {
  expect(await canary.snapshot()).toEqual(before);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
  await canary.remove();
  await removeCgroupParent(parent);
});

/** A busybox root file system, then `hostile` applied to it, loaded as image `name`. */
async function hostileImage(name: string, hostile: (rootfs: string) => void, config: ImageConfig = {}): Promise<void> {
  const rootfs = join(dir, `${name}-rootfs`);
  for (const d of ['bin', 'etc', 'proc', 'sys', 'dev', 'tmp']) mkdirSync(join(rootfs, d), { recursive: true });
  copyFileSync('/bin/busybox', join(rootfs, 'bin/busybox'));
  for (const applet of ['sh', 'ls', 'cat', 'pwd', 'echo']) symlinkSync('busybox', join(rootfs, 'bin', applet));
  writeFileSync(join(rootfs, 'etc/passwd'), 'root:x:0:0:root:/:/bin/sh\n');
  hostile(rootfs);
  const layout = join(dir, `${name}-layout`);
  const archive = join(dir, `${name}.tar`);
  await writeOciLayout(layout, {
    name: `hostile/${name}:latest`,
    config: { Env: ['PATH=/bin'], Cmd: ['sh'], ...config },
    layers: [rootfs],
  });
  await writeOciArchive(layout, archive);
  const loaded = await tsdock(['--root', root, 'load', '-i', archive]);
  expect(loaded.stderr).toBe('');
}

/** Replaces path (inside rootfs) by a symlink to target. */
function link(rootfs: string, path: string, target: string): void {
  rmSync(join(rootfs, path), { recursive: true, force: true });
  symlinkSync(target, join(rootfs, path));
}

interface Case {
  name: string;
  hostile: (rootfs: string) => void;
  config?: ImageConfig;
  flags?: string[];
  script: string;
  /** The exit status, and for 0 the output; for 125 the one-line error. */
  code: 0 | 125;
  out: RegExp;
}

const climb = '../'.repeat(16);

const cases = (): Case[] => [
  {
    name: 'etc-absolute',
    hostile: (r) => {
      link(r, 'etc', canary.dir);
    },
    script: 'ls /etc; cat /etc/hostname',
    code: 0,
    out: /^hostname\nhosts\nresolv\.conf\n[0-9a-f]{12}\n$/,
  },
  {
    name: 'etc-climbing',
    hostile: (r) => {
      link(r, 'etc', `${climb}${canary.dir}`);
    },
    script: 'ls /etc',
    code: 0,
    out: /^hostname\nhosts\nresolv\.conf\n$/,
  },
  {
    name: 'hosts-to-secret',
    hostile: (r) => {
      symlinkSync(canary.file, join(r, 'etc/hosts'));
    },
    script: 'cat /etc/hosts',
    // Followed inside the root: the file is made there, and the host's stays as it was.
    code: 0,
    out: /^127\.0\.0\.1\tlocalhost\n/,
  },
  {
    name: 'resolv-magic-link',
    hostile: (r) => {
      symlinkSync(`/proc/self/root${canary.file}`, join(r, 'etc/resolv.conf'));
    },
    script: 'cat /etc/resolv.conf',
    code: 125,
    out: /^tsdock: mount .*\/etc\/resolv\.conf: .+\n$/,
  },
  {
    name: 'dev-absolute',
    hostile: (r) => {
      link(r, 'dev', canary.dir);
    },
    script: 'echo x > /dev/null && ls /dev/null',
    code: 0,
    out: /^\/dev\/null\n$/,
  },
  {
    name: 'proc-symlink',
    hostile: (r) => {
      link(r, 'proc', '/tmp');
    },
    script: 'true',
    code: 125,
    out: /^tsdock: mount .*\/proc: too many levels of symbolic links\n$/,
  },
  {
    name: 'sys-file',
    hostile: (r) => {
      rmSync(join(r, 'sys'), { recursive: true });
      writeFileSync(join(r, 'sys'), '');
    },
    script: 'true',
    code: 125,
    out: /^tsdock: mount .*\/sys: not a directory\n$/,
  },
  {
    name: 'workdir-through-link',
    hostile: (r) => {
      symlinkSync(canary.dir, join(r, 'work'));
    },
    config: { WorkingDir: '/work/sub' },
    // The link is followed inside the container: the directory made is the container's.
    script: 'pwd; ls /work/sub | wc -l',
    code: 0,
    out: /^\/tmp\/tsdock-canary-\w+\/canary\/sub\n0\n$/,
  },
  {
    name: 'volume-through-link',
    hostile: (r) => {
      symlinkSync(canary.dir, join(r, 'mnt'));
    },
    flags: ['-v', `${tmpdir()}:/mnt/x:ro`, '--tmpfs', '/mnt/y'],
    script: 'ls -d /mnt/x /mnt/y',
    code: 0,
    out: /^\/mnt\/x\n\/mnt\/y\n$/,
  },
];

describe('hostile images', () => {
  it.each(cases().map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    await hostileImage(c.name, c.hostile, c.config);
    const r = await tsdock([
      '--root',
      root,
      'run',
      '--rm',
      '--cgroup-parent',
      parent,
      ...(c.flags ?? []),
      `hostile/${c.name}`,
      'sh',
      '-c',
      c.script,
    ]);
    expect(r.code).toBe(c.code);
    expect(c.code === 0 ? r.stdout + r.stderr : r.stderr).toMatch(c.out);
  });
});

describe('exec -u in a hostile image', () => {
  it('reads /etc/passwd inside the container root, never through a symlink to the host', async () => {
    // The same absolute path holds one account on the host and another in the image.
    const marker = join(dir, 'marker', 'passwd');
    mkdirSync(join(dir, 'marker'));
    writeFileSync(marker, 'intruder:x:4242:4242::/:/bin/sh\n');
    await hostileImage('passwd-link', (r) => {
      for (const applet of ['sleep', 'id']) symlinkSync('busybox', join(r, 'bin', applet));
      mkdirSync(join(r, dirname(marker)), { recursive: true });
      writeFileSync(join(r, marker), 'insider:x:777:777::/:/bin/sh\n');
      rmSync(join(r, 'etc/passwd'));
      symlinkSync(marker, join(r, 'etc/passwd'));
    });
    const name = `passwd-link-${String(process.pid)}`;
    const cli = (args: string[]): ReturnType<typeof tsdock> => tsdock(['--root', root, ...args]);
    const started = await cli([
      'run',
      '-d',
      '--name',
      name,
      '--cgroup-parent',
      parent,
      'hostile/passwd-link',
      'sleep',
      '300',
    ]);
    expect(started.stderr).toBe('');
    try {
      const insider = await cli(['exec', '-u', 'insider', name, 'id', '-u']);
      expect(insider).toMatchObject({ code: 0, stdout: '777\n', stderr: '' });
      const intruder = await cli(['exec', '-u', 'intruder', name, 'id', '-u']);
      expect(intruder.code).toBe(125);
      expect(intruder.stderr).toBe('tsdock: unable to find user intruder: no matching entries in passwd file\n');
    } finally {
      await cli(['rm', '-f', name]);
    }
  });
});
