/**
 * Networking through the CLI on the real kernel: published ports reached on 127.0.0.1 (TCP and
 * UDP), user networks with name resolution and isolation, `container:` sharing, and the host
 * left clean (no veth, bridge, nftables table or pinned namespace) after rm, a failed start,
 * kill -9 + prune and network rm. Traffic goes only to 127.0.0.1 and to this file's containers.
 */
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ContainerRecord } from '../../src/runtime/container-record.js';
import { networkHostOf, type NetworkHost } from '../../src/network/store.js';
import { containerRecords, removeRecordedContainers } from '../helpers/container-bed.js';
import { busyboxRoot, type BusyboxRoot } from '../helpers/busybox.js';
import { repoRoot, tsdock } from '../helpers/host.js';
import { eventually } from '../helpers/eventually.js';
import { freePort } from '../helpers/ports.js';

const exec = promisify(execFile);
let box: BusyboxRoot;
let host: NetworkHost;
let www: string;
let probes: string;
let counter = 0;

function unique(label: string): string {
  counter++;
  return `net-${label}-${String(process.pid)}-${String(counter)}`;
}

function cli(args: string[]): ReturnType<typeof tsdock> {
  return tsdock(['--root', box.root, ...args]);
}

/** A shell command in a throw-away container on `network`; bounded waits use nc's -w. */
function inNet(network: string, script: string): ReturnType<typeof tsdock> {
  return cli(['run', '--rm', '--network', network, 'busybox', 'sh', '-c', script]);
}

async function ok(args: string[]): Promise<string> {
  const r = await cli(args);
  if (r.code !== 0) throw new Error(`tsdock ${args.join(' ')} failed (${String(r.code)}): ${r.stderr}`);
  return r.stdout.trim();
}

function records(): ContainerRecord[] {
  return containerRecords(box.root);
}

/** Host links that belong to this root: its default bridge, its user networks' bridges, their veths. */
function ourLinks(): string[] {
  const state = existsSync(host.stateFile)
    ? (JSON.parse(readFileSync(host.stateFile, 'utf8')) as { networks: { bridge: string }[] })
    : { networks: [] };
  const names = new Set([host.defaultBridge, ...state.networks.map((n) => n.bridge)]);
  return readdirSync('/sys/class/net').filter((l) => names.has(l) || vethsSeen.has(l));
}

/** Every host-side veth this file's containers got, so a leftover one is noticed. */
const vethsSeen = new Set<string>();
function noteVeths(): void {
  if (!existsSync(host.stateFile)) return;
  const state = JSON.parse(readFileSync(host.stateFile, 'utf8')) as { endpoints: { hostVeth: string }[] };
  for (const e of state.endpoints) vethsSeen.add(e.hostVeth);
}

function tableExists(): boolean {
  return execFileSync('nft', ['list', 'tables'], { encoding: 'utf8' }).includes(`table ip ${host.table}\n`);
}

/** The DNAT rules of this root's table: published ports (the table itself stays with the default bridge). */
function dnatRules(): string[] {
  if (!tableExists()) return [];
  const listed = execFileSync('nft', ['list', 'table', 'ip', host.table], { encoding: 'utf8' });
  return listed.split('\n').filter((l) => l.includes(' dnat to '));
}

function pins(): string[] {
  return existsSync(host.netnsDir) ? readdirSync(host.netnsDir) : [];
}

/** busybox's own -T crashes (SIGSEGV) in Debian's static build: the timeout is the caller's. */
async function wget(url: string, timeout = 2): Promise<string> {
  const { stdout } = await exec('/bin/busybox', ['wget', '-q', '-O-', url], { timeout: timeout * 1000 });
  return stdout;
}

async function httpd(name: string, args: string[]): Promise<string> {
  noteVeths();
  const id = await ok([
    'run',
    '-d',
    '--name',
    name,
    '-v',
    `${www}:/www:ro`,
    ...args,
    'busybox',
    'httpd',
    '-f',
    '-p',
    '80',
    '-h',
    '/www',
  ]);
  noteVeths();
  return id;
}

/** The default network's gateway: an address of the host, as a container sees it. */
async function defaultGateway(): Promise<string> {
  const [summary] = JSON.parse(await ok(['network', 'inspect', 'bridge'])) as { gateway: string }[];
  if (summary === undefined) throw new Error('no default network');
  return summary.gateway;
}

