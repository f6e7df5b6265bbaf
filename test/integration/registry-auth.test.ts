/**
 * Authentication against real registries: htpasswd Basic over TLS (a CA this test makes), and
 * Bearer tokens from a token issuer this test runs. The CLI is driven as a user would.
 */
import { chmod, copyFile, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TsdockError } from '../../src/errors.js';
import { openImageStore } from '../../src/image/store.js';
import { pullImage } from '../../src/image/registry/pull.js';
import { pushImage } from '../../src/image/registry/push.js';
import { TransferStore } from '../../src/image/registry/transfer-store.js';
import { tsdock } from '../helpers/host.js';
import {
  buildLayout,
  makeTls,
  sh,
  skopeoCopy,
  startRegistry,
  startTokenIssuer,
  type Registry,
  type Tls,
  type TokenIssuer,
} from '../helpers/registry.js';

const PASSWORD = 'pa55-w0rd-never-printed';

describe('registry authentication', () => {
  let work: string;
  let tls: Tls;
  let layout: string;
  let basic: Registry;
  let issuer: TokenIssuer;
  let bearer: Registry;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'tsdock-auth-'));
    tls = await makeTls(work);
    layout = await buildLayout(join(work, 'image'), [[{ path: 'etc/greeting', content: 'hi\n' }]]);
    basic = await startRegistry({ tls, htpasswd: { user: 'alice', password: PASSWORD } });
    issuer = await startTokenIssuer(tls, 'bob', PASSWORD);
    // skopeo reads *.crt in a cert dir as CAs (and *.key as client keys: hence a dir of its own).
    await mkdir(join(work, 'certs'));
    await copyFile(tls.caCert, join(work, 'certs', 'ca.crt'));
    bearer = await startRegistry({ token: issuer });
    await skopeoCopy(`oci:${layout}:latest`, `docker://${basic.host}/team/app:1`, [`--dest-creds=alice:${PASSWORD}`]);
    await skopeoCopy(`oci:${layout}:latest`, `docker://${bearer.host}/team/app:1`, [
      `--dest-creds=bob:${PASSWORD}`,
      `--dest-cert-dir=${join(work, 'certs')}`,
    ]);
  });

  afterAll(async () => {
    await basic.stop();
    await bearer.stop();
    await issuer.stop();
    await rm(work, { recursive: true, force: true });
  });

  describe('htpasswd Basic over TLS', () => {
    const env = (): NodeJS.ProcessEnv => ({ DOCKER_CONFIG: join(work, 'docker'), NODE_EXTRA_CA_CERTS: tls.caCert });
    const root = (): string => join(work, 'root-basic');

    it('refuses an untrusted certificate with a clear message, and --tls-verify=false skips the check', async () => {
      const untrusted = await tsdock(['--root', root(), 'pull', `${basic.host}/team/app:1`], {
        env: { DOCKER_CONFIG: join(work, 'nobody') },
      });
      expect(untrusted.code).toBe(125);
      expect(untrusted.stderr).toMatch(/TLS certificate not trusted.*--tls-verify=false/);
      const skipped = await tsdock(['--root', root(), 'pull', '--tls-verify=false', `${basic.host}/team/app:1`], {
        env: { DOCKER_CONFIG: join(work, 'nobody') },
      });
      // Verification skipped, but the registry still wants a login.
      expect(skipped.code).toBe(125);
      expect(skipped.stderr).toMatch(/unauthorized/i);
    });

    it('a wrong password fails with exit 125 and is never printed nor stored', async () => {
      const res = await tsdock(['login', '-u', 'alice', '--password-stdin', basic.host], {
        input: 'wrong-password\n',
        env: env(),
      });
      expect(res.code).toBe(125);
      expect(res.stderr).toBe(`tsdock: login to ${basic.host} failed: incorrect username or password\n`);
      expect(res.stdout + res.stderr).not.toContain('wrong-password');
      await expect(stat(join(work, 'docker', 'config.json'))).rejects.toThrow();
    });

    it('logs in, pulls with the stored credentials, logs out', async () => {
      const login = await tsdock(['login', '-u', 'alice', '--password-stdin', basic.host], {
        input: `${PASSWORD}\n`,
        env: env(),
      });
      expect(login.stderr).toBe('');
      expect(login.stdout).toBe('Login Succeeded\n');
      const configPath = join(work, 'docker', 'config.json');
      expect((await stat(configPath)).mode & 0o777).toBe(0o600);
      const config = JSON.parse(await readFile(configPath, 'utf8')) as { auths: Record<string, { auth: string }> };
      expect(Buffer.from(config.auths[basic.host]?.auth ?? '', 'base64').toString()).toBe(`alice:${PASSWORD}`);

      const pull = await tsdock(['--root', root(), 'pull', '-q', `${basic.host}/team/app:1`], { env: env() });
      expect(pull.stderr).toBe('');
      expect(pull.stdout).toBe(`${basic.host}/team/app:1\n`);
      expect(pull.code).toBe(0);

      const logout = await tsdock(['logout', basic.host], { env: env() });
      expect(logout.stdout).toBe(`Removing login credentials for ${basic.host}\n`);
      const again = await tsdock(['--root', join(work, 'root-basic-2'), 'pull', `${basic.host}/team/app:1`], {
        env: env(),
      });
      expect(again.code).toBe(125);
      expect(again.stdout + again.stderr).not.toContain(PASSWORD);
    });

    it('keeps credentials in a credsStore helper: login stores, pull gets, logout erases', async () => {
      // A docker-credential-<name> helper on PATH that keeps one entry in a file and logs its calls.
      const bin = join(work, 'helper-bin');
      await mkdir(bin);
      const helper = join(bin, 'docker-credential-tsdtest');
      await writeFile(
        helper,
        [
          '#!/bin/sh',
          'dir=$(dirname "$0")',
          'echo "$1" >>"$dir/calls"',
          'case "$1" in',
          '  store) cat >"$dir/entry" ;;',
          '  get) read server; grep -qF "$server" "$dir/entry" 2>/dev/null && cat "$dir/entry" && exit 0',
          '       echo "credentials not found in native keychain"; exit 1 ;;',
          '  erase) read server; rm -f "$dir/entry" ;;',
          'esac',
          '',
        ].join('\n'),
      );
      await chmod(helper, 0o755);
      const config = join(work, 'docker-helper');
      await mkdir(config);
      await writeFile(join(config, 'config.json'), JSON.stringify({ credsStore: 'tsdtest' }));
      const env = { DOCKER_CONFIG: config, NODE_EXTRA_CA_CERTS: tls.caCert, PATH: `${bin}:${process.env.PATH ?? ''}` };

      const login = await tsdock(['login', '-u', 'alice', '--password-stdin', basic.host], {
        input: `${PASSWORD}\n`,
        env,
      });
      expect(login.stderr).toBe('');
      expect(login.stdout).toBe('Login Succeeded\n');
      expect(JSON.parse(await readFile(join(bin, 'entry'), 'utf8'))).toEqual({
        ServerURL: basic.host,
        Username: 'alice',
        Secret: PASSWORD,
      });
      expect(await readFile(join(config, 'config.json'), 'utf8')).not.toContain(PASSWORD);

      const pull = await tsdock(['--root', join(work, 'root-helper'), 'pull', '-q', `${basic.host}/team/app:1`], {
        env,
      });
      expect(pull.stderr).toBe('');
      expect(pull.code).toBe(0);

      const logout = await tsdock(['logout', basic.host], { env });
      expect(logout.stdout).toBe(`Removing login credentials for ${basic.host}\n`);
      await expect(stat(join(bin, 'entry'))).rejects.toThrow();
      expect((await readFile(join(bin, 'calls'), 'utf8')).split('\n')).toEqual(['store', 'get', 'erase', '']);
      const again = await tsdock(['--root', join(work, 'root-helper-2'), 'pull', `${basic.host}/team/app:1`], { env });
      expect(again.code).toBe(125);
      expect(again.stderr).toMatch(/unauthorized/i);
    });
  });

  describe('Bearer tokens', () => {
    it('pulls anonymously with a pull-scoped token', async () => {
      const root = join(work, 'root-bearer');
      await openImageStore(root);
      issuer.requests.length = 0;
      const ca = [await readFile(tls.caCert, 'utf8')];
      await pullImage(new TransferStore(root), `${bearer.host}/team/app:1`, { credentials: null, ca });
      expect(issuer.requests.map((u) => u.searchParams.getAll('scope'))).toContainEqual(['repository:team/app:pull']);
      expect(issuer.requests.every((u) => u.searchParams.get('service') === issuer.service)).toBe(true);
    });

    it("pulls with an identity token through the OAuth refresh-token grant (Docker's identitytoken)", async () => {
      const config = join(work, 'docker-identity');
      await mkdir(config);
      const write = (token: string): Promise<void> =>
        writeFile(join(config, 'config.json'), JSON.stringify({ auths: { [bearer.host]: { identitytoken: token } } }));
      const env = { DOCKER_CONFIG: config, NODE_EXTRA_CA_CERTS: tls.caCert };
      await write(issuer.refreshToken);
      issuer.requests.length = 0;
      const pull = await tsdock(['--root', join(work, 'root-identity'), 'pull', '-q', `${bearer.host}/team/app:1`], {
        env,
      });
      expect(pull.stderr).toBe('');
      expect(pull.code).toBe(0);
      const grants = issuer.requests.filter((u) => u.searchParams.get('grant_type') === 'refresh_token');
      expect(grants.length).toBeGreaterThan(0);
      for (const u of grants) {
        expect(u.searchParams.get('refresh_token')).toBe(issuer.refreshToken);
        expect(u.searchParams.get('service')).toBe(issuer.service);
      }
      expect(grants.map((u) => u.searchParams.get('scope'))).toContain('repository:team/app:pull');

      await write('revoked-token');
      const refused = await tsdock(['--root', join(work, 'root-identity-2'), 'pull', `${bearer.host}/team/app:1`], {
        env,
      });
      expect(refused.code).toBe(125);
      expect(refused.stderr).toMatch(/unauthorized/);
      expect(refused.stderr).not.toContain('revoked-token');
    });

    it('pushes with credentials (pull,push scope) and refuses an anonymous push', async () => {
      const root = join(work, 'root-bearer');
      const store = await openImageStore(root);
      await store.tag(`${bearer.host}/team/app:1`, `${bearer.host}/other/copy:2`);
      const ca = [await readFile(tls.caCert, 'utf8')];
      const anonymous = pushImage(new TransferStore(root), `${bearer.host}/other/copy:2`, { credentials: null, ca });
      await expect(anonymous).rejects.toThrow(TsdockError);
      await expect(anonymous).rejects.toMatchObject({ code: 'UNAUTHORIZED' });

      issuer.requests.length = 0;
      const credentials = { username: 'bob', password: PASSWORD };
      const pushed = await pushImage(new TransferStore(root), `${bearer.host}/other/copy:2`, { credentials, ca });
      const scopes = issuer.requests.flatMap((u) => u.searchParams.getAll('scope'));
      expect(scopes).toContain('repository:other/copy:pull,push');
      // The layer came by cross-repository mount, which needs pull on the source too.
      expect(scopes).toContain('repository:team/app:pull');
      const raw = await sh('skopeo', [
        'inspect',
        '--raw',
        '--tls-verify=false',
        `--creds=bob:${PASSWORD}`,
        `docker://${bearer.host}/other/copy:2`,
      ]);
      const original = await sh('skopeo', [
        'inspect',
        '--raw',
        '--tls-verify=false',
        `--creds=bob:${PASSWORD}`,
        `docker://${bearer.host}/team/app:1`,
      ]);
      expect(raw).toBe(original);
      expect(pushed.size).toBe(Buffer.byteLength(raw));
    });
  });
});
