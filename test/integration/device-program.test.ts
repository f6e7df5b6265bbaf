/**
 * The cgroup v2 device program loaded for real (bpf(2) through the addon) on this host's
 * cgroup2 tree, which takes device programs whether or not it serves other controllers: a
 * shell placed in the cgroup may use /dev/zero and /dev/null but not open a loop device.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, readdirSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { native } from '../../src/native.js';
import { detectHierarchy } from '../../src/runtime/cgroups/detect.js';
import { compileDeviceProgram, encodeEbpf } from '../../src/runtime/cgroups/device-program.js';
import { deviceRulesFor } from '../../src/runtime/cgroups/devices.js';
import { uniqueCgroupParent } from '../helpers/host.js';

const v2 = detectHierarchy().v2;
const loop = readdirSync('/dev').find((d) => /^loop\d+$/.test(d));
const made: string[] = [];

afterAll(() => {
  for (const dir of made.reverse()) rmdirSync(dir);
});

async function shellIn(dir: string, script: string): Promise<{ stdout: string; stderr: string }> {
  // The shell moves itself in first, so every command after runs under the program.
  const { stdout, stderr } = await promisify(execFile)('sh', ['-c', `echo $$ > ${dir}/cgroup.procs; ${script}`]).catch(
    (err: unknown) => err as { stdout: string; stderr: string },
  );
  return { stdout, stderr };
}

describe.runIf(v2 !== undefined && loop !== undefined)('cgroup v2 device program, loaded', () => {
  it('allows the default devices and refuses the rest', async () => {
    const dir = join(v2?.mountPoint ?? '', v2?.ownPath ?? '', uniqueCgroupParent('devices'));
    mkdirSync(dir);
    made.push(dir);
    native().attachDeviceProgram(dir, encodeEbpf(compileDeviceProgram(deviceRulesFor([], false))));
    const r = await shellIn(dir, `head -c 4 /dev/zero | wc -c; echo x > /dev/null; head -c 1 /dev/${String(loop)}`);
    expect(r.stdout).toBe('4\n');
    expect(r.stderr).toMatch(new RegExp(`/dev/${String(loop)}.*Operation not permitted`));
  });

  it('allows a --device rule', async () => {
    const dir = join(v2?.mountPoint ?? '', v2?.ownPath ?? '', uniqueCgroupParent('devices'));
    mkdirSync(dir);
    made.push(dir);
    const rules = deviceRulesFor([{ type: 'b', major: 7, minor: Number(loop?.slice(4)), permissions: 'r' }], false);
    native().attachDeviceProgram(dir, encodeEbpf(compileDeviceProgram(rules)));
    const r = await shellIn(dir, `head -c 1 /dev/${String(loop)} | wc -c`);
    expect(r).toEqual({ stdout: '0\n', stderr: '' });
  });

  it('refuses a malformed program', () => {
    expect(() => {
      native().attachDeviceProgram(made[0] ?? '/', Buffer.alloc(3));
    }).toThrow(/whole bpf_insn/);
  });
});
