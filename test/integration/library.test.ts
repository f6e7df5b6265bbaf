/**
 * The library as an embedder uses it, as root on the real kernel: a container started by a Node
 * process that then exits keeps running and a new Runtime finds, stops and removes it; the
 * orchestrator of examples/replicas.ts keeps 3 replicas alive while one is killed; a pod's two
 * containers talk over localhost through the library's `pod` option.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ReplicaSet } from '../../examples/replicas.js';
import { Runtime } from '../../src/index.js';
import { isAlive } from '../../src/runtime/proc-stat.js';
import { busyboxRoot, type BusyboxRoot } from '../helpers/busybox.js';
import { removeAllContainers } from '../helpers/runtime-teardown.js';
import { removeCgroupParent, repoRoot, uniqueCgroupParent } from '../helpers/host.js';

const exec = promisify(execFile);
let box: BusyboxRoot;
let runtime: Runtime;
const cgroupParent = uniqueCgroupParent('lib');

beforeAll(async () => {
  box = await busyboxRoot('lib');
  runtime = await Runtime.open({ root: box.root });
});

afterAll(async () => {
  for (const pod of await runtime.listPods()) await runtime.removePod(pod.id, { force: true });
  await removeAllContainers(runtime);
  await removeCgroupParent(cgroupParent);
  await box.remove();
});

/** Polls `probe` until it returns a value, at most `tries` times (no timed assertion). */
async function eventually<T>(probe: () => Promise<T | undefined>, tries = 200): Promise<T> {
  for (let i = 0; i < tries; i++) {
    const value = await probe();
    if (value !== undefined) return value;
    await sleep(50);
  }
  throw new Error('condition never held');
}

describe('the library', () => {
  it('leaves a detached container running when its process exits, and a new Runtime finds it', async () => {
    const script = `
      const { Runtime } = await import(${JSON.stringify(join(repoRoot, 'dist/src/index.js'))});
      const runtime = await Runtime.open({ root: ${JSON.stringify(box.root)} });
      const id = await runtime.runDetached('busybox', {
        name: 'outlives', command: ['sleep', '600'], cgroupParent: ${JSON.stringify(cgroupParent)},
      });
      process.stdout.write(id);`;
    const { stdout } = await exec(process.execPath, ['--input-type=module', '-e', script]);
    expect(stdout).toMatch(/^[0-9a-f]{64}$/);

    const fresh = await Runtime.open({ root: box.root });
    const [found] = (await fresh.list()).filter((c) => c.record.name === 'outlives');
    expect(found?.record.id).toBe(stdout);
    expect(found?.observed.status).toBe('running');
    expect(isAlive(found?.record.state.init)).toBe(true);

    const stopped = await fresh.stop('outlives', { timeout: 1 });
    expect(stopped.observed.status).toBe('exited');
    await fresh.remove('outlives');
    expect((await fresh.list({ all: true })).map((c) => c.record.name)).not.toContain('outlives');
    expect(isAlive(found?.record.state.monitor)).toBe(false);
  });

  it('keeps 3 replicas running while one is killed (examples/replicas.ts)', async () => {
    const set = new ReplicaSet(runtime, {
      name: 'replica',
      image: 'busybox',
      replicas: 3,
      options: { command: ['sleep', '600'], cgroupParent },
    });
    try {
      await set.start();
      expect(await set.running()).toBe(3);
      const victim = await runtime.inspect('replica-1');
      expect(victim.State.Running).toBe(true);
      process.kill(victim.State.Pid, 'SIGKILL');

      // The supervisor sees the exit and starts the replica again: a new init, 3 running.
      const replacement = await eventually(async () => {
        const now = await runtime.inspect('replica-1');
        return now.State.Running && now.State.Pid !== victim.State.Pid ? now : undefined;
      });
      expect(replacement.Id).toBe(victim.Id);
      expect(await eventually(async () => ((await set.running()) === 3 ? 3 : undefined))).toBe(3);
    } finally {
      await set.close(1);
    }
    const left = (await runtime.list({ all: true })).filter((c) => c.record.name.startsWith('replica-'));
    expect(left).toEqual([]);
  });

  it("puts containers in a pod: they meet on localhost and share the pod's host name", async () => {
    await runtime.createPod({ name: 'libpod', hostname: 'shared', cgroupParent });
    await runtime.runDetached('busybox', {
      pod: 'libpod',
      name: 'listener',
      cgroupParent,
      command: ['sh', '-c', 'echo pong | nc -l -p 7001'],
    });
    const { exitCode, ...rest } = await runtime.run('busybox', {
      pod: 'libpod',
      cgroupParent,
      stdio: { stdin: 'ignore', output: 'ignore' },
      command: [
        'sh',
        '-c',
        'test "$(hostname)" = shared || exit 3; for i in $(seq 100); do nc 127.0.0.1 7001 </dev/null | grep -q pong && exit 0; sleep 0.1; done; exit 1',
      ],
    });
    expect(rest).toMatchObject({ signal: 0 });
    expect(exitCode).toBe(0);
    expect((await runtime.inspectPod('libpod')).containers.map((c) => c.name)).toEqual(['listener']);
    await runtime.removePod('libpod', { force: true });
    expect(await runtime.listPods()).toEqual([]);
  });
});
