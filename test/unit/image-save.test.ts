import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { digestHex, sha256Digest, type Digest } from '../../src/image/digest.js';
import { MEDIA_TYPE, type ImageManifest } from '../../src/image/oci.js';
import { archiveEntries, type ArchiveFormat, type StoredImage } from '../../src/image/save.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

/** A one-layer image stored with a Docker v2 manifest and a gzip layer, its blobs in a temp dir. */
async function dockerV2Image(): Promise<{ image: StoredImage; blobs: string; scratch: string; diffId: Digest }> {
  const blobs = await mkdtemp(join(tmpdir(), 'tsdock-save-blobs-'));
  const scratch = await mkdtemp(join(tmpdir(), 'tsdock-save-scratch-'));
  dirs.push(blobs, scratch);
  const tar = Buffer.alloc(2048, 7);
  const diffId = sha256Digest(tar);
  const layer = gzipSync(tar);
  const config = {
    architecture: 'amd64',
    os: 'linux',
    config: {},
    rootfs: { type: 'layers' as const, diff_ids: [diffId] },
  };
  const configBytes = Buffer.from(JSON.stringify(config));
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: MEDIA_TYPE.dockerManifest,
    config: { mediaType: MEDIA_TYPE.dockerConfig, digest: sha256Digest(configBytes), size: configBytes.length },
    layers: [{ mediaType: MEDIA_TYPE.dockerLayerGzip, digest: sha256Digest(layer), size: layer.length }],
  };
  const manifestBytes = Buffer.from(JSON.stringify(manifest));
  for (const bytes of [configBytes, layer, manifestBytes])
    await writeFile(join(blobs, digestHex(sha256Digest(bytes))), bytes);
  const image: StoredImage = {
    id: sha256Digest(configBytes),
    manifestDigest: sha256Digest(manifestBytes),
    manifestBytes,
    manifest,
    config,
    names: ['docker.io/library/app:1', 'localhost:5000/app:2'],
  };
  return { image, blobs, scratch, diffId };
}

/** The archive's members, bodies read into memory. */
async function members(format: ArchiveFormat, fixture: Awaited<ReturnType<typeof dockerV2Image>>) {
  const sources = { blobPath: (d: Digest) => join(fixture.blobs, digestHex(d)), scratch: fixture.scratch };
  const out = new Map<string, Buffer>();
  for await (const entry of archiveEntries([fixture.image], format, sources)) {
    const chunks: Buffer[] = [];
    for await (const chunk of entry.body ?? []) chunks.push(chunk);
    out.set(entry.path, Buffer.concat(chunks));
    expect(Buffer.concat(chunks).length).toBe(entry.size);
  }
  return out;
}

const json = (bytes: Buffer | undefined): unknown => JSON.parse(bytes?.toString() ?? 'null');

describe('archiveEntries', () => {
  it('oci: rewrites a Docker v2 manifest with OCI media types; one index entry per name', async () => {
    const fixture = await dockerV2Image();
    const out = await members('oci', fixture);
    const index = json(out.get('index.json')) as { manifests: { digest: string; annotations: object }[] };
    expect(index.manifests.map((m) => m.annotations)).toEqual([
      { 'io.containerd.image.name': 'docker.io/library/app:1', 'org.opencontainers.image.ref.name': '1' },
      { 'io.containerd.image.name': 'localhost:5000/app:2', 'org.opencontainers.image.ref.name': '2' },
    ]);
    const digest = index.manifests[0]?.digest ?? '';
    expect(digest).not.toBe(fixture.image.manifestDigest);
    const manifestBytes = out.get(`blobs/sha256/${digest.slice('sha256:'.length)}`);
    expect(sha256Digest(manifestBytes ?? Buffer.alloc(0))).toBe(digest);
    expect(json(manifestBytes)).toMatchObject({
      mediaType: MEDIA_TYPE.ociManifest,
      config: { mediaType: MEDIA_TYPE.ociConfig, digest: fixture.image.id },
      layers: [{ mediaType: MEDIA_TYPE.ociLayerGzip, digest: fixture.image.manifest.layers[0]?.digest }],
    });
    expect(json(out.get('oci-layout'))).toEqual({ imageLayoutVersion: '1.0.0' });
    expect(out.has('manifest.json')).toBe(false);
  });

  it('docker: manifest.json with familiar RepoTags and the layer uncompressed under its diff ID', async () => {
    const fixture = await dockerV2Image();
    const out = await members('docker', fixture);
    const layerPath = `blobs/sha256/${digestHex(fixture.diffId)}`;
    expect(json(out.get('manifest.json'))).toEqual([
      {
        Config: `blobs/sha256/${digestHex(fixture.image.id)}`,
        RepoTags: ['app:1', 'localhost:5000/app:2'],
        Layers: [layerPath],
      },
    ]);
    expect(sha256Digest(out.get(layerPath) ?? Buffer.alloc(0))).toBe(fixture.diffId);
    expect(out.has(`blobs/sha256/${digestHex(fixture.image.manifest.layers[0]?.digest ?? fixture.diffId)}`)).toBe(
      false,
    );
  });

  it('docker: a layer that does not decompress to its diff ID is an error', async () => {
    const fixture = await dockerV2Image();
    const wrong = sha256Digest('something else');
    const image = {
      ...fixture.image,
      config: { ...fixture.image.config, rootfs: { type: 'layers' as const, diff_ids: [wrong] } },
    };
    await expect(members('docker', { ...fixture, image })).rejects.toMatchObject({
      code: 'STORE',
      message: expect.stringContaining(`not its diff ID ${wrong}`) as unknown,
    });
  });
});
