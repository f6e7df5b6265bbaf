/**
 * Where a container's cgroup goes and how it is made, on temp directories standing in for
 * cgroup hierarchies: the parent rule, the name checks, the retry when a shared parent vanishes,
 * the v2 subtree_control hooks, rollback, and removal of the default parent when it is empty.
 */
import { mkdir, mkdtemp, readFile, rm, rmdir, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TsdockError } from '../../src/errors.js';
import type { CgroupHierarchy, Controller } from '../../src/runtime/cgroups/detect.js';
import {
  createContainerCgroup,
  openContainerCgroup,
  removeUnusedDefaultParent,
} from '../../src/runtime/cgroups/index.js';
import { checkName, checkParent, createPlacement, place } from '../../src/runtime/cgroups/layout.js';
import { v2CreateHooks } from '../../src/runtime/cgroups/v2.js';

async function present(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

async function caught(promise: Promise<unknown>): Promise<TsdockError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(TsdockError);
  return error as TsdockError;
}

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), `tsdock-cgroups-${process.pid}-`));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('the parent rule', () => {
  it.each([
    ['/tsdock', '/', '/mnt/memory', '/mnt/memory', ['/mnt/memory/tsdock'], '/mnt/memory/tsdock/c1'],
    ['/tsdock', '/process_api/ab', '/mnt/memory', '/mnt/memory', ['/mnt/memory/tsdock'], '/mnt/memory/tsdock/c1'],
    ['/a/b', '/x', '/mnt/pids', '/mnt/pids', ['/mnt/pids/a', '/mnt/pids/a/b'], '/mnt/pids/a/b/c1'],
    ['/', '/x', '/mnt/pids', '/mnt/pids', [], '/mnt/pids/c1'],
    [
      't-1',
      '/process_api/ab',
      '/mnt/memory',
      '/mnt/memory/process_api/ab',
      ['/mnt/memory/process_api/ab/t-1'],
      '/mnt/memory/process_api/ab/t-1/c1',
    ],
    ['t-1/sub/', '/', '/mnt/cpu', '/mnt/cpu', ['/mnt/cpu/t-1', '/mnt/cpu/t-1/sub'], '/mnt/cpu/t-1/sub/c1'],
  ])('parent %s, own path %s, mount %s', (parent, ownPath, mountPoint, base, parents, dir) => {
    expect(place(mountPoint, ownPath, parent, 'c1')).toStrictEqual({ base, parents, dir });
  });

  it.each(['/tsdock', 'tests/run-1', '/', 'a/b/'])('accepts parent %s', (parent) => {
    expect(() => {
      checkParent(parent);
    }).not.toThrow();
  });

  it.each(['', '../up', '/a/../b', 'a//b', './a', '//a'])('refuses parent %j', (parent) => {
    expect(() => {
      checkParent(parent);
    }).toThrow(/^invalid --cgroup-parent ".*": expected a cgroup path/);
  });

  it.each(['', '.', '..', '.hidden', 'a/b', '-x', 'a b'])('refuses name %j', (name) => {
    expect(() => {
      checkName(name);
    }).toThrow(TsdockError);
  });

  it.each(['c1', 'abc123def', 'my_container.1-2'])('accepts name %s', (name) => {
    expect(() => {
      checkName(name);
    }).not.toThrow();
  });
});

describe('createPlacement', () => {
  it('makes missing parents, accepts existing ones, and refuses an existing container dir', async () => {
    const placement = place(root, '/', '/a/b', 'c1');
    await mkdir(join(root, 'a'));
    await createPlacement(placement, {});
    expect(await present(placement.dir)).toBe(true);
    const error = await caught(createPlacement(placement, {}));
    expect(error.code).toBe('START_FAILED');
    expect(error.message).toBe(
      `cgroup ${placement.dir} already exists: a container with this name is running or left it behind`,
    );
  });

  it('runs the hooks at every level, top down', async () => {
    const calls: string[] = [];
    await createPlacement(place(root, '/', '/a/b', 'c1'), {
      beforeChild: async (dir) => {
        calls.push(`before ${dir}`);
        await Promise.resolve();
      },
      created: async (dir, parent) => {
        calls.push(`created ${dir} in ${parent}`);
        await Promise.resolve();
      },
    });
    const a = join(root, 'a');
    const b = join(a, 'b');
    expect(calls).toStrictEqual([
      `before ${root}`,
      `created ${a} in ${root}`,
      `before ${a}`,
      `created ${b} in ${a}`,
      `before ${b}`,
      `created ${join(b, 'c1')} in ${b}`,
    ]);
  });

  it('retries once when another container removes the shared parent under it', async () => {
    const placement = place(root, '/', '/tsdock', 'c1');
    let removals = 0;
    await createPlacement(placement, {
      async beforeChild(dir) {
        // The race: the parent exists when made, and is gone when the container dir is made.
        if (dir === placement.parents[0] && removals === 0) {
          removals++;
          await rmdir(dir);
        }
      },
    });
    expect(removals).toBe(1);
    expect(await present(placement.dir)).toBe(true);
  });

  it('does not retry other failures, and removes the container dir when its hook fails', async () => {
    const placement = place(root, '/', '/p', 'c1');
    let calls = 0;
    const error = await caught(
      createPlacement(placement, {
        async created(dir) {
          if (dir !== placement.dir) return;
          calls++;
          await Promise.reject(new TsdockError('START_FAILED', 'refused'));
        },
      }),
    );
    expect(error.message).toBe('refused');
    expect(calls).toBe(1);
    expect(await present(placement.dir)).toBe(false);
  });
});

