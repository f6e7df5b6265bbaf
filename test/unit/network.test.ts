/** The pure parts of networking: subnets and addresses, `-p` forms, the nftables text, hosts and resolv.conf. */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TsdockError } from '../../src/errors.js';
import { parseAddHost, renderHosts, renderResolvConf } from '../../src/network/hosts.js';
import { allocateAddress, checkSubnet, chooseSubnet, macOf, type HostRoute } from '../../src/network/ipam.js';
import { formatAddress, formatSubnet, parseAddress, parseSubnet } from '../../src/network/ipv4.js';
import { renderIptables } from '../../src/network/iptables.js';
import { applyTable, renderTable } from '../../src/network/nat.js';
import { exposedPorts, parsePublish } from '../../src/network/ports.js';
import { networkHostOf, ownerRootOf } from '../../src/network/store.js';

const routes: HostRoute[] = [
  { dst: 'default', dev: 'eth0' },
  { dst: '172.17.0.0/16', dev: 'docker0' },
  { dst: '192.168.0.0/20', dev: 'wlan0' },
  { dst: '10.0.0.7', dev: 'eth0' },
];

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return err instanceof TsdockError ? err.code : 'not a TsdockError';
  }
  return undefined;
}

describe('ipv4', () => {
  it.each([
    ['10.1.2.3', 0x0a010203],
    ['255.255.255.255', 0xffffffff],
    ['1.2.3', undefined],
    ['1.2.3.256', undefined],
    ['1.2.3.x', undefined],
  ])('parses %s', (text, value) => {
    expect(parseAddress(text)).toBe(value);
    if (value !== undefined) expect(formatAddress(value)).toBe(text);
  });

  it.each(['10.0.0.1/24', '10.0.0.0/33', '10.0.0.0', '10.0.0.0/4', 'x/24'])('refuses the subnet %s', (text) => {
    expect(codeOf(() => parseSubnet(text))).toBe('INVALID_ARGUMENT');
  });

  it('round-trips a subnet', () => {
    expect(formatSubnet(parseSubnet('10.91.0.0/24'))).toBe('10.91.0.0/24');
  });
});

describe('ipam', () => {
  it('chooses the first pool subnet clear of host routes and other networks', () => {
    expect(formatSubnet(chooseSubnet(routes, []))).toBe('172.18.0.0/16');
    expect(formatSubnet(chooseSubnet(routes, [parseSubnet('172.18.0.0/24')]))).toBe('172.19.0.0/16');
  });

  it('refuses a subnet overlapping a host route or a network, naming it', () => {
    expect(() => {
      checkSubnet(parseSubnet('10.0.0.0/24'), routes, []);
    }).toThrow('overlaps the host route 10.0.0.7 dev eth0');
    expect(() => {
      checkSubnet(parseSubnet('10.5.0.0/24'), routes, [{ name: 'appnet', subnet: parseSubnet('10.0.0.0/8') }]);
    }).toThrow('overlaps network "appnet" (10.0.0.0/8)');
    expect(() => {
      checkSubnet(parseSubnet('10.5.0.0/24'), routes, []);
    }).not.toThrow();
  });

  it('allocates after the gateway, skipping used addresses, and honours --ip', () => {
    const subnet = parseSubnet('10.9.0.0/29');
    const used = new Set([parseAddress('10.9.0.1') ?? 0, parseAddress('10.9.0.2') ?? 0]);
    expect(formatAddress(allocateAddress(subnet, used))).toBe('10.9.0.3');
    expect(formatAddress(allocateAddress(subnet, used, '10.9.0.6'))).toBe('10.9.0.6');
    expect(codeOf(() => allocateAddress(subnet, used, '10.9.0.2'))).toBe('CONFLICT');
    expect(codeOf(() => allocateAddress(subnet, used, '10.9.0.7'))).toBe('INVALID_ARGUMENT');
    expect(codeOf(() => allocateAddress(subnet, used, '10.9.1.3'))).toBe('INVALID_ARGUMENT');
    const full = new Set([...used, ...[3, 4, 5, 6].map((n) => parseAddress(`10.9.0.${String(n)}`) ?? 0)]);
    expect(codeOf(() => allocateAddress(subnet, full))).toBe('CONFLICT');
  });

  it('derives the MAC from the address', () => {
    expect(macOf(parseAddress('172.17.0.2') ?? 0)).toBe('02:42:ac:11:00:02');
  });
});