function addressOf(name: string): string {
  const state = JSON.parse(readFileSync(host.stateFile, 'utf8')) as {
    endpoints: { containerId: string; ip: string }[];
  };
  const id = records().find((r) => r.name === name)?.id;
  const ip = state.endpoints.find((e) => e.containerId === id)?.ip;
  if (ip === undefined) throw new Error(`${name} has no address`);
  return ip;
}

beforeAll(async () => {
  box = await busyboxRoot('net');
  host = networkHostOf(box.root);
  www = join(box.root, '..', 'www');
  mkdirSync(www);
  writeFileSync(join(www, 'index.html'), 'hello from the container\n');
  probes = join(box.root, '..', 'probes');
  mkdirSync(probes);
  execFileSync('gcc', ['-static', '-O2', '-o', join(probes, 'udp-echo'), join(repoRoot, 'test/helpers/udp-echo.c')]);
}, 60_000);

/** Whatever a failed test left: this file's processes, containers, networks, table and pins. */
afterAll(async () => {
  await removeRecordedContainers(box.root);
  await cli(['network', 'prune', '-f']);
  // The iptables test's chains, should it have failed before its own prune.
  await tsdock(['--root', box.root, 'network', 'prune', '-f'], { env: { TSDOCK_FIREWALL: 'iptables' } });
  for (const link of ourLinks()) execFileSync('ip', ['link', 'delete', link]);
  if (tableExists()) execFileSync('nft', ['delete', 'table', 'ip', host.table]);
  rmSync(host.appliedRules, { force: true });
  rmSync(host.socketLbPins, { recursive: true, force: true });
  rmSync(host.publishedPathFile, { force: true });
  for (const pin of pins()) {
    spawnSync('umount', ['-l', join(host.netnsDir, pin)]);
    rmSync(join(host.netnsDir, pin), { force: true });
  }
  rmSync(host.netnsDir, { recursive: true, force: true });
  await box.remove();
}, 60_000);

