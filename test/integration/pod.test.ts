/**
 * Pods through the CLI on the real kernel: two containers of a pod talk over 127.0.0.1 and see
 * one host name, IPC, network and pid namespace; the pod's published port reaches a member;
 * `pod rm` refuses running members without -f and then leaves no pause process, pin, netns or
 * veth; a killed pause process is reconciled and `pod start` brings the pod back. Traffic goes
 * only to 127.0.0.1 and to this file's containers.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ContainerRecord } from '../../src/runtime/container-record.js';
import { podPinsDir } from '../../src/runtime/pod-namespaces.js';
import type { PodSummary } from '../../src/runtime/pod.js';
import { isAlive } from '../../src/runtime/proc-stat.js';
import { networkHostOf } from '../../src/network/store.js';
import { containerRecords } from '../helpers/container-bed.js';
import { busyboxRoot, type BusyboxRoot } from '../helpers/busybox.js';
import { removeCgroupParent, tsdock, uniqueCgroupParent } from '../helpers/host.js';
import { freePort } from '../helpers/ports.js';

const exec = promisify(execFile);
let box: BusyboxRoot;
const parent = uniqueCgroupParent('pod');
let counter = 0;

beforeAll(async () => {
  box = await busyboxRoot('pod');
});

afterAll(async () => {
  for (const r of records()) {
    for (const who of [r.state.init, r.state.monitor]) {
      if (who !== undefined && isAlive(who)) process.kill(who.pid, 'SIGKILL');
    }
  }
  const pods = (await cli(['pod', 'ls', '-q'])).stdout.split('\n').filter(Boolean);
  if (pods.length > 0) await cli(['pod', 'rm', '-f', ...pods]);
  await cli(['network', 'prune', '-f']);
  await removeCgroupParent(parent);
  await box.remove();
});

function cli(args: string[]): ReturnType<typeof tsdock> {
  return tsdock(['--root', box.root, ...args]);
}

async function ok(args: string[]): Promise<string> {
  const r = await cli(args);
  if (r.code !== 0) throw new Error(`tsdock ${args.join(' ')} failed (${String(r.code)}): ${r.stderr}`);
  return r.stdout.trim();
}

function unique(label: string): string {
  counter++;
  return `pod-${label}-${String(process.pid)}-${String(counter)}`;
}

function records(): ContainerRecord[] {
  return containerRecords(box.root);
}

async function inspectPod(ref: string): Promise<PodSummary> {
  const [pod] = JSON.parse(await ok(['pod', 'inspect', ref])) as PodSummary[];
  if (pod === undefined) throw new Error(`no pod ${ref}`);
  return pod;
}

/** A throw-away member of `pod` running `script`. */
function inPod(pod: string, script: string): ReturnType<typeof tsdock> {
  return cli(['run', '--rm', '--pod', pod, '--cgroup-parent', parent, 'busybox', 'sh', '-c', script]);
}

/** What the member sees of its namespaces and name, one `kind:inode` per line. */
const IDENTITY = 'for ns in net ipc uts pid; do echo "$ns:$(readlink /proc/self/ns/$ns)"; done; hostname';

