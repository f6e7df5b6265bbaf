/**
 * Real registries for tests: Debian's `docker-registry` (distribution 2.8) on 127.0.0.1 with a
 * free port, a temp storage dir and a generated config; plain, htpasswd Basic over TLS (a CA the
 * test makes with openssl), or Bearer token auth (a tiny token issuer the test runs). Images are
 * made with `umoci` and uploaded with `skopeo`, so that nothing of tsdock's own writes them.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createPrivateKey, createSign, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import {
  createServer as createHttpServer,
  request as httpRequest,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer, request as httpsRequest } from 'node:https';
import { type AddressInfo } from 'node:net';
import { freePort } from './ports.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

export const run = promisify(execFile);

/** Runs a command; rejects with its stderr in the message. */
export async function sh(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<string> {
  try {
    const { stdout } = await run(cmd, args, { env: { ...process.env, ...env }, maxBuffer: 64 * 1024 * 1024 });
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')}: ${e.stderr ?? e.message}`);
  }
}

export interface Tls {
  dir: string;
  caCert: string;
  cert: string;
  key: string;
}

/** A self-signed RSA certificate and its key, valid two days. */
async function selfSigned(subject: string, keyFile: string, certFile: string): Promise<void> {
  const args = ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', subject];
  await sh('openssl', [...args, '-keyout', keyFile, '-out', certFile]);
}

/** A CA and a certificate for 127.0.0.1 signed by it, made with openssl. */
export async function makeTls(dir: string): Promise<Tls> {
  const p = (f: string): string => join(dir, f);
  await selfSigned('/CN=tsdock test CA', p('ca.key'), p('ca.crt'));
  await sh('openssl', [
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-subj',
    '/CN=127.0.0.1',
    '-keyout',
    p('server.key'),
    '-out',
    p('server.csr'),
  ]);
  await writeFile(
    p('ext.cnf'),
    'subjectAltName=IP:127.0.0.1,DNS:localhost\nkeyUsage=digitalSignature,keyEncipherment\n',
  );
  await sh('openssl', [
    'x509',
    '-req',
    '-in',
    p('server.csr'),
    '-CA',
    p('ca.crt'),
    '-CAkey',
    p('ca.key'),
    '-CAcreateserial',
    '-days',
    '2',
    '-extfile',
    p('ext.cnf'),
    '-out',
    p('server.crt'),
  ]);
  return { dir, caCert: p('ca.crt'), cert: p('server.crt'), key: p('server.key') };
}

export interface RegistryOptions {
  tls?: Tls;
  htpasswd?: { user: string; password: string };
  token?: TokenIssuer;
}

export interface Registry {
  host: string;
  port: number;
  dir: string;
  stop(): Promise<void>;
}

async function waitForPing(url: string, child: ChildProcess, log: () => string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`docker-registry exited: ${log()}`);
    const status = await new Promise<number>((resolve) => {
      const req = (url.startsWith('https') ? httpsRequest : httpRequest)(url, { rejectUnauthorized: false }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', () => {
        resolve(0);
      });
      req.end();
    });
    if (status === 200 || status === 401) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`docker-registry did not come up: ${log()}`);
}

/** Starts `docker-registry`; `stop()` kills it by PID and removes its storage. */
export async function startRegistry(options: RegistryOptions = {}): Promise<Registry> {
  const dir = await mkdtemp(join(tmpdir(), 'tsdock-registry-'));
  const port = await freePort();
  const lines = [
    'version: 0.1',
    'log:',
    '  level: error',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${join(dir, 'data')}`,
    '  delete:',
    '    enabled: true',
    'http:',
    `  addr: 127.0.0.1:${port}`,
    `  secret: ${randomBytes(16).toString('hex')}`,
  ];
  if (options.tls !== undefined) {
    lines.push('  tls:', `    certificate: ${options.tls.cert}`, `    key: ${options.tls.key}`);
  }
  if (options.htpasswd !== undefined) {
    const file = join(dir, 'htpasswd');
    await sh('htpasswd', ['-Bbc', file, options.htpasswd.user, options.htpasswd.password]);
    lines.push('auth:', '  htpasswd:', '    realm: tsdock-test', `    path: ${file}`);
  }
  if (options.token !== undefined) {
    lines.push(
      'auth:',
      '  token:',
      `    realm: ${options.token.realm}`,
      `    service: ${options.token.service}`,
      `    issuer: ${options.token.issuer}`,
      `    rootcertbundle: ${options.token.certFile}`,
    );
  }
  await writeFile(join(dir, 'config.yml'), lines.join('\n') + '\n');
  let output = '';
  const child = spawn('docker-registry', ['serve', join(dir, 'config.yml')], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const scheme = options.tls === undefined ? 'http' : 'https';
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.pid !== undefined) {
      process.kill(child.pid, 'SIGKILL');
      await new Promise((r) => child.once('exit', r));
    }
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await waitForPing(`${scheme}://127.0.0.1:${port}/v2/`, child, () => output);
  } catch (err) {
    await stop();
    throw err;
  }
  return { host: `127.0.0.1:${port}`, port, dir, stop };
}

