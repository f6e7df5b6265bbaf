/**
 * `tsdock exec` end to end: the new process is inside the running container — same namespaces
 * (user ones too), mounts, cgroup, host name and environment — inherits no descriptor, and its
 * exit status is the CLI's.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { busyboxRoot, type BusyboxRoot } from '../helpers/busybox.js';
import { removeCgroupParent, tsdock, uniqueCgroupParent } from '../helpers/host.js';

let box: BusyboxRoot;
const parent = uniqueCgroupParent('exec');
const plain = `exec-plain-${process.pid}`;
const mapped = `exec-userns-${process.pid}`;

function cli(args: string[]): ReturnType<typeof tsdock> {
  return tsdock(['--root', box.root, ...args]);
}

async function start(name: string, flags: string[]): Promise<void> {
  const r = await cli(['run', '-d', '--name', name, '--cgroup-parent', parent, ...flags, 'busybox', 'sleep', '300']);
  expect(r.stderr).toBe('');
}

beforeAll(async () => {
  box = await busyboxRoot('exec');
  await start(plain, ['-h', 'box-exec', '-e', 'FROM_RUN=1']);
  await start(mapped, ['--userns', 'private']);
});

afterAll(async () => {
  await cli(['rm', '-f', plain, mapped]);
  await removeCgroupParent(parent);
  await box.remove();
});

async function sh(name: string, script: string, flags: string[] = []): Promise<string> {
  const r = await cli(['exec', ...flags, name, 'sh', '-c', script]);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return r.stdout;
}

describe('exec', () => {
  it.each([plain, mapped])('joins every namespace, the mounts and the cgroup of %s', async (name) => {
    const same = await sh(
      name,
      'for n in user mnt pid net ipc uts cgroup; do [ "$(readlink /proc/self/ns/$n)" = "$(readlink /proc/1/ns/$n)" ] || echo "$n differs"; done; ' +
        'cmp -s /proc/self/mountinfo /proc/1/mountinfo || echo mounts differ; ' +
        'cmp -s /proc/self/cgroup /proc/1/cgroup || echo cgroup differs; echo checked',
    );
    expect(same).toBe('checked\n');
    // In the container's pid namespace: a small pid, and the init is the container's.
    expect(await sh(name, 'cat /proc/1/cmdline | tr "\\0" " "; echo')).toBe('sleep 300 \n');
  });

  it('has the container host name and environment, overridable per exec', async () => {
    expect(await sh(plain, 'hostname; echo $FROM_RUN')).toBe('box-exec\n1\n');
    expect(
      await sh(plain, 'echo $FROM_RUN; pwd; id -u; id -g', ['-e', 'FROM_RUN=2', '-w', '/tmp', '-u', '1000:1001']),
    ).toBe('2\n/tmp\n1000\n1001\n');
  });

  it('runs as root of the user namespace, mapped on the host', async () => {
    expect(await sh(mapped, 'id -u; cat /proc/self/uid_map')).toMatch(/^0\n\s+0\s+100000\s+65536\n$/);
  });

  it('inherits no descriptor beyond stdio', async () => {
    // ls's own directory fd is 3.
    expect(await sh(plain, 'ls /proc/self/fd')).toBe('0\n1\n2\n3\n');
  });

  it("exits with the command's status; 127 for a missing command; 125 when not running", async () => {
    expect((await cli(['exec', plain, 'sh', '-c', 'exit 7'])).code).toBe(7);
    const missing = await cli(['exec', plain, 'no-such-command']);
    expect(missing.code).toBe(127);
    expect(missing.stderr).toBe('tsdock: exec: no-such-command: executable file not found in $PATH\n');
    const stopped = `exec-stopped-${process.pid}`;
    await cli(['run', '--name', stopped, '--cgroup-parent', parent, 'busybox', 'true']);
    const refused = await cli(['exec', stopped, 'true']);
    expect(refused.code).toBe(125);
    expect(refused.stderr).toContain('is not running');
    await cli(['rm', stopped]);
  });

  it('-d leaves the process running in the container; no exec plan file is left', async () => {
    expect((await cli(['exec', '-d', plain, 'sleep', '7'])).code).toBe(0);
    const ps = await sh(plain, 'ps -o args');
    expect(ps).toContain('sleep 7');
    const dir = readdirSync(join(box.root, 'containers')).map((id) => join(box.root, 'containers', id));
    for (const d of dir) expect(existsSync(d) && readdirSync(d).filter((f) => f.startsWith('exec-'))).toEqual([]);
  });
});
