import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { TsdockError } from '../../src/errors.js';
import {
  chainIds,
  Digester,
  digestHex,
  isDigest,
  parseDigest,
  sha256Digest,
  type Digest,
} from '../../src/image/digest.js';

const hex = (c: string): string => c.repeat(64);

describe('digest validation', () => {
  it.each([
    [`sha256:${hex('a')}`, true],
    [`sha256:${hex('0')}`, true],
    [`sha256:${hex('A')}`, false],
    [`sha256:${'a'.repeat(63)}`, false],
    [`sha256:${'a'.repeat(65)}`, false],
    [`sha512:${'a'.repeat(128)}`, false],
    [`sha256:${'a'.repeat(62)}/.`, false],
    [`sha256:../../${'a'.repeat(58)}`, false],
    [hex('a'), false],
    ['', false],
    [42, false],
    [null, false],
  ])('%j -> %s', (value, ok) => {
    expect(isDigest(value)).toBe(ok);
    if (ok) expect(parseDigest(value, 'INVALID_IMAGE', 'x')).toBe(value);
    else expect(() => parseDigest(value, 'INVALID_IMAGE', 'index.json')).toThrow(/^index\.json: invalid digest/);
  });

  it('reports the code it is given', () => {
    try {
      parseDigest('nope', 'INVALID_ARGUMENT', 'arg');
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(TsdockError);
      expect((err as TsdockError).code).toBe('INVALID_ARGUMENT');
    }
  });
});

describe('hashing', () => {
  it('sha256Digest and Digester agree with node:crypto', () => {
    const data = Buffer.from('hello tsdock');
    const expected = `sha256:${createHash('sha256').update(data).digest('hex')}`;
    expect(sha256Digest(data)).toBe(expected);
    const d = new Digester();
    d.update(data.subarray(0, 5));
    d.update(data.subarray(5));
    expect(d.digest()).toBe(expected);
    expect(d.size).toBe(data.length);
    expect(digestHex(expected as Digest)).toBe(expected.slice(7));
  });

  it('computes chain IDs as the image spec defines them', () => {
    const [a, b, c] = [sha256Digest('a'), sha256Digest('b'), sha256Digest('c')];
    const ab = sha256Digest(`${a} ${b}`);
    expect(chainIds([])).toEqual([]);
    expect(chainIds([a])).toEqual([a]);
    expect(chainIds([a, b, c])).toEqual([a, ab, sha256Digest(`${ab} ${c}`)]);
  });
});
