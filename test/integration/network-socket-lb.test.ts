/**
 * Published ports reached from this host at connect(2): the cgroup sock_addr programs
 * (src/network/socket-lb.ts) send a host client's connection to 127.0.0.1:HOSTPORT straight to
 * the container, its getpeername still says 127.0.0.1:HOSTPORT, and the pinned programs and
 * map go with the last published port. Traffic goes only to 127.0.0.1 and this file's containers.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { networkHostOf, type NetworkHost } from '../../src/network/store.js';
import { busyboxRoot, type BusyboxRoot } from '../helpers/busybox.js';
import { removeRecordedContainers } from '../helpers/container-bed.js';
import { tsdock } from '../helpers/host.js';
import { eventually } from '../helpers/eventually.js';
import { freePort } from '../helpers/ports.js';

const exec = promisify(execFile);
let box: BusyboxRoot;
let host: NetworkHost;
let www: string;

async function ok(args: string[], env: NodeJS.ProcessEnv = {}): Promise<string> {
  const r = await tsdock(['--root', box.root, ...args], { env });
  if (r.code !== 0) throw new Error(`tsdock ${args.join(' ')} failed (${String(r.code)}): ${r.stderr}`);
  return r.stdout.trim();
}

async function httpd(port: number, env: NodeJS.ProcessEnv = {}): Promise<string> {
  const name = `socklb-${String(process.pid)}-${String(port)}`;
  await ok(
    [
      'run',
      '-d',
      '--name',
      name,
      '-v',
      `${www}:/www:ro`,
      '-p',
      `${String(port)}:80`,
      'busybox',
      'httpd',
      '-f',
      '-p',
      '80',
      '-h',
      '/www',
    ],
    env,
  );
  return name;
}

/** A connected socket's two ends as getsockname(2) and getpeername(2) report them. */
async function ends(port: number): Promise<{ local: string; remote: string }> {
  const socket: Socket = connect(port, '127.0.0.1');
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve).once('error', reject);
    });
    return {
      local: socket.localAddress ?? '',
      remote: `${socket.remoteAddress ?? ''}:${String(socket.remotePort ?? '')}`,
    };
  } finally {
    socket.destroy();
  }
}

/** A host server on 127.0.0.1:port: a connection reaching it was not redirected. */
async function hostServer(port: number): Promise<Server> {
  const server = createServer((s) => s.on('error', () => undefined).end('host\n'));
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return server;
}

beforeAll(async () => {
  box = await busyboxRoot('socklb');
  host = networkHostOf(box.root);
  www = join(box.root, '..', 'www');
  mkdirSync(www);
  writeFileSync(join(www, 'index.html'), 'hello from the container\n');
}, 60_000);

afterAll(async () => {
  await removeRecordedContainers(box.root);
  await tsdock(['--root', box.root, 'network', 'prune', '-f']);
  // Should a failure have left them: removing the pins detaches the programs.
  rmSync(host.socketLbPins, { recursive: true, force: true });
  rmSync(host.publishedPathFile, { force: true });
  await box.remove();
}, 60_000);

describe('published ports at connect(2)', () => {
  it('connects a host client straight to the container, and getpeername shows 127.0.0.1:HOSTPORT', async () => {
    const port = await freePort();
    const name = await httpd(port);
    expect(readFileSync(host.publishedPathFile, 'utf8')).toBe('socket\n');
    expect(readdirSync(host.socketLbPins).sort()).toEqual(['connect4', 'getpeername4', 'peers', 'services']);
    const { stdout } = await eventually(() =>
      exec('curl', ['-sS', '--max-time', '5', `http://127.0.0.1:${String(port)}/`]),
    );
    expect(stdout).toBe('hello from the container\n');
    const [summary] = JSON.parse(await ok(['network', 'inspect', 'bridge'])) as { gateway: string }[];
    const seen = await ends(port);
    // Through DNAT the client's own end would be 127.0.0.1; redirected, it is routed from the bridge.
    expect(seen).toEqual({ local: summary?.gateway, remote: `127.0.0.1:${String(port)}` });
    await ok(['rm', '-f', name]);
  });

  it('removes a port from the map with its container, and the pins with the last one', async () => {
    const [first, second] = [await freePort(), await freePort()];
    const names = [await httpd(first), await httpd(second)];
    await eventually(() => ends(second));
    await ok(['rm', '-f', names[0] ?? '']);
    const server = await hostServer(first);
    try {
      expect((await ends(first)).local).toBe('127.0.0.1');
      expect(existsSync(host.socketLbPins)).toBe(true);
      await ok(['rm', '-f', names[1] ?? '']);
      await ok(['network', 'prune', '-f']);
      expect(existsSync(host.socketLbPins)).toBe(false);
      expect(existsSync(host.publishedPathFile)).toBe(false);
    } finally {
      await new Promise((r) => server.close(r));
    }
    // No program is left to redirect the other port either.
    const other = await hostServer(second);
    try {
      expect(await ends(second)).toEqual({ local: '127.0.0.1', remote: `127.0.0.1:${String(second)}` });
    } finally {
      await new Promise((r) => other.close(r));
    }
  });

  it('with TSDOCK_SOCKET_LB=off keeps host clients on the DNAT path, and says so', async () => {
    const port = await freePort();
    const name = await httpd(port, { TSDOCK_SOCKET_LB: 'off' });
    try {
      expect(readFileSync(host.publishedPathFile, 'utf8')).toBe('nat: TSDOCK_SOCKET_LB=off\n');
      expect(existsSync(host.socketLbPins)).toBe(false);
      const { stdout } = await eventually(() =>
        exec('curl', ['-sS', '--max-time', '5', `http://127.0.0.1:${String(port)}/`]),
      );
      expect(stdout).toBe('hello from the container\n');
      expect(await ends(port)).toEqual({ local: '127.0.0.1', remote: `127.0.0.1:${String(port)}` });
    } finally {
      await ok(['rm', '-f', name], { TSDOCK_SOCKET_LB: 'off' });
    }
    expect(existsSync(host.publishedPathFile)).toBe(false);
  });
});
