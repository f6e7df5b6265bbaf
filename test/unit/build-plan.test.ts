import { describe, expect, it } from 'vitest';
import { ArgScope, globalArgValues, parseBuildArgs, type Expand } from '../../src/build/build-args.js';
import { stepKey } from '../../src/build/build-cache.js';
import { DockerfileError } from '../../src/build/dockerfile/errors.js';
import { expandWord } from '../../src/build/dockerfile/expand.js';
import { parseDockerfile } from '../../src/build/dockerfile/parse.js';
import { segmentPattern } from '../../src/build/glob.js';
import { upperEntryKind } from '../../src/build/layer-diff.js';
import { planStages } from '../../src/build/stage-plan.js';
import { TsdockError } from '../../src/errors.js';

const expand: Expand = (raw, lookup) => expandWord(raw, lookup, '\\');

function plan(text: string, target?: string, buildArgs = new Map<string, string>()): string[] {
  const df = parseDockerfile(text, 'Dockerfile');
  const globals = globalArgValues(df.globalArgs, buildArgs, expand);
  const planned = planStages(df, target, (n) => globals.get(n), expand);
  return planned.stages.map(({ stage, base }) => {
    const from = base.kind === 'image' ? base.ref : base.kind === 'stage' ? `stage ${base.index}` : 'scratch';
    return `${stage.from.alias ?? stage.index}<-${from}`;
  });
}

const MULTI = `
ARG BASE=busybox
FROM \${BASE} AS deps
RUN echo deps
FROM scratch AS unused
COPY x /x
FROM deps AS build
RUN echo build
FROM busybox:1 AS tools
FROM scratch AS final
COPY --from=build /out /out
COPY --from=tools /bin/sh /sh
COPY --from=127.0.0.1:5000/img:1 /a /a
`;

describe('stage planning', () => {
  it('builds the last stage and, transitively, what it builds on or copies from', () => {
    expect(plan(MULTI)).toEqual(['deps<-busybox', 'build<-stage 0', 'tools<-busybox:1', 'final<-scratch']);
  });

  it('--target skips the stages after it and those it does not need', () => {
    expect(plan(MULTI, 'build')).toEqual(['deps<-busybox', 'build<-stage 0']);
    expect(plan(MULTI, 'unused')).toEqual(['unused<-scratch']);
  });

  it('expands FROM with global ARGs, build args first', () => {
    expect(plan(MULTI, 'deps', new Map([['BASE', 'alpine:3']]))).toEqual(['deps<-alpine:3']);
  });

  it('COPY --from a stage number', () => {
    expect(plan('FROM busybox\nRUN true\nFROM scratch\nCOPY --from=0 /a /a\n')).toEqual(['0<-busybox', '1<-scratch']);
  });

  it.each([
    ['FROM busybox AS a\n', 'nope', 'target stage "nope" could not be found'],
    ['ARG B\nFROM ${B}\n', undefined, 'FROM names no image'],
    ['FROM busybox AS a\nCOPY --from=1 /a /a\nFROM busybox\n', 'a', 'does not come before'],
  ])('%j (target %s) fails: %s', (text, target, message) => {
    expect(() => plan(text, target === '' ? undefined : target)).toThrow(message);
  });

  it.each([
    ['ARG B\nFROM ${B}\n', 'Dockerfile:2: FROM names no image'],
    ['FROM ${B:?unset}\n', 'Dockerfile:1: B: unset'],
    ['FROM busybox\nRUN true\nCOPY --from=${S:?} /a /a\n', 'Dockerfile:3: S: is not allowed to be unset'],
    ['ARG A=${X:?unset}\nFROM busybox\n', 'Dockerfile:1: X: unset'],
    ['FROM busybox AS a\nCOPY --from=1 /a /a\nFROM busybox\n', 'Dockerfile:2: COPY --from=1'],
  ])('%j fails at its line', (text, message) => {
    const target = text.includes(' AS a') ? 'a' : undefined;
    let err: unknown;
    try {
      plan(text, target);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DockerfileError);
    expect((err as DockerfileError).message).toContain(message);
    expect((err as DockerfileError).message.startsWith('Dockerfile:')).toBe(true);
    expect((err as DockerfileError).code).toBe('INVALID_ARGUMENT');
  });
});