describe('published ports', () => {
  it('serves busybox httpd on 127.0.0.1 through -p, and on the container address', async () => {
    const port = await freePort();
    const name = unique('web');
    await httpd(name, ['--network', 'bridge', '-p', `${String(port)}:80`]);
    expect(await eventually(() => wget(`http://127.0.0.1:${String(port)}/`))).toBe('hello from the container\n');
    expect(await wget(`http://${addressOf(name)}/`)).toBe('hello from the container\n');
    const [inspect] = JSON.parse(await ok(['inspect', name])) as {
      NetworkSettings?: { IPAddress: string; Ports: Record<string, { HostPort: string }[]> };
    }[];
    expect(inspect?.NetworkSettings?.IPAddress).toBe(addressOf(name));
    expect(inspect?.NetworkSettings?.Ports['80/tcp']?.[0]?.HostPort).toBe(String(port));
    expect(tableExists()).toBe(true);
    await ok(['rm', '-f', name]);
    await expect(wget(`http://127.0.0.1:${String(port)}/`, 1)).rejects.toThrow();
    expect(dnatRules()).toEqual([]);
    expect(pins()).toEqual([]);
    // The veth went with the namespace; the default bridge (and its masquerade) stays until prune.
    expect(ourLinks()).toEqual([host.defaultBridge]);
    // Without -f, Docker's question first; stdin's end is a no.
    const declined = await tsdock(['--root', box.root, 'network', 'prune'], { input: '' });
    expect(declined.stdout).toContain('This will remove all custom networks not used by at least one container.');
    expect(ourLinks()).toEqual([host.defaultBridge]);
    await ok(['network', 'prune', '-f']);
    expect(ourLinks()).toEqual([]);
    expect(tableExists()).toBe(false);
  });

  it('-p CTR and 127.0.0.1::CTR pick a free host port, shown by inspect', async () => {
    const name = unique('rand');
    await httpd(name, ['--network', 'bridge', '-p', '127.0.0.1::80']);
    const [summary] = JSON.parse(await ok(['network', 'inspect', 'bridge'])) as { containers: { id: string }[] }[];
    expect(summary?.containers).toHaveLength(1);
    const state = JSON.parse(readFileSync(host.stateFile, 'utf8')) as {
      endpoints: { ports: { hostPort: number; hostIp: string }[] }[];
    };
    const binding = state.endpoints[0]?.ports[0];
    expect(binding?.hostIp).toBe('127.0.0.1');
    expect(binding?.hostPort).toBeGreaterThan(0);
    expect(await eventually(() => wget(`http://127.0.0.1:${String(binding?.hostPort)}/`))).toContain('hello');
    await ok(['rm', '-f', name]);
  });

  it('publishes UDP', async () => {
    const port = await freePort();
    const name = unique('udp');
    await ok([
      'run',
      '-d',
      '--name',
      name,
      '--network',
      'bridge',
      '-p',
      `127.0.0.1:${String(port)}:5353/udp`,
      '-v',
      `${probes}:/probes:ro`,
      'busybox',
      '/probes/udp-echo',
      '5353',
    ]);
    const reply = await eventually(
      () =>
        new Promise<string>((resolve, reject) => {
          const socket = createSocket('udp4');
          const timer = setTimeout(() => {
            socket.close();
            reject(new Error('no UDP reply'));
          }, 300);
          socket.on('message', (msg) => {
            clearTimeout(timer);
            socket.close();
            resolve(msg.toString());
          });
          socket.send('ping over udp', port, '127.0.0.1');
        }),
    );
    expect(reply).toBe('ping over udp');
    await ok(['rm', '-f', name]);
  });

  it('refuses a host port that is in use, with a clear error', async () => {
    const server: Server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as { port: number };
    try {
      const r = await cli([
        'run',
        '--rm',
        '--network',
        'bridge',
        '-p',
        `127.0.0.1:${String(port)}:80`,
        'busybox',
        'true',
      ]);
      expect(r.code).toBe(125);
      expect(r.stderr).toContain(`host port 127.0.0.1:${String(port)}/tcp is already in use`);
    } finally {
      await new Promise((r) => server.close(r));
    }
    expect(pins()).toEqual([]);
    expect(dnatRules()).toEqual([]);
  });

  it('a failed start leaves no namespace, veth or rule', async () => {
    const r = await cli([
      'run',
      '--rm',
      '--network',
      'bridge',
      '-p',
      `${String(await freePort())}:80`,
      'busybox',
      '/no/such/command',
    ]);
    expect(r.code).toBe(127);
    expect(pins()).toEqual([]);
    expect(dnatRules()).toEqual([]);
    await ok(['network', 'prune', '-f']);
    expect(ourLinks()).toEqual([]);
    expect(tableExists()).toBe(false);
  });
});