describe('ports', () => {
  it.each([
    ['80', { hostPort: 0, containerPort: 80, protocol: 'tcp' }],
    ['8080:80', { hostPort: 8080, containerPort: 80, protocol: 'tcp' }],
    ['53:53/udp', { hostPort: 53, containerPort: 53, protocol: 'udp' }],
    ['127.0.0.1:8080:80', { hostIp: '127.0.0.1', hostPort: 8080, containerPort: 80, protocol: 'tcp' }],
    ['127.0.0.1::80/udp', { hostIp: '127.0.0.1', hostPort: 0, containerPort: 80, protocol: 'udp' }],
  ])('parses -p %s', (spec, expected) => {
    expect(parsePublish(spec)).toEqual([expected]);
  });

  it.each([
    [
      '8000-8001:80-81',
      [
        { hostPort: 8000, containerPort: 80, protocol: 'tcp' },
        { hostPort: 8001, containerPort: 81, protocol: 'tcp' },
      ],
    ],
    [
      '127.0.0.1::53-54/udp',
      [
        { hostIp: '127.0.0.1', hostPort: 0, containerPort: 53, protocol: 'udp' },
        { hostIp: '127.0.0.1', hostPort: 0, containerPort: 54, protocol: 'udp' },
      ],
    ],
    ['8000-8010:80', [{ hostPort: 8000, hostPortEnd: 8010, containerPort: 80, protocol: 'tcp' }]],
  ])('parses the port ranges of -p %s', (spec, expected) => {
    expect(parsePublish(spec)).toEqual(expected);
  });

  it.each(['', '80/sctp', '0', '70000', 'a:80', '1:2:3:4', 'host:80:80', ':80', '81-80', '8000-8002:80-81', '80-:80'])(
    'refuses -p %s',
    (spec) => {
      expect(codeOf(() => parsePublish(spec))).toBe('INVALID_ARGUMENT');
    },
  );

  it.each([
    ['-p', () => parsePublish('[::1]:8080:80'), '-p "[::1]:8080:80"'],
    ['-p', () => parsePublish('::1:8080:80/udp'), '-p "::1:8080:80/udp"'],
    ['--subnet', () => parseSubnet('fd00::/64'), 'subnet "fd00::/64"'],
    ['--ip', () => allocateAddress(parseSubnet('10.9.0.0/29'), new Set(), 'fd00::5'), '--ip "fd00::5"'],
  ])('refuses IPv6 in %s by name', (_flag, parse, what) => {
    expect(parse).toThrow(`${what}: IPv6 is not supported (tsdock networks are IPv4-only)`);
  });

  it('-P publishes every EXPOSEd port on a random host port', () => {
    expect(exposedPorts({ '80/tcp': {}, '53/udp': {} })).toEqual([
      { hostPort: 0, containerPort: 80, protocol: 'tcp' },
      { hostPort: 0, containerPort: 53, protocol: 'udp' },
    ]);
    expect(exposedPorts(undefined)).toEqual([]);
  });
});

describe('nftables table', () => {
  const text = renderTable(
    'tsdock',
    [
      { bridge: 'tsdock0', subnet: '172.17.0.0/16' },
      { bridge: 'tsbr-1', subnet: '10.91.0.0/24' },
    ],
    [
      {
        ip: '172.17.0.2',
        ports: [
          { hostPort: 8080, containerPort: 80, protocol: 'tcp' },
          { hostIp: '127.0.0.1', hostPort: 5353, containerPort: 53, protocol: 'udp' },
        ],
      },
    ],
  );

  it('DNATs published ports for local and arriving traffic', () => {
    expect(text).toContain('tcp dport 8080 dnat to 172.17.0.2:80');
    expect(text).toContain('ip daddr 127.0.0.1 udp dport 5353 dnat to 172.17.0.2:53');
    expect(text).toMatch(/hook prerouting[^}]*fib daddr type local jump ports/);
    expect(text).toMatch(/hook output[^}]*fib daddr type local jump ports/);
  });

  it('masquerades outbound, loopback-sourced and hairpin traffic, and isolates networks', () => {
    expect(text).toContain('ip saddr 172.17.0.0/16 oifname != "tsdock0" masquerade');
    expect(text).toContain('ip saddr 10.91.0.0/24 ip daddr 10.91.0.0/24 oifname "tsbr-1" ct status dnat masquerade');
    expect(text).toContain('ip saddr 127.0.0.0/8 oifname "tsbr-1" masquerade');
    expect(text).toContain('iifname "tsdock0" oifname { "tsbr-1" } drop');
    expect(text).toContain('iifname "tsbr-1" oifname { "tsdock0" } drop');
  });
});