describe('pods', () => {
  it('lets its containers talk over localhost and share host name, IPC, network and pid namespaces', async () => {
    const pod = unique('talk');
    await ok([
      'pod',
      'create',
      '--name',
      pod,
      '--hostname',
      'podhost',
      '--share',
      'net,ipc,uts,pid',
      '--cgroup-parent',
      parent,
    ]);
    await ok([
      'run',
      '-d',
      '--pod',
      pod,
      '--name',
      unique('server'),
      '--cgroup-parent',
      parent,
      'busybox',
      'sh',
      '-c',
      `(${IDENTITY}) > /tmp/identity; echo pong | nc -l -p 7000 > /tmp/got; sleep 600`,
    ]);
    // The server may not listen yet: the client retries, bounded.
    const client = await inPod(
      pod,
      `(${IDENTITY}); for i in $(seq 100); do echo ping | nc 127.0.0.1 7000 && exit 0; sleep 0.1; done; exit 1`,
    );
    expect(client.stderr).toBe('');
    expect(client.code).toBe(0);
    const lines = client.stdout.trim().split('\n');
    expect(lines.at(-1)).toBe('pong');
    expect(lines).toContain('podhost');

    const [server] = records().filter((r) => r.options.pod !== undefined && r.infra !== true);
    expect(server).toBeDefined();
    // nc writes what it got after the client has its answer: wait for it, bounded.
    const seen = await ok([
      'exec',
      server?.id ?? '',
      'sh',
      '-c',
      'for i in $(seq 100); do grep -q ping /tmp/got && break; sleep 0.1; done; cat /tmp/identity; cat /tmp/got; ps -o pid,args',
    ]);
    // The same namespaces (by inode) and host name on both sides; the server got the ping.
    expect(seen.split('\n').slice(0, 5)).toEqual(lines.slice(0, 5));
    expect(seen).toContain('ping');
    // One pid namespace: the pause process is its pid 1.
    expect(seen).toMatch(/^\s*1 \/tsdock-pause$/m);

    const ps = JSON.parse((await ok(['ps', '--format', 'json'])).split('\n')[0] ?? '') as { PodName: string };
    expect(ps.PodName).toBe(pod);
  });

  it("publishes the pod's ports to its members and refuses a member's own network flags", async () => {
    const pod = unique('web');
    const port = await freePort();
    await ok([
      'pod',
      'create',
      '--name',
      pod,
      '--network',
      'bridge',
      '-p',
      `${String(port)}:80`,
      '--cgroup-parent',
      parent,
    ]);
    await ok([
      'run',
      '-d',
      '--pod',
      pod,
      '--cgroup-parent',
      parent,
      'busybox',
      'sh',
      '-c',
      'mkdir /www && echo hi-from-pod > /www/index.html && exec httpd -f -p 80 -h /www',
    ]);
    let body = '';
    for (let i = 0; i < 50 && body === ''; i++) {
      body = await exec('/bin/busybox', ['wget', '-q', '-O-', `http://127.0.0.1:${String(port)}/`], { timeout: 2000 })
        .then((r) => r.stdout)
        .catch(() => sleep(100).then(() => ''));
    }
    expect(body).toBe('hi-from-pod\n');

    const refused = await cli(['run', '--rm', '--pod', pod, '-p', '8080:80', 'busybox', 'true']);
    expect(refused.code).toBe(125);
    expect(refused.stderr).toBe(
      `tsdock: -p/-P cannot be used for a container in pod ${pod}: publish ports with pod create -p\n`,
    );
  });

  it('removes everything with pod rm -f, and refuses while members run without it', async () => {
    const pod = unique('rm');
    await ok(['pod', 'create', '--name', pod, '--network', 'bridge', '--cgroup-parent', parent]);
    await ok(['run', '-d', '--pod', pod, '--cgroup-parent', parent, 'busybox', 'sleep', '600']);
    const before = await inspectPod(pod);
    expect(before.status).toBe('running');
    expect(before.containers).toHaveLength(1);
    const infra = records().find((r) => r.id === before.infraId);
    const member = records().find((r) => r.id === before.containers[0]?.id);
    const host = networkHostOf(box.root);
    const endpoints = (
      JSON.parse(readFileSync(host.stateFile, 'utf8')) as { endpoints: { containerId: string; hostVeth: string }[] }
    ).endpoints.filter((e) => e.containerId === before.infraId);
    expect(endpoints).toHaveLength(1);
    const veth = endpoints[0]?.hostVeth ?? '';
    expect(existsSync(`/sys/class/net/${veth}`)).toBe(true);
    expect(readdirSync(podPinsDir(box.root, before.id)).sort()).toEqual(['ipc', 'net', 'uts']);

    const refused = await cli(['pod', 'rm', pod]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/has running containers .*: stop them, or use -f/);
    expect((await inspectPod(pod)).status).toBe('running');
    expect((await cli(['rm', '-f', before.infraId])).stderr).toMatch(/holds the namespaces of a pod: remove the pod/);

    expect(await ok(['pod', 'rm', '-f', pod])).toBe(pod);
    for (const who of [infra?.state.init, infra?.state.monitor, member?.state.init, member?.state.monitor]) {
      expect(who).toBeDefined();
      expect(isAlive(who)).toBe(false);
    }
    expect(existsSync(podPinsDir(box.root, before.id))).toBe(false);
    expect(existsSync(join(host.netnsDir, before.infraId))).toBe(false);
    expect(existsSync(`/sys/class/net/${veth}`)).toBe(false);
    expect(records().filter((r) => r.id === before.infraId || r.id === member?.id)).toEqual([]);
    expect((await cli(['pod', 'inspect', pod])).stderr).toBe(`tsdock: no such pod: ${pod}\n`);
  });

  it('reconciles a killed pause process and starts the pod again', async () => {
    const pod = unique('dead');
    await ok(['pod', 'create', '--name', pod, '--cgroup-parent', parent]);
    const first = await inspectPod(pod);
    process.kill(first.pausePid, 'SIGKILL');
    let now = await inspectPod(pod);
    for (let i = 0; i < 50 && now.status === 'running'; i++) {
      await sleep(50);
      now = await inspectPod(pod);
    }
    expect(now.status).toBe('exited');
    expect(now.pausePid).toBe(0);
    // A member's start brings the pod back, with fresh namespaces.
    const r = await inPod(pod, 'hostname');
    expect(r.stdout).toBe(`${pod}\n`);
    const again = await inspectPod(pod);
    expect(again.status).toBe('running');
    expect(again.pausePid).not.toBe(first.pausePid);
    const member = await ok(['run', '-d', '--pod', pod, '--cgroup-parent', parent, 'busybox', 'sleep', '600']);
    await ok(['pod', 'stop', '-t', '1', pod]);
    const stopped = await inspectPod(pod);
    expect(stopped.status).toBe('exited');
    expect(stopped.containers.map((c) => c.status)).toEqual(['exited']);
    expect(existsSync(podPinsDir(box.root, first.id))).toBe(false);
    // Starting a member starts its pod first.
    await ok(['start', member]);
    const restarted = await inspectPod(pod);
    expect(restarted.status).toBe('running');
    expect(restarted.containers.map((c) => c.status)).toEqual(['running']);
    expect(await ok(['exec', member, 'hostname'])).toBe(pod);
    await ok(['pod', 'rm', '-f', pod]);
  });
});