describe('build args', () => {
  it('parses K=V and takes a bare K from the host, dropping unset ones', () => {
    expect([...parseBuildArgs(['A=1', 'B', 'C', 'D=x=y'], { B: 'host' })]).toEqual([
      ['A', '1'],
      ['B', 'host'],
      ['D', 'x=y'],
    ]);
    expect(() => parseBuildArgs(['=1'])).toThrow(TsdockError);
  });

  it('scopes ARGs as Docker does: globals need a bare ARG in the stage, build args win', () => {
    const df = parseDockerfile('ARG V=1\nARG W=${V}2\nFROM scratch\n', 'Dockerfile');
    const globals = globalArgValues(df.globalArgs, new Map(), expand);
    expect([...globals]).toEqual([
      ['V', '1'],
      ['W', '12'],
    ]);
    let scope = ArgScope.forStage(new Map([['X', 'from-cli']]), globals);
    expect(scope.get('V')).toBeUndefined();
    scope = scope.declare('V', undefined).declare('X', 'default').declare('Y', 'y').declare('Z', undefined);
    expect(scope.values()).toEqual([
      ['V', '1'],
      ['X', 'from-cli'],
      ['Y', 'y'],
    ]);
  });

  it('gives RUN the declared ARGs not shadowed by ENV, and proxy args undeclared', () => {
    const scope = ArgScope.forStage(
      new Map([
        ['http_proxy', 'http://p'],
        ['SECRET', 's'],
      ]),
      new Map(),
    )
      .declare('A', 'a')
      .declare('B', 'b');
    expect(scope.runEnv(new Set(['B']))).toEqual([
      ['A', 'a'],
      ['http_proxy', 'http://p'],
    ]);
  });
});

describe('cache keys', () => {
  it('chain: the same parent and step give the same key, any change another', () => {
    const a = stepKey('image sha256:1', { instruction: 'RUN', argv: ['sh', '-c', 'x'] });
    expect(stepKey('image sha256:1', { instruction: 'RUN', argv: ['sh', '-c', 'x'] })).toBe(a);
    expect(stepKey('image sha256:2', { instruction: 'RUN', argv: ['sh', '-c', 'x'] })).not.toBe(a);
    expect(stepKey('image sha256:1', { instruction: 'RUN', argv: ['sh', '-c', 'y'] })).not.toBe(a);
    expect(stepKey(a, {})).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('layer diff rules', () => {
  const st = (kind: 'chr' | 'dir' | 'file', rdev = 0) => ({
    isCharacterDevice: () => kind === 'chr',
    isDirectory: () => kind === 'dir',
    rdev,
  });
  it.each([
    ['0:0 character device', st('chr'), undefined, 'whiteout'],
    ['other character device', st('chr', 0x103), undefined, 'plain'],
    ['opaque directory', st('dir'), Buffer.from('y'), 'opaque-dir'],
    ['plain directory', st('dir'), undefined, 'plain'],
    ['file', st('file'), undefined, 'plain'],
  ])('%s -> %s', (_name, stat, opaque, kind) => {
    expect(upperEntryKind(stat, opaque)).toBe(kind);
  });
});

describe('source globs (Go filepath.Match per segment)', () => {
  it.each([
    ['*.txt', 'a.txt', true],
    ['*.txt', '.txt', true],
    ['*.txt', 'a.txt.bak', false],
    ['a?c', 'abc', true],
    ['a?c', 'ac', false],
    ['[a-c]x', 'bx', true],
    ['[^a-c]x', 'bx', false],
    ['\\*', '*', true],
    ['\\*', 'a', false],
    ['file.(1)', 'file.(1)', true],
  ])('%s matches %s: %s', (pattern, name, matches) => {
    expect(segmentPattern(pattern).test(name)).toBe(matches);
  });
});