describe('applying the table', () => {
  it('runs no firewall tool when the table is the one last applied, and forgets it when an apply fails', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsdock-nat-'));
    const applied = join(dir, 'tsdock_test.rules');
    const networks = [{ bridge: 'tsdock0', subnet: '172.17.0.0/16' }];
    writeFileSync(applied, `nftables\n${renderTable('tsdock_test', networks, [])}`);
    const path = process.env.PATH;
    // No nft or iptables to be found: any run of one fails.
    process.env.PATH = dir;
    try {
      await expect(applyTable('tsdock_test', networks, [], applied)).resolves.toBeUndefined();
      const published = [
        { ip: '172.17.0.2', ports: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' as const }] },
      ];
      await expect(applyTable('tsdock_test', networks, published, applied)).rejects.toThrow(/not found/);
      expect(existsSync(applied)).toBe(false);
    } finally {
      process.env.PATH = path;
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('iptables fallback', () => {
  const networks = [
    { bridge: 'tsdock0', subnet: '172.17.0.0/16' },
    { bridge: 'tsbr-1', subnet: '10.91.0.0/24' },
  ];
  const endpoints = [
    { ip: '172.17.0.2', ports: [{ hostIp: '127.0.0.1', hostPort: 8080, containerPort: 80, protocol: 'tcp' as const }] },
  ];

  it('refills its chains and adds only the missing jumps', () => {
    const present = '-A POSTROUTING -j TSDOCK-POST\n';
    const text = renderIptables('tsdock', networks, endpoints, present);
    expect(text).toContain(':TSDOCK-PORTS - [0:0]\n');
    expect(text).toContain('-I PREROUTING -m addrtype --dst-type LOCAL -j TSDOCK-PORTS\n');
    expect(text).toContain('-I OUTPUT -m addrtype --dst-type LOCAL -j TSDOCK-PORTS\n');
    expect(text).not.toContain('-I POSTROUTING');
    expect(text).toContain(
      '-A TSDOCK-PORTS -d 127.0.0.1/32 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.17.0.2:80\n',
    );
    expect(text).toContain('-A TSDOCK-POST -s 172.17.0.0/16 ! -o tsdock0 -j MASQUERADE\n');
    expect(text).toContain(
      '-A TSDOCK-POST -s 172.17.0.0/16 -d 172.17.0.0/16 -o tsdock0 -m conntrack --ctstate DNAT -j MASQUERADE\n',
    );
    expect(text).toContain('-A TSDOCK-FWD -i tsbr-1 -o tsdock0 -j DROP\n');
  });

  it('removes jumps and chains when no network is left', () => {
    const present = [
      ':TSDOCK-PORTS - [0:0]',
      ':TSDOCK-POST - [0:0]',
      ':TSDOCK-FWD - [0:0]',
      '-A OUTPUT -m addrtype --dst-type LOCAL -j TSDOCK-PORTS',
      '-A FORWARD -j TSDOCK-FWD',
      '',
    ].join('\n');
    const text = renderIptables('tsdock', [], [], present);
    expect(text).toBe(
      [
        '*nat',
        '-D OUTPUT -m addrtype --dst-type LOCAL -j TSDOCK-PORTS',
        ':TSDOCK-PORTS - [0:0]',
        '-X TSDOCK-PORTS',
        ':TSDOCK-POST - [0:0]',
        '-X TSDOCK-POST',
        'COMMIT',
        '*filter',
        '-D FORWARD -j TSDOCK-FWD',
        ':TSDOCK-FWD - [0:0]',
        '-X TSDOCK-FWD',
        'COMMIT',
        '',
      ].join('\n'),
    );
  });
});

describe('hosts and resolv.conf', () => {
  it('lists the container, its peers and --add-host entries', () => {
    const hosts = renderHosts(
      [{ ip: '10.0.0.2', names: ['web', 'web'] }],
      [{ ip: '10.0.0.3', names: ['db', 'database'] }],
      [{ ip: '192.0.2.9', names: ['extra'] }],
    );
    expect(hosts.split('\n').slice(-4)).toEqual(['10.0.0.2\tweb', '10.0.0.3\tdb database', '192.0.2.9\textra', '']);
    expect(hosts.startsWith('127.0.0.1\tlocalhost\n')).toBe(true);
  });

  it('parses --add-host', () => {
    expect(parseAddHost('db:10.0.0.5')).toEqual({ names: ['db'], ip: '10.0.0.5' });
    expect(parseAddHost('nocolon')).toBeUndefined();
  });

  it('drops loopback nameservers; --dns and --dns-search replace the host lists', () => {
    const host = 'search corp.example\nnameserver 127.0.0.53\nnameserver 192.0.2.53\noptions edns0\n';
    expect(renderResolvConf(host, [], [])).toBe('search corp.example\nnameserver 192.0.2.53\noptions edns0\n');
    expect(renderResolvConf(host, ['192.0.2.1'], ['a.example'])).toBe(
      'search a.example\nnameserver 192.0.2.1\noptions edns0\n',
    );
  });
});

describe('per-root host objects', () => {
  it('the default root owns tsdock0 and the tsdock table; another root gets tagged names', () => {
    expect(networkHostOf('/var/lib/tsdock')).toMatchObject({ table: 'tsdock', defaultBridge: 'tsdock0' });
    const other = networkHostOf('/tmp/x/root');
    expect(other.table).toMatch(/^tsdock_[0-9a-f]{8}$/);
    expect(other.defaultBridge.length).toBeLessThanOrEqual(15);
    expect(other.netnsDir).not.toBe(networkHostOf('/var/lib/tsdock').netnsDir);
  });

  it("names the owner root in its bridges' alias, a path too long for an alias by its hash", () => {
    expect(networkHostOf('/tmp/x/../y/root').owner).toBe('tsdock root /tmp/y/root');
    expect(ownerRootOf(networkHostOf('/tmp/y/root').owner)).toBe('/tmp/y/root');
    const long = `/tmp/${'d'.repeat(300)}`;
    expect(networkHostOf(long).owner).toMatch(/^tsdock root sha256:[0-9a-f]{64}$/);
    expect(ownerRootOf(networkHostOf(long).owner)).toBeUndefined();
    expect(ownerRootOf('uplink')).toBeUndefined();
  });
});
