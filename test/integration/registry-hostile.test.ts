/**
 * Registries that lie, which the real one cannot be told to do: a small HTTP(S) server on
 * 127.0.0.1 serves one image and, per case, one lie — a config over the size cap or not matching
 * its digest, a layer whose content is not the config's diff_id, a malformed digest, an index
 * where a manifest belongs, a token service answering junk, a plain-HTTP token realm on another
 * host, a redirect from HTTPS to HTTP, foreign layer URLs. Each pull is refused with one clear
 * error (or, for foreign URLs, served from the registry only) and the store is left as it was.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { sha256Digest } from '../../src/image/digest.js';
import { MEDIA_TYPE } from '../../src/image/oci.js';
import { pullImage } from '../../src/image/registry/pull.js';
import { TransferStore } from '../../src/image/registry/transfer-store.js';
import { openImageStore } from '../../src/image/store.js';
import { writeTar } from '../../src/image/tar-writer.js';
import { rejection } from '../helpers/errors.js';
import { makeTls, type Tls } from '../helpers/registry.js';
import { tarEntry } from '../helpers/tar.js';

let dir: string;
let tls: Tls;
const servers: Server[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tsdock-hostile-registry-'));
  tls = await makeTls(dir);
});

afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

async function listen(server: Server): Promise<string> {
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `127.0.0.1:${String((server.address() as AddressInfo).port)}`;
}

const serve = (handler: Handler): Promise<string> => listen(createServer(handler));

/** A layer (gzip of a one-file tar), its config and manifest, as a registry would serve them. */
async function image(): Promise<{ layer: Buffer; diffId: string; config: Record<string, unknown> }> {
  const content = Buffer.from('hello\n');
  async function* body(): AsyncGenerator<Buffer> {
    yield await Promise.resolve(content);
  }
  async function* entries(): AsyncGenerator<ReturnType<typeof tarEntry>> {
    yield await Promise.resolve(tarEntry({ path: 'hello', size: content.length, body: body() }));
  }
  const chunks: Buffer[] = [];
  for await (const chunk of writeTar(entries())) chunks.push(chunk);
  const tar = Buffer.concat(chunks);
  const config = {
    architecture: 'amd64',
    os: 'linux',
    config: {},
    rootfs: { type: 'layers', diff_ids: [sha256Digest(tar)] },
  };
  return { layer: gzipSync(tar), diffId: sha256Digest(tar), config };
}

interface Lie {
  /** Changes what is served before the server starts. */
  config?: (config: Record<string, unknown>) => void;
  configDescriptor?: (d: { mediaType: string; digest: string; size: number }) => void;
  layerDescriptor?: (d: Record<string, unknown>) => void;
  /** The bytes served for the config blob, whatever its digest. */
  configBytes?: (real: Buffer) => Buffer;
  /** Documents served for given references instead of the manifest (which is served for the rest). */
  manifests?: (real: Buffer) => Map<string, { body: Buffer; type: string }>;
}

/** The image's documents with the lie applied; blobs served by digest as listed. */
interface Documents {
  manifest: { body: Buffer; type: string };
  byReference: Map<string, { body: Buffer; type: string }>;
  blobs: Map<string, Buffer>;
}

async function documents(lie: Lie): Promise<Documents> {
  const { layer, config } = await image();
  lie.config?.(config);
  const configReal = Buffer.from(JSON.stringify(config));
  const configDescriptor = {
    mediaType: MEDIA_TYPE.ociConfig,
    digest: sha256Digest(configReal),
    size: configReal.length,
  };
  lie.configDescriptor?.(configDescriptor);
  const layerDescriptor: Record<string, unknown> = {
    mediaType: MEDIA_TYPE.ociLayerGzip,
    digest: sha256Digest(layer),
    size: layer.length,
  };
  lie.layerDescriptor?.(layerDescriptor);
  const manifestReal = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA_TYPE.ociManifest,
      config: configDescriptor,
      layers: [layerDescriptor],
    }),
  );
  const blobs = new Map([
    [configDescriptor.digest, lie.configBytes?.(configReal) ?? configReal],
    [sha256Digest(layer), layer],
  ]);
  const manifest = { body: manifestReal, type: MEDIA_TYPE.ociManifest };
  return {
    manifest,
    byReference: lie.manifests?.(manifestReal) ?? new Map<string, { body: Buffer; type: string }>(),
    blobs,
  };
}

