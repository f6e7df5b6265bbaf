/** The registry client's pure parts as tables, and its HTTP behaviour against tiny local servers. */
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { sha256Digest } from '../../src/image/digest.js';
import { parseChallenge } from '../../src/image/registry/auth.js';
import { RegistryClient, isLoopback } from '../../src/image/registry/client.js';
import { eraseCredentials, loadCredentials, storeCredentials } from '../../src/image/registry/credentials.js';
import { retryAfterMs } from '../../src/image/registry/http.js';
import { registryDomain } from '../../src/image/registry/login.js';
import { fetchManifest, parsePlatform, platformMatches, selectPlatform } from '../../src/image/registry/manifest.js';
import type { ImageIndex } from '../../src/image/oci.js';

describe('parseChallenge', () => {
  it.each([
    [
      'Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull"',
      {
        scheme: 'bearer',
        params: { realm: 'https://auth.example/token', service: 'registry.example', scope: 'repository:a/b:pull' },
      },
    ],
    ['Basic realm="Registry Realm"', { scheme: 'basic', params: { realm: 'Registry Realm' } }],
    ['bearer realm=https://a/t, service=x', { scheme: 'bearer', params: { realm: 'https://a/t', service: 'x' } }],
    ['Bearer realm="a\\"b"', { scheme: 'bearer', params: { realm: 'a"b' } }],
    ['Negotiate abc', undefined],
    [undefined, undefined],
  ])('%s', (header, expected) => {
    expect(parseChallenge(header)).toEqual(expected);
  });
});

describe('retryAfterMs', () => {
  it('reads seconds and HTTP dates, and caps them', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(retryAfterMs('3', now)).toBe(3000);
    expect(retryAfterMs('Thu, 01 Jan 2026 00:00:05 GMT', now)).toBe(5000);
    expect(retryAfterMs('100000', now)).toBe(60_000);
    expect(retryAfterMs('soon', now)).toBeUndefined();
    expect(retryAfterMs(undefined, now)).toBeUndefined();
  });
});

describe('platforms', () => {
  const index: ImageIndex = {
    schemaVersion: 2,
    manifests: [
      ['amd64', undefined],
      ['arm', 'v6'],
      ['arm', 'v7'],
      ['arm64', 'v8'],
    ].map(([architecture, variant], i) => ({
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      digest: sha256Digest(String(i)),
      size: i,
      platform: { os: 'linux', architecture: architecture ?? '', ...(variant === undefined ? {} : { variant }) },
    })),
  };
  it.each([
    ['linux/amd64', 0],
    ['linux/arm64', 3],
    ['linux/arm64/v8', 3],
    ['linux/arm', 2],
    ['linux/arm/v6', 1],
  ])('%s picks entry %d', (platform, entry) => {
    expect(selectPlatform(index, parsePlatform(platform), 'x')).toBe(index.manifests[entry]);
  });
  it('names what the index has when nothing matches', () => {
    expect(() => selectPlatform(index, parsePlatform('linux/s390x'), 'img')).toThrow(
      'img: no image for linux/s390x (the index has linux/amd64, linux/arm/v6, linux/arm/v7, linux/arm64/v8)',
    );
  });
  it('matches a missing variant to the default one', () => {
    expect(
      platformMatches({ os: 'linux', architecture: 'arm64' }, { os: 'linux', architecture: 'arm64', variant: 'v8' }),
    ).toBe(true);
    expect(platformMatches(undefined, { os: 'linux', architecture: 'amd64' })).toBe(false);
  });
  it.each(['linux', 'linux/', 'linux/amd64/v1/x', 'linux/am d64'])('refuses %j', (value) => {
    expect(() => parsePlatform(value)).toThrow(/invalid platform/);
  });
});

describe('registry names', () => {
  it.each([
    [undefined, 'docker.io'],
    ['https://index.docker.io/v1/', 'docker.io'],
    ['127.0.0.1:5000', '127.0.0.1:5000'],
    ['https://ghcr.io', 'ghcr.io'],
    ['localhost', 'localhost'],
  ])('registryDomain(%j) is %s', (server, domain) => {
    expect(registryDomain(server)).toBe(domain);
  });
  it('refuses what is no host', () => {
    expect(() => registryDomain('UPPER case')).toThrow();
  });
  it.each([
    ['localhost:5000', true],
    ['127.0.0.1', true],
    ['127.8.9.10:443', true],
    ['[::1]:5000', true],
    ['128.0.0.1', false],
    ['registry.local', false],
  ])('isLoopback(%s) is %s', (domain, expected) => {
    expect(isLoopback(domain)).toBe(expected);
  });
});