describe('the default network and port forms', () => {
  it('runs a container on the bridge network when --network is not given', async () => {
    const out = await ok(['run', '--rm', 'busybox', 'sh', '-c', 'ip -o -4 addr show eth0; ip route show default']);
    expect(out).toMatch(/eth0\s+inet 172\.\d+\.0\.\d+\/16 /);
    expect(out).toMatch(/^default via 172\.\d+\.0\.1 dev eth0/m);
    expect(pins()).toEqual([]);
    await ok(['network', 'prune', '-f']);
    expect(ourLinks()).toEqual([]);
  });

  it('publishes a port range pairwise (-p 127.0.0.1:P-P+1:80-81)', async () => {
    const port = await freePort();
    const name = unique('range');
    noteVeths();
    await ok([
      'run',
      '-d',
      '--name',
      name,
      '-p',
      `127.0.0.1:${String(port)}-${String(port + 1)}:80-81`,
      '-v',
      `${www}:/www:ro`,
      'busybox',
      'sh',
      '-c',
      'httpd -p 81 -h /www; exec httpd -f -p 80 -h /www',
    ]);
    noteVeths();
    const [inspect] = JSON.parse(await ok(['inspect', name])) as {
      NetworkSettings?: { Ports: Record<string, { HostPort: string }[]> };
    }[];
    const ports = inspect?.NetworkSettings?.Ports ?? {};
    expect([ports['80/tcp']?.[0]?.HostPort, ports['81/tcp']?.[0]?.HostPort]).toEqual([String(port), String(port + 1)]);
    for (const p of [port, port + 1]) {
      expect(await eventually(() => wget(`http://127.0.0.1:${String(p)}/`))).toBe('hello from the container\n');
    }
    await ok(['rm', '-f', name]);
    expect(dnatRules()).toEqual([]);
  });

  it("-P publishes the image's EXPOSEd ports on free host ports", async () => {
    // The busybox layout, given EXPOSE 80/tcp by umoci and renamed `exposed`.
    const layout = join(box.root, '..', 'exposed-layout');
    await exec('cp', ['-a', join(box.root, '..', 'layout'), layout]);
    await exec('umoci', [
      'config',
      '--image',
      `${layout}:latest`,
      '--tag',
      'exposed',
      '--config.exposedports',
      '80/tcp',
    ]);
    const indexFile = join(layout, 'index.json');
    const index = JSON.parse(readFileSync(indexFile, 'utf8')) as {
      manifests: { annotations: Record<string, string> }[];
    };
    index.manifests = index.manifests.filter((m) => m.annotations['org.opencontainers.image.ref.name'] === 'exposed');
    for (const m of index.manifests) m.annotations['io.containerd.image.name'] = 'docker.io/library/exposed:latest';
    writeFileSync(indexFile, JSON.stringify(index));
    const archive = join(box.root, '..', 'exposed.tar');
    await exec('tar', ['-C', layout, '-cf', archive, '.']);
    await ok(['load', '-q', '-i', archive]);
    const name = unique('expose');
    noteVeths();
    await ok([
      'run',
      '-d',
      '--name',
      name,
      '-P',
      '-v',
      `${www}:/www:ro`,
      'exposed',
      'httpd',
      '-f',
      '-p',
      '80',
      '-h',
      '/www',
    ]);
    noteVeths();
    const [inspect] = JSON.parse(await ok(['inspect', name])) as {
      NetworkSettings?: { Ports: Record<string, { HostPort: string }[]> };
    }[];
    const hostPort = inspect?.NetworkSettings?.Ports['80/tcp']?.[0]?.HostPort;
    expect(Number(hostPort)).toBeGreaterThan(0);
    expect(await eventually(() => wget(`http://127.0.0.1:${String(hostPort)}/`))).toBe('hello from the container\n');
    await ok(['rm', '-f', name]);
    await ok(['rmi', 'exposed']);
  });

  it("lets a container reach its own and a peer's published port through a host address (hairpin)", async () => {
    const port = await freePort();
    const name = unique('hairpin');
    await httpd(name, ['-p', `${String(port)}:80`]);
    const url = `http://${await defaultGateway()}:${String(port)}/`;
    const self = await eventually(async () => {
      const r = await cli(['exec', name, 'wget', '-q', '-O-', url]);
      if (r.code !== 0) throw new Error(r.stderr);
      return r.stdout;
    });
    expect(self).toBe('hello from the container\n');
    const peer = await cli(['run', '--rm', 'busybox', 'wget', '-q', '-O-', url]);
    expect(peer.stderr).toBe('');
    expect(peer.stdout).toBe('hello from the container\n');
    await ok(['rm', '-f', name]);
  });
});

describe('roots side by side', () => {
  it("a root with a copy of this root's network state neither joins, publishes nor removes this root's", async () => {
    const net = unique('own');
    await ok(['network', 'create', net]);
    const bridge = JSON.parse(await ok(['network', 'inspect', net])) as { bridge: string }[];
    const ourBridge = bridge[0]?.bridge ?? '';
    const port = await freePort();
    const name = unique('own-web');
    const copy = join(box.root, '..', 'copied-root');
    const other = networkHostOf(copy);
    const inCopy = (args: string[]): ReturnType<typeof tsdock> => tsdock(['--root', copy, ...args]);
    try {
      await httpd(name, ['--network', net, '-p', `127.0.0.1:${String(port)}:80`]);
      noteVeths();
      expect(await eventually(() => wget(`http://127.0.0.1:${String(port)}/`))).toBe('hello from the container\n');
      expect(readFileSync(`/sys/class/net/${ourBridge}/ifalias`, 'utf8')).toBe(`${host.owner}\n`);
      // As `cp -a` of a root would: the copy's state names this root's bridge, endpoint and port.
      expect((await inCopy(['load', '-q', '-i', box.archive])).code).toBe(0);
      writeFileSync(other.stateFile, readFileSync(host.stateFile));
      const joined = await inCopy(['run', '--rm', '--network', net, 'busybox', 'true']);
      expect(joined.code).toBe(125);
      expect(joined.stderr).toBe(
        `tsdock: bridge ${ourBridge} belongs to another ${host.owner}: remove and re-create this root's network\n`,
      );
      expect(spawnSync('nft', ['list', 'table', 'ip', other.table], { encoding: 'utf8' }).stdout).not.toContain(
        String(port),
      );
      expect((await inCopy(['network', 'prune', '-f'])).code).toBe(0);
      expect(existsSync(`/sys/class/net/${ourBridge}`)).toBe(true);
      expect(await wget(`http://127.0.0.1:${String(port)}/`)).toBe('hello from the container\n');
    } finally {
      await inCopy(['network', 'prune', '-f']);
      await cli(['rm', '-f', name]);
      await cli(['network', 'rm', net]);
    }
    expect(existsSync(`/sys/class/net/${ourBridge}`)).toBe(false);
  });
});

