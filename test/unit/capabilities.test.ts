import { describe, expect, it } from 'vitest';
import { capabilityNumber, resolveCapabilities } from '../../src/runtime/capabilities.js';

const mask = (caps: number[]): string =>
  caps
    .reduce((m, c) => m | (1n << BigInt(c)), 0n)
    .toString(16)
    .padStart(16, '0');

describe('capabilities', () => {
  it("default set is Docker's CapEff 00000000a80425fb", () => {
    expect(mask(resolveCapabilities([], []))).toBe('00000000a80425fb');
  });

  it.each([
    [['NET_ADMIN'], [], '00000000a80435fb'],
    [[], ['NET_RAW'], '00000000a80405fb'],
    [[], ['ALL'], '0000000000000000'],
    [['CHOWN'], ['ALL'], '0000000000000001'],
    [['ALL'], [], '000001ffffffffff'],
    [['cap_sys_admin'], ['chown'], '00000000a82425fa'],
  ])('add %j drop %j', (add, drop, expected) => {
    expect(mask(resolveCapabilities(add, drop))).toBe(expected);
  });

  it('rejects unknown names', () => {
    expect(() => capabilityNumber('FLY')).toThrow(/unknown capability "FLY"/);
  });
});