describe('credentials in config.json', () => {
  let dir: string;
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('stores, finds (also under https:// keys) and erases, keeping other keys', async () => {
    dir = await mkdtemp(join(tmpdir(), 'tsdock-creds-'));
    await writeFile(
      join(dir, 'config.json'),
      JSON.stringify({
        auths: { 'https://other.example/': { auth: Buffer.from('u:p').toString('base64') } },
        psFormat: 'x',
      }),
    );
    await storeCredentials('docker.io', { username: 'me', password: 'secret:with:colons' }, dir);
    const file = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
    expect(file.psFormat).toBe('x');
    expect(Object.keys(file.auths as object)).toContain('https://index.docker.io/v1/');
    expect(await loadCredentials('docker.io', dir)).toEqual({
      username: 'me',
      password: 'secret:with:colons',
      identityToken: undefined,
    });
    expect(await loadCredentials('other.example', dir)).toMatchObject({ username: 'u', password: 'p' });
    expect(await loadCredentials('nobody.example', dir)).toBeUndefined();
    expect(await eraseCredentials('docker.io', dir)).toBe(true);
    expect(await loadCredentials('docker.io', dir)).toBeUndefined();
    expect(await eraseCredentials('docker.io', dir)).toBe(false);
  });

  it('asks a docker-credential helper named by credHelpers', async () => {
    dir = await mkdtemp(join(tmpdir(), 'tsdock-creds-'));
    const helper = join(dir, 'docker-credential-fake');
    await writeFile(
      helper,
      `#!/bin/sh\nread server\n[ "$1" = get ] && [ "$server" = "reg.example:5000" ] && echo '{"ServerURL":"reg.example:5000","Username":"<token>","Secret":"refresh"}' && exit 0\necho "credentials not found in native keychain"; exit 1\n`,
    );
    await chmod(helper, 0o755);
    await writeFile(join(dir, 'config.json'), JSON.stringify({ credHelpers: { 'reg.example:5000': 'fake' } }));
    const path = process.env.PATH;
    process.env.PATH = `${dir}:${path ?? ''}`;
    try {
      expect(await loadCredentials('reg.example:5000', dir)).toEqual({
        username: '',
        password: '',
        identityToken: 'refresh',
      });
      expect(await loadCredentials('else.example', dir)).toBeUndefined();
    } finally {
      process.env.PATH = path;
    }
  });
});