describe('iptables fallback', () => {
  it('publishes a port through iptables chains and removes them with the container', async () => {
    // iptables-nft creates its own `ip nat` / `ip filter` tables on first use: removed again
    // afterwards when this test made them (and they are empty), so the host is as it was.
    const before = execFileSync('nft', ['list', 'tables'], { encoding: 'utf8' });
    const env = { TSDOCK_FIREWALL: 'iptables' };
    const saved = (): string => execFileSync('iptables-save', { encoding: 'utf8' });
    const chain = host.table.toUpperCase();
    const port = await freePort();
    const name = unique('ipt');
    try {
      const r = await tsdock(
        [
          '--root',
          box.root,
          'run',
          '-d',
          '--name',
          name,
          '--network',
          'bridge',
          '-p',
          `127.0.0.1:${String(port)}:80`,
          '-v',
          `${www}:/www:ro`,
          'busybox',
          'httpd',
          '-f',
          '-p',
          '80',
          '-h',
          '/www',
        ],
        { env },
      );
      expect(r.stderr).toBe('');
      noteVeths();
      expect(await eventually(() => wget(`http://127.0.0.1:${String(port)}/`))).toBe('hello from the container\n');
      expect(saved()).toContain(`-A ${chain}-PORTS -d 127.0.0.1/32 -p tcp -m tcp --dport ${String(port)} -j DNAT`);
      expect(tableExists()).toBe(false);
      expect((await tsdock(['--root', box.root, 'rm', '-f', name], { env })).code).toBe(0);
      expect(saved()).not.toContain(`-A ${chain}-PORTS `);
      expect((await tsdock(['--root', box.root, 'network', 'prune', '-f'], { env })).code).toBe(0);
      expect(saved()).not.toContain(chain);
      expect(ourLinks()).toEqual([]);
    } finally {
      for (const t of ['nat', 'filter']) {
        const listed = spawnSync('nft', ['list', 'table', 'ip', t], { encoding: 'utf8' }).stdout;
        const rules = listed.split('\n').filter((l) => l.startsWith('\t\t') && !l.trim().startsWith('type '));
        if (!before.includes(`table ip ${t}\n`) && listed !== '' && rules.length === 0) {
          execFileSync('nft', ['delete', 'table', 'ip', t]);
        }
      }
    }
  });
});