describe('v2CreateHooks enable controllers in cgroup.subtree_control', () => {
  const all = new Set<Controller>(['memory', 'cpu', 'cpuacct', 'cpuset', 'pids', 'freezer', 'devices', 'blkio']);

  async function level(controllers: string, enabled: string): Promise<string> {
    await writeFile(join(root, 'cgroup.controllers'), `${controllers}\n`);
    await writeFile(join(root, 'cgroup.subtree_control'), `${enabled}\n`);
    return join(root, 'cgroup.subtree_control');
  }

  it('enables what it serves and the level offers, skipping what is on already', async () => {
    const file = await level('cpuset cpu io memory hugetlb pids', 'cpu');
    await v2CreateHooks(all, {}).beforeChild?.(root);
    expect(await readFile(file, 'utf8')).toBe('+memory +cpuset +pids +io');
  });

  it('writes nothing when everything is on already, or nothing is offered (hybrid host)', async () => {
    const file = await level('hugetlb', '');
    await v2CreateHooks(new Set<Controller>(['cpuacct', 'freezer', 'devices']), { memory: 1 << 25 }).beforeChild?.(
      root,
    );
    expect(await readFile(file, 'utf8')).toBe('\n');
    await level('cpu memory', 'cpu memory');
    await v2CreateHooks(all, {}).beforeChild?.(root);
    expect(await readFile(file, 'utf8')).toBe('cpu memory\n');
  });

  it('refuses a limit whose controller the level does not offer', async () => {
    await level('cpu pids', '');
    const error = await caught(v2CreateHooks(all, { memory: 1 << 25 }).beforeChild?.(root) ?? Promise.resolve());
    expect(error.code).toBe('HOST_UNSUPPORTED');
    expect(error.message).toBe(`the memory controller is not available in ${root} (its parent does not delegate it)`);
  });

  describe('when the kernel refuses the write', () => {
    beforeEach(async () => {
      await writeFile(join(root, 'cgroup.controllers'), 'cpu memory pids\n');
      // Reads fine, refuses writes even for root (EACCES), like a cgroup refusing with EBUSY.
      await symlink('/proc/sys/kernel/osrelease', join(root, 'cgroup.subtree_control'));
    });

    it('carries on when only stats needed the controllers', async () => {
      await expect(v2CreateHooks(all, {}).beforeChild?.(root)).resolves.toBeUndefined();
    });

    it('fails, pointing at the no-internal-process rule, when a limit needs them', async () => {
      const error = await caught(v2CreateHooks(all, { pidsLimit: 5 }).beforeChild?.(root) ?? Promise.resolve());
      expect(error.message).toMatch(
        /^cannot write "\+memory \+cpu \+pids" to .*cgroup.subtree_control: permission denied/,
      );
      expect(error.message).toContain('No Internal Process Constraint');
    });
  });
});