describe('HTTP behaviour', () => {
  const servers: Server[] = [];
  afterEach(async () => {
    for (const s of servers.splice(0)) {
      s.closeAllConnections();
      await new Promise((r) => s.close(r));
    }
  });
  async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
    const server = createServer(handler);
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return `127.0.0.1:${(server.address() as AddressInfo).port}`;
  }
  const ok = (res: ServerResponse, body = '{}', type = 'application/json'): void => {
    res.writeHead(200, { 'content-type': type }).end(body);
  };

  it('retries a 503, honouring Retry-After', async () => {
    let calls = 0;
    const host = await serve((req, res) => {
      if (req.url === '/v2/') {
        ok(res);
        return;
      }
      if (++calls === 1) return res.writeHead(503, { 'retry-after': '0' }).end();
      ok(res, 'done');
    });
    const client = await RegistryClient.connect(host, { credentials: null });
    try {
      const res = await client.request({ method: 'GET', path: '/v2/x/blobs/y', scopes: [] });
      expect(await res.body.text()).toBe('done');
      expect(calls).toBe(2);
    } finally {
      await client.close();
    }
  });

  it('follows a redirect to another host without the Authorization header', async () => {
    const seen: (string | undefined)[] = [];
    const storage = await serve((req, res) => {
      seen.push(req.headers.authorization);
      ok(res, 'blob');
    });
    const host = await serve((req, res) => {
      if (req.headers.authorization === undefined) {
        return res.writeHead(401, { 'www-authenticate': 'Basic realm="r"' }).end();
      }
      if (req.url === '/v2/') {
        ok(res);
        return;
      }
      res.writeHead(307, { location: `http://${storage}/signed?x=1` }).end();
    });
    const client = await RegistryClient.connect(host, { credentials: { username: 'a', password: 'b' } });
    try {
      const res = await client.request({ method: 'GET', path: '/v2/x/blobs/y', scopes: [] });
      expect(await res.body.text()).toBe('blob');
      expect(seen).toEqual([undefined]);
    } finally {
      await client.close();
    }
  });

  it('caches a Bearer token per scope until it expires, and answers a fresh challenge', async () => {
    const issued: string[] = [];
    let accepted = 'none';
    const auth = await serve((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      const token = `t${issued.length}`;
      issued.push(`${url.searchParams.getAll('scope').join(' ')} ${req.headers.authorization ?? 'anonymous'}`);
      accepted = token;
      ok(res, JSON.stringify({ access_token: token, expires_in: 300 }));
    });
    const host = await serve((req, res) => {
      if (req.headers.authorization !== `Bearer ${accepted}`) {
        const scope = req.url === '/v2/' ? '' : ',scope="repository:x:pull"';
        res.writeHead(401, { 'www-authenticate': `Bearer realm="http://${auth}/token",service="svc"${scope}` }).end();
        return;
      }
      ok(res, 'ok');
    });
    const client = await RegistryClient.connect(host, { credentials: { username: 'u', password: 'p' } });
    try {
      const get = async (): Promise<string> =>
        (await client.request({ method: 'GET', path: '/v2/x/blobs/y', scopes: ['repository:x:pull'] })).body.text();
      expect(await get()).toBe('ok');
      expect(await get()).toBe('ok');
      expect(issued).toEqual([`repository:x:pull Basic ${Buffer.from('u:p').toString('base64')}`]);
      // The registry stops accepting the token (revoked): one fresh challenge, one new token.
      accepted = 'revoked';
      expect(await get()).toBe('ok');
      expect(issued).toHaveLength(2);
    } finally {
      await client.close();
    }
  });

  describe('manifests', () => {
    const manifest = JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256Digest('c'), size: 1 },
      layers: [],
    });
    async function fetchFrom(body: string, type: string, reference = '1'): Promise<unknown> {
      const host = await serve((req, res) => {
        if (req.url === '/v2/') {
          ok(res);
          return;
        }
        ok(res, body, type);
      });
      const client = await RegistryClient.connect(host, { credentials: null });
      try {
        return await fetchManifest(client, 'x', reference, []);
      } finally {
        await client.close();
      }
    }

    it('accepts a manifest whose type and digest check out', async () => {
      await expect(
        fetchFrom(manifest, 'application/vnd.oci.image.manifest.v1+json', sha256Digest(manifest)),
      ).resolves.toMatchObject({
        digest: sha256Digest(manifest),
      });
    });
    it('refuses schema 1 by name', async () => {
      const v1 = JSON.stringify({ schemaVersion: 1, name: 'x', tag: '1', fsLayers: [] });
      await expect(fetchFrom(v1, 'application/vnd.docker.distribution.manifest.v1+prettyjws')).rejects.toThrow(
        /schema 1 is not supported/,
      );
      await expect(fetchFrom(v1, 'application/json')).rejects.toThrow(/schema 1 is not supported/);
    });
    it('refuses a body that is not what the header says', async () => {
      await expect(fetchFrom(manifest, 'application/vnd.oci.image.index.v1+json')).rejects.toThrow(
        /served as application\/vnd.oci.image.index.v1\+json but the body says/,
      );
    });
    it('refuses content that does not match the digest asked for', async () => {
      await expect(
        fetchFrom(manifest, 'application/vnd.oci.image.manifest.v1+json', sha256Digest('other')),
      ).rejects.toThrow(/manifest digest mismatch/);
    });
    it('refuses a manifest over the size cap', async () => {
      await expect(
        fetchFrom(' '.repeat(5 * 1024 * 1024), 'application/vnd.oci.image.manifest.v1+json'),
      ).rejects.toThrow(/over the 4194304-byte limit/);
    });
  });
});
