import { lstatSync, mkdirSync, mkdtempSync, readlinkSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { idOfName, releaseName, reserveName } from '../../src/runtime/container-names.js';
import { writeRecord, type ContainerRecord } from '../../src/runtime/container-record.js';
import { findContainer } from '../../src/runtime/container-store.js';

let root: string;
let containers: string;
const idA = 'a'.repeat(64);
const idB = 'b'.repeat(64);

/** A container directory with a record of `name`, as create leaves it. */
function addRecord(id: string, name: string): void {
  const dir = join(containers, id);
  mkdirSync(dir, { recursive: true });
  const record: ContainerRecord = {
    id,
    name,
    image: 'busybox',
    imageId: 'sha256:x',
    created: '2026-01-01T00:00:00.000Z',
    args: ['true'],
    options: {},
    autoRemove: false,
    log: {},
    state: { status: 'created' },
  };
  writeRecord(dir, record);
}

/** create's order: the entry, then the record. */
function create(id: string, name: string): void {
  reserveName(containers, name, id);
  addRecord(id, name);
}

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'tsdock-names-'));
  containers = join(root, 'containers');
  mkdirSync(containers);
});
afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

describe('the container names index', () => {
  it('finds a name by its entry and refuses it to another container, as Docker does', () => {
    create(idA, 'web');
    expect(readlinkSync(join(`${containers}.names`, 'web'))).toBe(idA);
    expect(idOfName(containers, 'web')).toBe(idA);
    expect(findContainer(containers, '/web').record.id).toBe(idA);
    expect(() => {
      reserveName(containers, 'web', idB);
    }).toThrow(
      `Conflict. The container name "/web" is already in use by container "${idA}". ` +
        'You have to remove (or rename) that container to be able to reuse that name.',
    );
    expect(readlinkSync(join(`${containers}.names`, 'web'))).toBe(idA);
  });

  it('takes over a stale entry: its container has no record, or a record of another name', () => {
    create(idA, 'web');
    rmSync(join(containers, idA), { recursive: true });
    expect(idOfName(containers, 'web')).toBeUndefined();
    create(idB, 'web');
    expect(idOfName(containers, 'web')).toBe(idB);
    symlinkSync(idB, join(`${containers}.names`, 'other'));
    expect(idOfName(containers, 'other')).toBeUndefined();
    reserveName(containers, 'other', idA);
    expect(readlinkSync(join(`${containers}.names`, 'other'))).toBe(idA);
  });

  it('releases a name only for the container that holds it', () => {
    create(idA, 'web');
    releaseName(containers, 'web', idB);
    expect(idOfName(containers, 'web')).toBe(idA);
    releaseName(containers, 'web', idA);
    expect(() => lstatSync(join(`${containers}.names`, 'web'))).toThrow(/ENOENT/);
  });

  it('builds the index from the records of a store that has none', () => {
    addRecord(idA, 'old');
    expect(idOfName(containers, 'old')).toBe(idA);
    expect(() => {
      reserveName(containers, 'old', idB);
    }).toThrow(/"\/old" is already in use/);
    reserveName(containers, 'new', idB);
    expect(readlinkSync(join(`${containers}.names`, 'old'))).toBe(idA);
  });
});
