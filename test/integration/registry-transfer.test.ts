/**
 * The hard cases of moving images, against a real registry behind a proxy this test controls:
 * a pull killed with kill -9 and resumed with Range, two processes pulling at once, a corrupted
 * blob, a stalling registry, multi-platform indexes, and pushes read back by skopeo.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256Digest } from '../../src/image/digest.js';
import { openImageStore } from '../../src/image/store.js';
import { pullImage } from '../../src/image/registry/pull.js';
import { pushImage } from '../../src/image/registry/push.js';
import { TransferStore } from '../../src/image/registry/transfer-store.js';
import { repoRoot, tsdock } from '../helpers/host.js';
import {
  buildLayout,
  sh,
  skopeoCopy,
  startProxy,
  startRegistry,
  type Proxy,
  type Registry,
} from '../helpers/registry.js';

/** Incompressible, so the gzip blob is as large as the file and a throttled download takes a while. */
const BIG = randomBytes(6 * 1024 * 1024);

async function blobNames(root: string): Promise<string[]> {
  return (await readdir(join(root, 'blobs', 'sha256'))).sort();
}

async function completeLayers(root: string): Promise<string[]> {
  return (await readdir(join(root, 'layers'))).filter((n) => !n.startsWith('.'));
}

async function waitFor(check: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('registry transfers', () => {
  let work: string;
  let registry: Registry;
  let proxy: Proxy;
  let layout: string;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'tsdock-transfer-'));
    registry = await startRegistry();
    proxy = await startProxy(registry.host);
    layout = await buildLayout(join(work, 'image'), [
      [{ path: 'data/big', content: BIG }],
      [{ path: 'etc/small', content: 'small\n' }],
    ]);
    await skopeoCopy(`oci:${layout}:latest`, `docker://${registry.host}/test/big:1`);
  });

  afterAll(async () => {
    await proxy.stop();
    await registry.stop();
    await rm(work, { recursive: true, force: true });
  });

  it('a pull killed with kill -9 mid-blob leaves the store consistent; the next one resumes with Range', async () => {
    const root = join(work, 'root-kill');
    proxy.behaviour.throttle = 2 * 1024 * 1024;
    proxy.ranges.length = 0;
    const child = spawn(
      process.execPath,
      [join(repoRoot, 'bin/tsdock.js'), '--root', root, 'pull', '-q', `${proxy.host}/test/big:1`],
      {
        stdio: 'ignore',
      },
    );
    const exited = new Promise((r) => child.once('exit', r));
    try {
      await waitFor(
        async () => {
          const names = await readdir(join(root, 'downloads')).catch(() => []);
          // A small layer's partial may be renamed into blobs/ between readdir and stat.
          const sizes = await Promise.all(
            names.map((n) =>
              stat(join(root, 'downloads', n)).then(
                (s) => s.size,
                () => 0,
              ),
            ),
          );
          return sizes.some((s) => s > 1024 * 1024);
        },
        20_000,
        'a partial download',
      );
    } finally {
      child.kill('SIGKILL');
      await exited;
    }
    expect(child.signalCode).toBe('SIGKILL'); // killed mid-pull, not finished before
    const store = await openImageStore(root);
    expect(await store.list()).toEqual([]);
    // The small layer may have completed (verified: it stays, for the next pull); the big one not.
    for (const layer of await completeLayers(root)) {
      expect(await readdir(join(root, 'layers', layer))).not.toContain('data');
    }
    const partial = (await readdir(join(root, 'downloads')))[0] ?? '';
    const partialSize = (await stat(join(root, 'downloads', partial))).size;
    expect(await blobNames(root)).not.toContain(partial);

    proxy.behaviour.throttle = 0;
    proxy.ranges.length = 0;
    const res = await tsdock(['--root', root, 'pull', `${proxy.host}/test/big:1`]);
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    expect(res.stdout).toContain('Resuming download');
    const resumedFrom = proxy.ranges.map((r) => Number(/^bytes=(\d+)-$/.exec(r)?.[1] ?? -1));
    expect(resumedFrom.some((n) => n >= partialSize)).toBe(true);
    expect(await blobNames(root)).toContain(partial);
    expect(sha256Digest(await readFile(join(root, 'blobs', 'sha256', partial)))).toBe(`sha256:${partial}`);
    expect(await readdir(join(root, 'downloads'))).toEqual([]);
    const image = await (await openImageStore(root)).resolve(`${proxy.host}/test/big:1`);
    // Buffer.equals: vitest's deep equality is very slow on megabytes.
    expect((await readFile(join(image.layerDirs[0] ?? '', 'data/big'))).equals(BIG)).toBe(true);
  });

  it('two processes pulling the same image at once both succeed and store each blob once', async () => {
    const root = join(work, 'root-twice');
    proxy.behaviour.throttle = 8 * 1024 * 1024;
    try {
      const [a, b] = await Promise.all([
        tsdock(['--root', root, 'pull', '-q', `${proxy.host}/test/big:1`]),
        tsdock(['--root', root, 'pull', '-q', `${proxy.host}/test/big:1`]),
      ]);
      expect([a.code, a.stderr, b.code, b.stderr]).toEqual([0, '', 0, '']);
    } finally {
      proxy.behaviour.throttle = 0;
    }
    // Two layers, the config and the manifest; the big layer was fetched once.
    expect(await blobNames(root)).toHaveLength(4);
    expect(proxy.ranges.filter((r) => r === '').length).toBeGreaterThan(0);
    expect(await completeLayers(root)).toHaveLength(2);
    expect(await (await openImageStore(root)).list()).toHaveLength(1);
  });

  it('a blob whose content does not match its digest: a clear error, nothing stored', async () => {
    const root = join(work, 'root-corrupt');
    await openImageStore(root);
    const bad = await startProxy(registry.host, { corruptOver: 64 * 1024 });
    try {
      const pull = pullImage(new TransferStore(root), `${bad.host}/test/big:1`);
      await expect(pull).rejects.toMatchObject({ code: 'INVALID_IMAGE' });
      await expect(pull).rejects.toThrow(/digest mismatch/);
    } finally {
      await bad.stop();
    }
    // The small layer may have arrived (verified) before the big one failed; the big one did not.
    for (const blob of await blobNames(root)) {
      expect(sha256Digest(await readFile(join(root, 'blobs', 'sha256', blob)))).toBe(`sha256:${blob}`);
    }
    for (const layer of await completeLayers(root)) {
      expect(await readdir(join(root, 'layers', layer))).not.toContain('data');
    }
    expect(await readdir(join(root, 'downloads'))).toEqual([]);
    expect(await (await openImageStore(root)).list()).toEqual([]);
  });

  it('a registry that stalls mid-blob: the idle read times out and the pull resumes where it stopped', async () => {
    const root = join(work, 'root-stall');
    await openImageStore(root);
    const stalling = await startProxy(registry.host, { stallAfter: 1024 * 1024 });
    try {
      await pullImage(new TransferStore(root), `${stalling.host}/test/big:1`, { idleTimeout: 1000 });
      expect(stalling.ranges).toContain(`bytes=${1024 * 1024}-`);
    } finally {
      await stalling.stop();
    }
  });

  it('picks the platform asked for from a multi-platform index', async () => {
    const arm = await buildLayout(join(work, 'arm'), [[{ path: 'etc/arch', content: 'arm64\n' }]]);
    await sh('umoci', ['config', '--image', `${arm}:latest`, '--architecture', 'arm64']);
    await skopeoCopy(`oci:${arm}:latest`, `docker://${registry.host}/test/multi:arm64`);
    const entries = [];
    for (const [tag, architecture] of [
      ['1', 'amd64'],
      ['arm64', 'arm64'],
    ] as const) {
      const repo = tag === '1' ? 'test/big' : 'test/multi';
      const raw = Buffer.from(
        await sh('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${registry.host}/${repo}:${tag}`]),
      );
      entries.push({
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        digest: sha256Digest(raw),
        size: raw.length,
        platform: { os: 'linux', architecture },
      });
      if (repo !== 'test/multi')
        await skopeoCopy(
          `docker://${registry.host}/${repo}:${tag}`,
          `docker://${registry.host}/test/multi:${architecture}`,
          ['--preserve-digests'],
        );
    }
    const index = JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: entries,
    });
    const put = await fetch(`http://${registry.host}/v2/test/multi/manifests/latest`, {
      method: 'PUT',
      headers: { 'content-type': 'application/vnd.oci.image.index.v1+json' },
      body: index,
    });
    expect(put.status).toBe(201);

    const root = join(work, 'root-multi');
    await openImageStore(root);
    const armPull = await pullImage(new TransferStore(root), `${registry.host}/test/multi:latest`, {
      platform: { os: 'linux', architecture: 'arm64' },
    });
    expect(armPull.digest).toBe(sha256Digest(index));
    const store = await openImageStore(root);
    const armConfig = JSON.parse(
      await sh('skopeo', [
        'inspect',
        '--config',
        '--raw',
        '--tls-verify=false',
        `docker://${registry.host}/test/multi:arm64`,
      ]),
    ) as { architecture: string };
    expect(armConfig.architecture).toBe('arm64');
    const amdPull = await pullImage(new TransferStore(root), `${registry.host}/test/multi:latest`, {
      platform: { os: 'linux', architecture: 'amd64' },
    });
    expect(amdPull.id).not.toBe(armPull.id);
    expect((await store.list()).map((i) => i.id)).toContain(amdPull.id);
    await expect(
      pullImage(new TransferStore(root), `${registry.host}/test/multi:latest`, {
        platform: { os: 'linux', architecture: 's390x' },
      }),
    ).rejects.toThrow(/no image for linux\/s390x \(the index has linux\/amd64, linux\/arm64\)/);
    const cli = await tsdock([
      '--root',
      root,
      'pull',
      '-q',
      '--platform',
      'linux/arm64',
      `${registry.host}/test/multi:latest`,
    ]);
    expect([cli.code, cli.stderr]).toEqual([0, '']);
    const wrong = await tsdock(['--root', root, 'pull', '--platform', 'linux', `${registry.host}/test/multi:latest`]);
    expect([wrong.code, wrong.stderr]).toEqual([125, 'tsdock: invalid platform "linux": expected os/arch[/variant]\n']);
  });

  for (const chunkSize of [undefined, 1024 * 1024]) {
    const mode = chunkSize === undefined ? 'monolithic' : 'chunked';
    it(`pushes (${mode} uploads) an image that skopeo reads back bit-identical`, async () => {
      const root = join(work, `root-push-${mode}`);
      await openImageStore(root);
      await pullImage(new TransferStore(root), `${registry.host}/test/big:1`);
      const store = await openImageStore(root);
      // The same registry under another name, so no cross-repository mount: every blob travels.
      const target = `localhost:${registry.port}/pushed/${mode}:v1`;
      await store.tag(`${registry.host}/test/big:1`, target);
      const events: string[] = [];
      const pushed = await pushImage(new TransferStore(root), target, {
        chunkSize,
        onProgress: (e) => {
          if (e.type === 'layer' && e.status !== 'pushing') events.push(e.status);
        },
      });
      expect(events.sort()).toEqual(['pushed', 'pushed', 'pushed']);
      const out = join(work, `readback-${mode}`);
      await skopeoCopy(`docker://${registry.host}/pushed/${mode}:v1`, `oci:${out}:v1`, ['--preserve-digests']);
      await sh('oci-image-tool', ['validate', '--type', 'image', '--ref', 'name=v1', out]);
      const index = JSON.parse(await readFile(join(out, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
      expect(index.manifests[0]?.digest).toBe(pushed.digest);
      for (const blob of await readdir(join(out, 'blobs', 'sha256'))) {
        const theirs = await readFile(join(out, 'blobs', 'sha256', blob));
        expect(theirs.equals(await readFile(join(root, 'blobs', 'sha256', blob)))).toBe(true);
      }
      // Pushed again: the registry has every blob.
      const again: string[] = [];
      await pushImage(new TransferStore(root), target, {
        onProgress: (e) => {
          if (e.type === 'layer') again.push(e.status);
        },
      });
      expect(again).toEqual(['exists', 'exists', 'exists']);
    });
  }
});