describe('user networks', () => {
  it('resolve names and aliases within a network and isolate networks from each other', async () => {
    const [a, b] = [unique('a'), unique('b')];
    await ok(['network', 'create', a, '--subnet', '10.231.0.0/24']);
    await ok(['network', 'create', b]);
    const web = unique('web');
    await httpd(web, ['--network', a, '--network-alias', 'site', '--ip', '10.231.0.50']);
    expect(addressOf(web)).toBe('10.231.0.50');
    const fromA = await cli([
      'run',
      '--rm',
      '--network',
      a,
      'busybox',
      'sh',
      '-c',
      `wget -q -O- http://${web}/ && wget -q -O- http://site/`,
    ]);
    expect(fromA.stderr).toBe('');
    expect(fromA.stdout).toBe('hello from the container\n'.repeat(2));
    const byName = await inNet(b, `wget -q -O- http://${web}/`);
    expect(byName.code).not.toBe(0);
    expect(byName.stderr).toContain('bad address');
    const byIp = await inNet(b, 'nc -w 2 10.231.0.50 80 </dev/null');
    expect(byIp.code).not.toBe(0);
    expect(byIp.stderr).toContain('timed out');
    const rmBusy = await cli(['network', 'rm', a]);
    expect(rmBusy.code).not.toBe(0);
    expect(rmBusy.stderr).toContain('active endpoints');
    await ok(['rm', '-f', web]);
    await ok(['network', 'rm', a, b]);
    expect(ourLinks()).toEqual([]);
    expect(tableExists()).toBe(false);
    expect(pins()).toEqual([]);
  });

  it('refuses a subnet that overlaps a host route, with a clear error', async () => {
    const name = unique('lo');
    const r = await cli(['network', 'create', name, '--subnet', '127.0.0.0/24']);
    expect(r.code).toBe(125);
    expect(r.stderr).toContain('overlaps the host route 127.0.0.0/8 dev lo');
    expect(await ok(['network', 'ls'])).not.toContain(name);
  });

  it('connect and disconnect add and remove an interface of a running container', async () => {
    const [a, b] = [unique('ca'), unique('cb')];
    await ok(['network', 'create', a]);
    await ok(['network', 'create', b]);
    const web = unique('multi');
    await httpd(web, ['--network', a]);
    await ok(['network', 'connect', b, web]);
    noteVeths();
    const fromB = await inNet(b, `wget -q -O- http://${web}/`);
    expect(fromB.stdout).toBe('hello from the container\n');
    await ok(['network', 'disconnect', b, web]);
    const after = await inNet(b, `wget -q -O- http://${web}/`);
    expect(after.code).not.toBe(0);
    await ok(['rm', '-f', web]);
    await ok(['network', 'rm', a, b]);
    expect(ourLinks()).toEqual([]);
  });
});

describe('container files and options', () => {
  it('writes --add-host, --dns and --dns-search, and its own address into its files', async () => {
    const out = await ok([
      'run',
      '--rm',
      '--network',
      'bridge',
      '--hostname',
      'probe',
      '--add-host',
      'extra:192.0.2.9',
      '--dns',
      '192.0.2.53',
      '--dns-search',
      'example.test',
      'busybox',
      'sh',
      '-c',
      'cat /etc/hosts /etc/resolv.conf; ip -o -4 addr show eth0',
    ]);
    expect(out).toMatch(/^172\.\d+\.0\.2\t\S+ probe$/m);
    expect(out).toContain('192.0.2.9\textra');
    expect(out).toContain('search example.test\nnameserver 192.0.2.53\n');
    expect(out).not.toMatch(/nameserver 127\./);
  });

  it('refuses an unknown network before creating anything', async () => {
    const name = unique('nonet');
    const r = await cli(['run', '--name', name, '--network', unique('missing'), 'busybox', 'true']);
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(/network net-missing-\d+-\d+ not found/);
    expect(records().map((c) => c.name)).not.toContain(name);
  });

  it('refuses IPv6 flags with one line and exit 125, creating nothing', async () => {
    const name = unique('v6');
    const networksBefore = await ok(['network', 'ls', '-q']);
    const refusals: [string[], string][] = [
      [['run', '--name', name, '--ip6', 'fd00::5', 'busybox', 'true'], '--ip6'],
      [['create', '--name', name, '-p', '[::1]:8080:80', 'busybox', 'true'], '-p "[::1]:8080:80"'],
      [['network', 'create', '--ipv6', name], '--ipv6'],
      [['network', 'create', '--subnet', 'fd00:91::/64', name], 'subnet "fd00:91::/64"'],
      [['network', 'connect', '--ip6', 'fd00::5', 'bridge', name], '--ip6'],
    ];
    for (const [args, what] of refusals) {
      const r = await cli(args);
      expect({ args, code: r.code, stderr: r.stderr }).toEqual({
        args,
        code: 125,
        stderr: `tsdock: ${what}: IPv6 is not supported (tsdock networks are IPv4-only)\n`,
      });
    }
    expect(records().map((c) => c.name)).not.toContain(name);
    expect(await ok(['network', 'ls', '-q'])).toBe(networksBefore);
  });

  it('runs a container with its own user namespace on a network', async () => {
    // sysfs cannot be mounted for a joined netns (the host's user namespace owns it), so /sys is
    // the host's bound read-only; netlink still shows the container's own links.
    const out = await ok([
      'run',
      '--rm',
      '--userns',
      'private',
      '--network',
      'bridge',
      'busybox',
      'sh',
      '-c',
      "ip -o link | awk -F': ' '{print $2}' | cut -d@ -f1",
    ]);
    expect(out.split('\n')).toEqual(['lo', 'eth0']);
  });
});