describe('createContainerCgroup on stand-in v1 hierarchies', () => {
  /** memory and pids hierarchies (no cpuset: its files exist only on a real kernel). */
  function hierarchy(ownPath = '/', v2 = false): CgroupHierarchy {
    const memory = { mountPoint: join(root, 'memory'), ownPath };
    const pids = { mountPoint: join(root, 'pids'), ownPath };
    return {
      v1: { memory, pids },
      v2: v2 ? { mountPoint: join(root, 'unified'), controllers: [], ownPath } : undefined,
    };
  }

  beforeEach(async () => {
    for (const mount of ['memory', 'pids', 'unified']) await mkdir(join(root, mount));
  });

  it('creates the container dir in each hierarchy under the default parent, and lists only those for the monitor', async () => {
    const cgroup = await createContainerCgroup({ name: 'c1', limits: {}, hierarchy: hierarchy('/me') });
    const dirs = [join(root, 'memory/tsdock/c1'), join(root, 'pids/tsdock/c1')];
    expect(cgroup.dirs).toStrictEqual(dirs);
    expect(cgroup.procsFiles).toStrictEqual(dirs.map((d) => join(d, 'cgroup.procs')));
    expect(cgroup.oom).toStrictEqual({ driver: 'v1', path: join(root, 'memory/tsdock/c1/memory.oom_control') });
    for (const dir of dirs) expect(await present(dir)).toBe(true);
  });

  it('keeps the default parent after the last container, for the next one; prune removes it once unused', async () => {
    const first = await createContainerCgroup({ name: 'c1', limits: {}, hierarchy: hierarchy() });
    const second = await createContainerCgroup({ name: 'c2', limits: {}, hierarchy: hierarchy() });
    await first.destroy();
    expect(await present(join(root, 'memory/tsdock/c1'))).toBe(false);
    expect(await present(join(root, 'memory/tsdock/c2'))).toBe(true);
    removeUnusedDefaultParent(hierarchy());
    expect(await present(join(root, 'memory/tsdock/c2'))).toBe(true);
    await second.destroy();
    await second.destroy(); // idempotent
    expect(second.parentDirs).toStrictEqual([join(root, 'memory/tsdock'), join(root, 'pids/tsdock')]);
    expect(await present(join(root, 'memory/tsdock'))).toBe(true);
    removeUnusedDefaultParent(hierarchy());
    expect(await present(join(root, 'memory/tsdock'))).toBe(false);
    expect(await present(join(root, 'pids/tsdock'))).toBe(false);
  });

  it('keeps a parent the caller named, relative to its own cgroup', async () => {
    await mkdir(join(root, 'memory/me'));
    await mkdir(join(root, 'pids/me'));
    const cgroup = await createContainerCgroup({
      name: 'c1',
      parent: 'tests',
      limits: {},
      hierarchy: hierarchy('/me'),
    });
    expect(cgroup.dirs).toStrictEqual([join(root, 'memory/me/tests/c1'), join(root, 'pids/me/tests/c1')]);
    await cgroup.destroy();
    expect(await present(join(root, 'memory/me/tests/c1'))).toBe(false);
    expect(await present(join(root, 'memory/me/tests'))).toBe(true);
  });

  it('refuses an existing container dir and leaves it to its owner', async () => {
    await createContainerCgroup({ name: 'c1', limits: {}, hierarchy: hierarchy() });
    const error = await caught(createContainerCgroup({ name: 'c1', limits: {}, hierarchy: hierarchy() }));
    expect(error.message).toBe(
      `cgroup ${join(root, 'memory/tsdock/c1')} already exists: a container with this name is running or left it behind`,
    );
    expect(await present(join(root, 'memory/tsdock/c1'))).toBe(true);
    expect(await present(join(root, 'pids/tsdock/c1'))).toBe(true);
  });

  it('rolls back what it made when a limit cannot be written', async () => {
    // A fresh stand-in directory has no pids.max, as a kernel without the feature.
    const error = await caught(createContainerCgroup({ name: 'c1', limits: { pidsLimit: 5 }, hierarchy: hierarchy() }));
    expect(error.message).toMatch(/^cannot write "5" to .*\/pids\/tsdock\/c1\/pids.max: no such file or directory$/);
    expect(await present(join(root, 'memory/tsdock'))).toBe(false);
    expect(await present(join(root, 'pids/tsdock'))).toBe(false);
  });

  it('rolls back the v1 dirs when the v2 tree fails', async () => {
    // The stand-in unified tree lacks cgroup.controllers.
    const error = await caught(createContainerCgroup({ name: 'c1', limits: {}, hierarchy: hierarchy('/', true) }));
    expect(error.message).toMatch(/^cannot read .*\/unified\/cgroup.controllers: no such file or directory$/);
    expect(await present(join(root, 'memory/tsdock'))).toBe(false);
    expect(await present(join(root, 'unified/tsdock'))).toBe(false);
  });

  it('refuses limits no hierarchy serves before creating anything', async () => {
    const error = await caught(
      createContainerCgroup({ name: 'c1', limits: { cpuQuota: 50_000 }, hierarchy: hierarchy() }),
    );
    expect(error.code).toBe('HOST_UNSUPPORTED');
    expect(error.message).toBe('the requested limits need the cpu cgroup controller, which this host does not mount');
    expect(await present(join(root, 'memory/tsdock'))).toBe(false);
  });

  it('refuses a bad name or parent before touching the host', async () => {
    await expect(createContainerCgroup({ name: '../x', limits: {}, hierarchy: hierarchy() })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
    await expect(
      createContainerCgroup({ name: 'c1', parent: '/a/../..', limits: {}, hierarchy: hierarchy() }),
    ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(await present(join(root, 'memory/tsdock'))).toBe(false);
  });

  it('openContainerCgroup finds the same directories', async () => {
    const created = await createContainerCgroup({ name: 'c1', limits: {}, hierarchy: hierarchy() });
    const opened = await openContainerCgroup({ name: 'c1', hierarchy: hierarchy() });
    expect(opened.dirs).toStrictEqual(created.dirs);
    expect(opened.procsFiles).toStrictEqual(created.procsFiles);
    expect(opened.oom).toStrictEqual(created.oom);
    expect(opened.parentDirs).toStrictEqual(created.parentDirs);
    await opened.destroy();
    expect(await present(join(root, 'memory/tsdock/c1'))).toBe(false);
  });
});