export interface TokenIssuer {
  realm: string;
  service: string;
  issuer: string;
  certFile: string;
  /** Requests the issuer answered (to check scopes); a POST's form fields as the query. */
  requests: URL[];
  /** The OAuth refresh token (Docker's `identitytoken`) the issuer accepts for the user. */
  refreshToken: string;
  stop(): Promise<void>;
}

function base64url(data: Buffer | string): string {
  return Buffer.from(data).toString('base64url');
}

/**
 * A token issuer for distribution's `token` auth: RS256 JWTs signed with a key whose
 * certificate the registry trusts (`rootcertbundle`), granting what is asked to `user:password`
 * (and pull to anyone). Served over HTTPS with the test CA.
 */
export async function startTokenIssuer(tls: Tls, user: string, password: string): Promise<TokenIssuer> {
  const dir = await mkdtemp(join(tmpdir(), 'tsdock-token-'));
  const keyFile = join(dir, 'signing.key');
  const certFile = join(dir, 'signing.crt');
  await selfSigned('/CN=token signer', keyFile, certFile);
  const key = createPrivateKey(await readFile(keyFile));
  // x5c carries the DER certificate in plain base64: the PEM body.
  const der = (await readFile(certFile, 'utf8')).replace(/-----[^-]+-----|\s/g, '');
  const service = 'tsdock-test-registry';
  const issuer = 'tsdock-test-issuer';
  const requests: URL[] = [];
  const refreshToken = `refresh-${randomBytes(8).toString('hex')}`;
  const answer = (req: IncomingMessage, res: ServerResponse, url: URL): void => {
    requests.push(url);
    const refresh = url.searchParams.get('grant_type') === 'refresh_token';
    const header = req.headers.authorization ?? '';
    const basic = header.startsWith('Basic ') ? Buffer.from(header.slice(6), 'base64').toString() : undefined;
    // The OAuth2 refresh-token grant (POST, form-encoded) authenticates by the token alone.
    const given = refresh ? `${user}:${url.searchParams.get('refresh_token') ?? ''}` : basic;
    if (given !== undefined && given !== `${user}:${refresh ? refreshToken : password}`) {
      res.writeHead(401, { 'content-type': 'application/json' }).end('{"details":"incorrect username or password"}');
      return;
    }
    const scopes = refresh ? (url.searchParams.get('scope') ?? '').split(' ') : url.searchParams.getAll('scope');
    const access = scopes.flatMap((scope) => {
      const [type, name, actions] = scope.split(':');
      if (type !== 'repository' || name === undefined || actions === undefined) return [];
      const wanted = actions.split(',');
      return [{ type, name, actions: given === undefined ? wanted.filter((a) => a === 'pull') : wanted }];
    });
    const now = Math.floor(Date.now() / 1000);
    const head = { alg: 'RS256', typ: 'JWT', x5c: [der] };
    const claims = {
      iss: issuer,
      sub: given?.split(':')[0] ?? '',
      aud: service,
      exp: now + 300,
      nbf: now - 10,
      iat: now,
      jti: randomBytes(8).toString('hex'),
      access,
    };
    const signingInput = `${base64url(JSON.stringify(head))}.${base64url(JSON.stringify(claims))}`;
    const signature = createSign('RSA-SHA256').update(signingInput).sign(key);
    const token = `${signingInput}.${base64url(signature)}`;
    const body = refresh ? { access_token: token, expires_in: 300 } : { token, expires_in: 300 };
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  };
  const server = createHttpsServer({ key: await readFile(tls.key), cert: await readFile(tls.cert) }, (req, res) => {
    const url = new URL(req.url ?? '/', 'https://127.0.0.1');
    if (req.method !== 'POST') {
      answer(req, res, url);
      return;
    }
    let form = '';
    req.setEncoding('utf8').on('data', (d: string) => (form += d));
    req.on('end', () => {
      answer(req, res, new URL(`${url.pathname}?${form}`, 'https://127.0.0.1'));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await mkdir(dir, { recursive: true });
  return {
    realm: `https://127.0.0.1:${port}/token`,
    service,
    issuer,
    certFile,
    requests,
    refreshToken,
    stop: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface FileSpec {
  path: string;
  content?: string | Buffer;
  mode?: number;
  uid?: number;
  gid?: number;
  symlink?: string;
  hardlink?: string;
  dir?: boolean;
  /** Delete the path (the next layer then carries a whiteout). */
  remove?: boolean;
}

/**
 * Builds an OCI layout with umoci: one layer per entry of `layers`, each a set of files
 * (created in the bundle's rootfs, then `umoci repack`). Returns the layout dir; the image is
 * tagged `latest`.
 */
export async function buildLayout(work: string, layers: FileSpec[][]): Promise<string> {
  const layout = join(work, 'layout');
  const bundle = join(work, 'bundle');
  await sh('umoci', ['init', '--layout', layout]);
  await sh('umoci', ['new', '--image', `${layout}:latest`]);
  for (const files of layers) {
    await rm(bundle, { recursive: true, force: true });
    await sh('umoci', ['unpack', '--image', `${layout}:latest`, bundle]);
    const rootfs = join(bundle, 'rootfs');
    for (const f of files) {
      const target = join(rootfs, f.path);
      await mkdir(join(target, '..'), { recursive: true });
      if (f.remove === true) {
        await rm(target, { recursive: true });
        continue;
      }
      if (f.dir === true) await mkdir(target, { recursive: true });
      else if (f.symlink !== undefined) await sh('ln', ['-sfn', f.symlink, target]);
      else if (f.hardlink !== undefined) await sh('ln', ['-f', join(rootfs, f.hardlink), target]);
      else await writeFile(target, f.content ?? '');
      if (f.mode !== undefined) await sh('chmod', [f.mode.toString(8), target]);
      if (f.uid !== undefined) await sh('chown', ['-h', `${f.uid}:${f.gid ?? f.uid}`, target]);
    }
    await sh('umoci', ['repack', '--image', `${layout}:latest`, bundle]);
  }
  await sh('umoci', ['config', '--image', `${layout}:latest`, '--config.cmd', '/bin/true']);
  await rm(bundle, { recursive: true, force: true });
  return layout;
}

/** `skopeo copy` with the given extra flags, TLS verification off (the registries are local). */
export async function skopeoCopy(src: string, dest: string, extra: string[] = []): Promise<void> {
  await sh('skopeo', ['copy', '--quiet', '--src-tls-verify=false', '--dest-tls-verify=false', ...extra, src, dest]);
}

/** What a {@link startProxy} does to blob bodies passing through it. */
export interface ProxyBehaviour {
  /** Bytes per second for blob bodies (0: unthrottled). */
  throttle?: number;
  /** Flip one byte of blob bodies larger than this many bytes. */
  corruptOver?: number;
  /** Stop sending (without closing) after this many bytes of the first large blob body. */
  stallAfter?: number;
}

export interface Proxy {
  host: string;
  /** The Range header of every blob GET (or '' when none). */
  ranges: string[];
  behaviour: ProxyBehaviour;
  stop(): Promise<void>;
}

/**
 * A plain-HTTP proxy in front of a registry on 127.0.0.1 that can slow, corrupt or stall blob
 * bodies, for the tests of resuming, verification and idle timeouts.
 */
export async function startProxy(target: string, behaviour: ProxyBehaviour = {}): Promise<Proxy> {
  const ranges: string[] = [];
  let stalled = false;
  const server = createHttpServer((req, res) => {
    const isBlob = req.method === 'GET' && /\/blobs\/sha256:/.test(req.url ?? '');
    if (isBlob) ranges.push(req.headers.range ?? '');
    const upstream = httpRequest(
      `http://${target}${req.url ?? '/'}`,
      { method: req.method, headers: { ...req.headers, host: target } },
      (up) => {
        const size = Number(up.headers['content-length'] ?? 0);
        res.writeHead(up.statusCode ?? 502, up.headers);
        if (!isBlob || size < 64 * 1024) {
          up.pipe(res);
          return;
        }
        let sent = 0;
        let flipped = false;
        let throttling = false;
        // Resume only when both the client has drained and the throttle's pause is over.
        const resume = (): void => {
          if (!throttling && !res.writableNeedDrain) up.resume();
        };
        up.on('data', (chunk: Buffer) => {
          let out = chunk;
          if (behaviour.corruptOver !== undefined && size > behaviour.corruptOver && !flipped) {
            out = Buffer.from(chunk);
            out[0] = (out[0] ?? 0) ^ 0xff;
            flipped = true;
          }
          if (behaviour.stallAfter !== undefined && !stalled && sent + out.length > behaviour.stallAfter) {
            stalled = true;
            res.write(out.subarray(0, behaviour.stallAfter - sent));
            up.destroy();
            return; // the response stays open and silent
          }
          sent += out.length;
          const drained = res.write(out);
          const throttle = behaviour.throttle ?? 0;
          if (drained && throttle <= 0) return;
          up.pause();
          if (throttle > 0) {
            throttling = true;
            setTimeout(
              () => {
                throttling = false;
                resume();
              },
              (out.length / throttle) * 1000,
            );
          }
        });
        res.on('drain', resume);
        up.on('end', () => {
          if (!res.writableEnded && !(stalled && sent < size)) res.end();
        });
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    host: `127.0.0.1:${port}`,
    ranges,
    behaviour,
    stop: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}