/** A registry for `repo` serving the documents; `gate` may answer a request itself first. */
function registryHandler(
  docs: Documents,
  gate: (req: IncomingMessage, res: ServerResponse) => boolean = () => false,
): Handler {
  return (req, res) => {
    if (gate(req, res)) return;
    const url = req.url ?? '/';
    if (url === '/v2/') return void res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    if (url.startsWith('/v2/x/app/manifests/')) {
      const doc = docs.byReference.get(url.slice('/v2/x/app/manifests/'.length)) ?? docs.manifest;
      return void res.writeHead(200, { 'content-type': doc.type }).end(doc.body);
    }
    const blob = /^\/v2\/x\/app\/blobs\/(sha256:[0-9a-f]{64})$/.exec(url)?.[1];
    const bytes = blob === undefined ? undefined : docs.blobs.get(blob);
    if (bytes === undefined) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(bytes);
  };
}

/** A fresh store root and what it holds: the same after a refused pull as before it. */
async function freshStore(): Promise<{ root: string; state: () => Promise<unknown> }> {
  const root = await mkdtemp(join(dir, 'root-'));
  const store = await openImageStore(root);
  const state = async (): Promise<unknown> => ({
    images: await store.list(),
    blobs: await readdir(join(root, 'blobs', 'sha256')),
    layers: await readdir(join(root, 'layers')),
  });
  return { root, state };
}

describe('a registry that lies', () => {
  const other = sha256Digest('something else');
  it.each<[string, Lie, RegExp]>([
    [
      'a config over the size cap',
      { configDescriptor: (d) => void (d.size = 17 * 1024 * 1024) },
      /: config of 17825792 bytes is too large$/,
    ],
    [
      'a config whose content does not match its digest',
      { configBytes: (real) => Buffer.from(real.toString().replace('amd64', 'arm64')) },
      /digest mismatch: the registry sent content with digest sha256:/,
    ],
    [
      "a layer whose content is not the config's diff_id",
      { config: (c) => void ((c.rootfs as { diff_ids: string[] }).diff_ids = [other]) },
      new RegExp(`layer 1 \\(sha256:[0-9a-f]{64}\\): layer content does not match its diff_id: expected ${other}`),
    ],
    [
      'a malformed layer digest',
      { layerDescriptor: (d) => void (d.digest = 'sha256:../../../etc/passwd') },
      /layers\[0\]\.digest/,
    ],
    [
      'an index where an index entry promises a manifest',
      {
        manifests: (real) => {
          const index = (mediaType: string, digest: string, size: number): Buffer =>
            Buffer.from(
              JSON.stringify({
                schemaVersion: 2,
                mediaType: MEDIA_TYPE.ociIndex,
                manifests: [{ mediaType, digest, size, platform: { os: 'linux', architecture: 'amd64' } }],
              }),
            );
          const inner = index(MEDIA_TYPE.ociManifest, sha256Digest(real), real.length);
          const outer = index(MEDIA_TYPE.ociManifest, sha256Digest(inner), inner.length);
          return new Map([
            ['1', { body: outer, type: MEDIA_TYPE.ociIndex }],
            [sha256Digest(inner), { body: inner, type: MEDIA_TYPE.ociIndex }],
          ]);
        },
      },
      /x\/app:1: index entry sha256:[0-9a-f]{64} is an index, not a manifest/,
    ],
  ])('%s: refused, nothing stored', async (_name, lie, message) => {
    const host = await serve(registryHandler(await documents(lie)));
    const { root, state } = await freshStore();
    const before = await state();
    const err = await rejection(pullImage(new TransferStore(root), `${host}/x/app:1`, { credentials: null }));
    expect(err.message).toMatch(message);
    expect(err.message.split('\n')).toHaveLength(1);
    expect(await state()).toEqual(before);
  });

  it('foreign layer URLs are never fetched: the layer comes from the registry by digest', async () => {
    const asked: string[] = [];
    const elsewhere = await serve((req, res) => {
      asked.push(req.url ?? '');
      res.writeHead(500).end();
    });
    const docs = await documents({
      layerDescriptor: (d) => {
        d.mediaType = 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip';
        d.urls = [`http://${elsewhere}/layer.tar.gz`];
      },
    });
    const host = await serve(registryHandler(docs));
    const { root } = await freshStore();
    await pullImage(new TransferStore(root), `${host}/x/app:1`, { credentials: null });
    expect(asked).toEqual([]);
  });
});

