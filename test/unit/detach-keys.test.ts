import { describe, expect, it } from 'vitest';
import { DEFAULT_DETACH_KEYS, DetachMatcher, parseDetachKeys } from '../../src/cli/detach-keys.js';

describe('--detach-keys', () => {
  it.each([
    [DEFAULT_DETACH_KEYS, [0x10, 0x11]],
    ['ctrl-a,x', [0x01, 0x78]],
    ['ctrl-@,ctrl-[,ctrl-\\,ctrl-],ctrl-^,ctrl-_', [0, 27, 28, 29, 30, 31]],
    ['ctrl-z', [26]],
    ['q', [0x71]],
    ['', []],
  ])('parses %j', (spec, bytes) => {
    expect([...parseDetachKeys(spec)]).toEqual(bytes);
  });

  it.each(['ctrl-1', 'ctrl-', 'ctrl-ab', 'ab', 'ctrl-p,,ctrl-q', ',', 'é'])('refuses %j naming the key', (spec) => {
    expect(() => parseDetachKeys(spec)).toThrow(/invalid --detach-keys .*is not a character or ctrl-/);
  });
});

describe('DetachMatcher', () => {
  const feedAll = (keys: string, chunks: string[]): { forwarded: string; detached: boolean } => {
    const m = new DetachMatcher(parseDetachKeys(keys));
    let forwarded = '';
    for (const chunk of chunks) {
      const { forward, detach } = m.feed(Buffer.from(chunk, 'latin1'));
      forwarded += forward.toString('latin1');
      if (detach) return { forwarded, detached: true };
    }
    return { forwarded, detached: false };
  };

  it.each([
    ['plain typing passes', DEFAULT_DETACH_KEYS, ['ls\r'], 'ls\r', false],
    ['the sequence in one chunk', DEFAULT_DETACH_KEYS, ['ab\x10\x11cd'], 'ab', true],
    ['the sequence split across chunks', DEFAULT_DETACH_KEYS, ['a\x10', '\x11'], 'a', true],
    ['a broken sequence goes on in order', DEFAULT_DETACH_KEYS, ['\x10x'], '\x10x', false],
    ['a held key goes on when the next chunk breaks it', DEFAULT_DETACH_KEYS, ['\x10', 'y'], '\x10y', false],
    ['a repeated first key restarts the sequence', DEFAULT_DETACH_KEYS, ['\x10\x10\x11'], '\x10', true],
    ['ctrl-p waits for the next key to say what it is', DEFAULT_DETACH_KEYS, ['\x10'], '', false],
    ['a one-key sequence', 'ctrl-x', ['ab\x18c'], 'ab', true],
    ['no keys: never detaches', '', ['\x10\x11'], '\x10\x11', false],
  ])('%s', (_, keys, chunks, forwarded, detached) => {
    expect(feedAll(keys, chunks)).toEqual({ forwarded, detached });
  });
});
