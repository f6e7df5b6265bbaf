import { describe, expect, it } from 'vitest';
import { TsdockError } from '../../src/errors.js';
import { resolveUser } from '../../src/runtime/user.js';

const passwd = [
  'root:x:0:0:root:/root:/bin/sh',
  'daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin',
  'alice:x:1000:1000::/home/alice:/bin/sh',
  '# a comment',
  'nobody:x:65534:65534:nobody:/nonexistent:/bin/false',
].join('\n');
const group = ['root:x:0:', 'wheel:x:10:alice,daemon', 'audio:x:29:alice', 'alice:x:1000:', 'nogroup:x:65534:'].join(
  '\n',
);

describe('resolveUser', () => {
  it.each([
    ['', { uid: 0, gid: 0, additionalGids: [], home: '/root' }],
    ['root', { uid: 0, gid: 0, additionalGids: [], home: '/root' }],
    ['alice', { uid: 1000, gid: 1000, additionalGids: [10, 29], home: '/home/alice' }],
    ['1000', { uid: 1000, gid: 1000, additionalGids: [10, 29], home: '/home/alice' }],
    ['alice:audio', { uid: 1000, gid: 29, additionalGids: [], home: '/home/alice' }],
    ['alice:4242', { uid: 1000, gid: 4242, additionalGids: [], home: '/home/alice' }],
    ['4242', { uid: 4242, gid: 0, additionalGids: [], home: '/' }],
    ['4242:4343', { uid: 4242, gid: 4343, additionalGids: [], home: '/' }],
    ['nobody:nogroup', { uid: 65534, gid: 65534, additionalGids: [], home: '/nonexistent' }],
  ])('%j', (spec, expected) => {
    expect(resolveUser(spec, passwd, group)).toEqual(expected);
  });

  it('works without passwd and group files for numeric ids', () => {
    expect(resolveUser('123:456', '', '')).toEqual({ uid: 123, gid: 456, additionalGids: [], home: '/' });
  });

  it.each([
    ['bob', 'unable to find user bob: no matching entries in passwd file'],
    ['alice:staff', 'unable to find group staff: no matching entries in group file'],
  ])('rejects %j with a clear message', (spec, message) => {
    expect(() => resolveUser(spec, passwd, group)).toThrow(new TsdockError('INVALID_ARGUMENT', message));
  });
});