describe('a registry whose authentication lies', () => {
  it('a token service answering junk: refused, nothing stored', async () => {
    const tokens = await serve((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('<html>'));
    const docs = await documents({});
    const host = await serve(
      registryHandler(docs, (req, res) => {
        if (req.headers.authorization !== undefined) return false;
        res.writeHead(401, { 'www-authenticate': `Bearer realm="http://${tokens}/token",service="r"` }).end();
        return true;
      }),
    );
    const { root, state } = await freshStore();
    const before = await state();
    const err = await rejection(pullImage(new TransferStore(root), `${host}/x/app:1`, { credentials: null }));
    expect(err.message).toBe(`${host}: token service answered with malformed JSON`);
    expect(await state()).toEqual(before);
  });

  it('credentials are never sent in clear text to a token realm on another host', async () => {
    const seen: (string | undefined)[] = [];
    // `localhost` is another host name than the registry's 127.0.0.1.
    const tokens = await serve((req, res) => {
      seen.push(req.headers.authorization);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"token":"t"}');
    });
    const realm = `http://localhost:${tokens.split(':')[1] ?? ''}/token`;
    const host = await serve(
      registryHandler(await documents({}), (req, res) => {
        if (req.headers.authorization === 'Bearer t') return false;
        res.writeHead(401, { 'www-authenticate': `Bearer realm="${realm}",service="r"` }).end();
        return true;
      }),
    );
    const { root, state } = await freshStore();
    const before = await state();
    const credentials = { username: 'alice', password: 'secret' };
    const err = await rejection(pullImage(new TransferStore(root), `${host}/x/app:1`, { credentials }));
    expect(err.message).toBe(
      `${host}: refusing to send credentials to the token service http://localhost:${tokens.split(':')[1] ?? ''} over plain HTTP`,
    );
    expect(seen).toEqual([]);
    expect(await state()).toEqual(before);
  });

  it('a redirect from HTTPS to plain HTTP is refused, and the HTTP side hears nothing', async () => {
    const asked: string[] = [];
    const plain = await serve((req, res) => {
      asked.push(req.url ?? '');
      res.writeHead(404).end();
    });
    const docs = await documents({});
    const handler = registryHandler(docs, (req, res) => {
      if (!(req.url ?? '').includes('/blobs/')) return false;
      res.writeHead(307, { location: `http://${plain}${req.url ?? ''}` }).end();
      return true;
    });
    const [cert, key] = await Promise.all([readFile(tls.cert), readFile(tls.key)]);
    const host = await listen(createHttpsServer({ cert, key }, handler));
    const { root, state } = await freshStore();
    const before = await state();
    const ca = [await readFile(tls.caCert, 'utf8')];
    const err = await rejection(pullImage(new TransferStore(root), `${host}/x/app:1`, { credentials: null, ca }));
    expect(err.message).toMatch(
      new RegExp(`${host}: refusing a redirect from HTTPS to http://${plain} \\(a downgrade to plain HTTP\\)`),
    );
    expect(asked).toEqual([]);
    expect(await state()).toEqual(before);
  });
});
