/**
 * A test file's own busybox root and cgroup parent for containers driven through the CLI: unique
 * names, the container records on disk, and an `afterAll` that kills whatever the file's
 * containers left running (by pid and start time, never by name) and removes it all.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import type { ContainerRecord } from '../../src/runtime/container-record.js';
import { isAlive } from '../../src/runtime/proc-stat.js';
import { busyboxRoot, type BusyboxRoot } from './busybox.js';
import { removeCgroupParent, tsdock, uniqueCgroupParent } from './host.js';

export interface ContainerBed {
  /** The tsdock root, with the busybox image loaded (valid from `beforeAll` on). */
  readonly root: string;
  /** A cgroup parent under this test process's own cgroup, removed at the end. */
  readonly parent: string;
  /** The CLI on this root. */
  readonly cli: (args: string[], options?: Parameters<typeof tsdock>[1]) => ReturnType<typeof tsdock>;
  /** A container name no other test or run uses. */
  readonly unique: (label: string) => string;
  /** The records of every container in the root. */
  readonly records: () => ContainerRecord[];
}

/** The records of every container in the tsdock root `root`. */
export function containerRecords(root: string): ContainerRecord[] {
  const dir = join(root, 'containers');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((d) => /^[0-9a-f]{64}$/.test(d) && existsSync(join(dir, d, 'config.json')))
    .map((d) => JSON.parse(readFileSync(join(dir, d, 'config.json'), 'utf8')) as ContainerRecord);
}

/**
 * Whatever a failed test left in the root `root`: SIGKILLs every container's monitor and init
 * that still run, then `rm -f`s the containers through the CLI.
 */
export async function removeRecordedContainers(root: string): Promise<void> {
  const records = containerRecords(root);
  for (const r of records) {
    for (const who of [r.state.init, r.state.monitor]) {
      if (who !== undefined && isAlive(who)) process.kill(who.pid, 'SIGKILL');
    }
  }
  if (records.length > 0) await tsdock(['--root', root, 'rm', '-f', ...records.map((r) => r.id)]);
}

/** Registers the root's set-up and clean-up hooks; call it at the top level of a test file. */
export function containerBed(label: string): ContainerBed {
  let box: BusyboxRoot | undefined;
  let counter = 0;
  const parent = uniqueCgroupParent(label);
  const rootOf = (): string => {
    if (box === undefined) throw new Error('containerBed: the root is ready only from beforeAll on');
    return box.root;
  };
  const bed: ContainerBed = {
    get root() {
      return rootOf();
    },
    parent,
    cli: (args, options) => tsdock(['--root', rootOf(), ...args], options),
    unique: (name) => `${label}-${name}-${String(process.pid)}-${String(++counter)}`,
    records: () => containerRecords(rootOf()),
  };

  beforeAll(async () => {
    box = await busyboxRoot(label);
  });

  afterAll(async () => {
    if (box === undefined) return;
    await removeRecordedContainers(box.root);
    await removeCgroupParent(parent);
    await box.remove();
  });

  return bed;
}
