import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readExitRecord, readRunRecord } from '../../src/runtime/container-record.js';

describe('monitor records', () => {
  let dir = '';
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'tsdock-record-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads run.json, and an empty one (not fsynced, a machine crash) as none', () => {
    expect(readRunRecord(dir)).toBeUndefined();
    writeFileSync(join(dir, 'run.json'), '');
    expect(readRunRecord(dir)).toBeUndefined();
    writeFileSync(join(dir, 'run.json'), '{"pid":7,"restartCount":0}\n');
    expect(readRunRecord(dir)).toMatchObject({ pid: 7, restartCount: 0 });
  });

  it('still refuses an empty exit.json, which is fsynced', () => {
    writeFileSync(join(dir, 'exit.json'), '');
    expect(() => readExitRecord(dir)).toThrow(/exit.json is not valid JSON/);
  });
});