describe('namespaces', () => {
  it('container:<name> shares the interfaces of that container', async () => {
    const web = unique('shared');
    await httpd(web, ['--network', 'bridge', '--mac-address', '02:00:00:12:34:56']);
    const listing = 'cat /sys/class/net/eth0/address; ip -o -4 addr show eth0 | awk "{print \\$4}"';
    const joined = await ok(['run', '--rm', '--network', `container:${web}`, 'busybox', 'sh', '-c', listing]);
    expect(joined).toBe(`02:00:00:12:34:56\n${addressOf(web)}/16`);
    expect(
      await ok(['run', '--rm', '--network', `container:${web}`, 'busybox', 'wget', '-q', '-O-', 'http://127.0.0.1/']),
    ).toBe('hello from the container');
    await ok(['rm', '-f', web]);
  });

  it('container:<name> of a --network none container shares its namespace while it runs', async () => {
    const web = unique('lonely');
    await httpd(web, ['--network', 'none']);
    const joined = await eventually(async () => {
      const r = await cli([
        'run',
        '--rm',
        '--network',
        `container:${web}`,
        'busybox',
        'wget',
        '-q',
        '-O-',
        'http://127.0.0.1/',
      ]);
      if (r.code !== 0) throw new Error(r.stderr);
      return r.stdout;
    });
    expect(joined).toBe('hello from the container\n');
    expect(pins()).toEqual([]);
    await ok(['stop', '-t', '1', web]);
    const r = await cli(['run', '--rm', '--network', `container:${web}`, 'busybox', 'true']);
    expect(r.code).toBe(125);
    expect(r.stderr).toContain(`cannot join the network of container ${web}: it is not running`);
    expect(pins()).toEqual([]);
    await ok(['rm', '-f', web]);
  });

  it("container:<name> of a --network host container sees the host's interfaces", async () => {
    const name = unique('hostnet');
    await ok(['run', '-d', '--name', name, '--network', 'host', 'busybox', 'sleep', '100']);
    // Other tests add and remove links meanwhile: only those there before and after count.
    const links = (): string[] => readdirSync('/sys/class/net');
    const before = links();
    const seen = (await ok(['run', '--rm', '--network', `container:${name}`, 'busybox', 'ls', '/sys/class/net'])).split(
      '\n',
    );
    const after = links();
    for (const link of before.filter((l) => after.includes(l))) expect(seen).toContain(link);
    await ok(['rm', '-f', name]);
  });

  it('joins a network namespace given by path', async () => {
    const path = join(box.root, '..', 'pod-netns');
    writeFileSync(path, '');
    execFileSync('unshare', [`--net=${path}`, 'true']);
    try {
      execFileSync('nsenter', [
        `--net=${path}`,
        'ip',
        'link',
        'add',
        'podtest0',
        'type',
        'veth',
        'peer',
        'name',
        'podtest1',
      ]);
      const out = await ok(['run', '--rm', '--network', path, 'busybox', 'ls', '/sys/class/net']);
      expect(out.split('\n')).toContain('podtest0');
    } finally {
      execFileSync('umount', [path]);
    }
  });

  it('after kill -9 of monitor and container, network prune removes every trace', async () => {
    const [net, web] = [unique('crash'), unique('crash')];
    await ok(['network', 'create', net]);
    const port = await freePort();
    await httpd(web, ['--network', net, '-p', `127.0.0.1:${String(port)}:80`]);
    await eventually(() => wget(`http://127.0.0.1:${String(port)}/`));
    const record = records().find((r) => r.name === web);
    for (const who of [record?.state.monitor, record?.state.init])
      if (who !== undefined) process.kill(who.pid, 'SIGKILL');
    expect(pins()).toContain(record?.id);
    expect(tableExists()).toBe(true);
    await ok(['network', 'prune', '-f']);
    expect(pins()).not.toContain(record?.id);
    expect(tableExists()).toBe(false);
    expect(ourLinks()).toEqual([]);
    await ok(['rm', '-f', web]);
  });
});
