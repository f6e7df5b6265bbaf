import { describe, expect, it } from 'vitest';
import { TsdockError } from '../../src/errors.js';
import {
  familiarReference,
  familiarRepository,
  formatReference,
  parseReference,
  repositoryName,
} from '../../src/image/reference.js';

const HEX = 'a'.repeat(64);
const DIGEST = `sha256:${HEX}`;

describe('parseReference: normalisation', () => {
  it.each([
    // input, canonical, familiar
    ['busybox', 'docker.io/library/busybox:latest', 'busybox:latest'],
    ['busybox:1.36', 'docker.io/library/busybox:1.36', 'busybox:1.36'],
    ['library/busybox', 'docker.io/library/busybox:latest', 'busybox:latest'],
    ['docker.io/busybox', 'docker.io/library/busybox:latest', 'busybox:latest'],
    ['index.docker.io/library/busybox:1', 'docker.io/library/busybox:1', 'busybox:1'],
    ['docker.io/library/a/b', 'docker.io/library/a/b:latest', 'library/a/b:latest'],
    ['user/app', 'docker.io/user/app:latest', 'user/app:latest'],
    ['user/app:v2', 'docker.io/user/app:v2', 'user/app:v2'],
    ['localhost/app', 'localhost/app:latest', 'localhost/app:latest'],
    ['localhost:5000/app:v1', 'localhost:5000/app:v1', 'localhost:5000/app:v1'],
    ['127.0.0.1:5000/team/app', '127.0.0.1:5000/team/app:latest', '127.0.0.1:5000/team/app:latest'],
    ['[::1]:5000/app', '[::1]:5000/app:latest', '[::1]:5000/app:latest'],
    ['Registry/app', 'Registry/app:latest', 'Registry/app:latest'],
    ['quay.io/a/b/c:tag_1.0-x', 'quay.io/a/b/c:tag_1.0-x', 'quay.io/a/b/c:tag_1.0-x'],
    ['a__b/c-d--e/f.g', 'docker.io/a__b/c-d--e/f.g:latest', 'a__b/c-d--e/f.g:latest'],
    ['localhost:5000', 'docker.io/library/localhost:5000', 'localhost:5000'],
    [`busybox@${DIGEST}`, `docker.io/library/busybox@${DIGEST}`, `busybox@${DIGEST}`],
    [`busybox:1.36@${DIGEST}`, `docker.io/library/busybox:1.36@${DIGEST}`, `busybox:1.36@${DIGEST}`],
    [`ghcr.io/o/r:t@${DIGEST}`, `ghcr.io/o/r:t@${DIGEST}`, `ghcr.io/o/r:t@${DIGEST}`],
  ])('%s -> %s (%s)', (input, canonical, familiar) => {
    const ref = parseReference(input);
    expect(formatReference(ref)).toBe(canonical);
    expect(familiarReference(ref)).toBe(familiar);
  });
});

describe('parseReference: parts', () => {
  it.each([
    ['busybox', 'docker.io', 'library/busybox', 'latest', undefined],
    ['localhost:5000/a/b:c', 'localhost:5000', 'a/b', 'c', undefined],
    [`x@${DIGEST}`, 'docker.io', 'library/x', undefined, DIGEST],
    [`x:t@${DIGEST}`, 'docker.io', 'library/x', 't', DIGEST],
  ])('%s', (input, domain, path, tag, digest) => {
    expect(parseReference(input)).toEqual({ domain, path, tag, digest });
  });

  it.each([
    ['busybox', 'docker.io/library/busybox', 'busybox'],
    ['user/app:1', 'docker.io/user/app', 'user/app'],
    ['quay.io/x/y', 'quay.io/x/y', 'quay.io/x/y'],
  ])('repository of %s is %s (%s)', (input, full, familiar) => {
    const ref = parseReference(input);
    expect(repositoryName(ref)).toBe(full);
    expect(familiarRepository(ref)).toBe(familiar);
  });
});

describe('parseReference: rejects', () => {
  it.each([
    ['', 'empty'],
    [HEX, 'image ID'],
    ['Busybox', 'lowercase'],
    ['docker.io/Library/busybox', 'lowercase'],
    ['busybox:', 'malformed tag'],
    ['busybox:-x', 'malformed tag'],
    [`busybox:${'t'.repeat(129)}`, 'malformed tag'],
    ['busybox@sha256:abc', 'malformed digest'],
    [`busybox@sha512:${'a'.repeat(128)}`, 'invalid digest'],
    [`busybox@sha256:${'A'.repeat(64)}`, 'invalid digest'],
    ['busybox@', 'malformed digest'],
    [':latest', 'missing repository'],
    ['/busybox', 'malformed repository'],
    ['busybox/', 'malformed repository'],
    ['a//b', 'malformed repository'],
    ['a/../b', 'malformed repository'],
    ['../etc/passwd', 'malformed'],
    ['-busybox', 'malformed repository'],
    ['busy_-box', 'malformed repository'],
    ['a...b', 'malformed repository'],
    ['exa mple', 'malformed'],
    ['-host.io/app', 'malformed registry domain'],
    ['host.io:port/app', 'malformed'],
    ['a'.repeat(256), 'longer than 255'],
  ])('%j (%s)', (input, why) => {
    let caught: unknown;
    try {
      parseReference(input);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(TsdockError);
    expect((caught as TsdockError).code).toBe('INVALID_ARGUMENT');
    expect((caught as TsdockError).message).toContain(why);
    expect((caught as TsdockError).message).toContain(`"${input}"`);
  });
});
