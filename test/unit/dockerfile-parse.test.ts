import { describe, expect, it } from 'vitest';
import { parseGoDuration } from '../../src/build/dockerfile/duration.js';
import { DockerfileError } from '../../src/build/dockerfile/errors.js';
import { TsdockError } from '../../src/errors.js';
import { parseHeredocMarker } from '../../src/build/dockerfile/heredoc.js';
import { parseDockerfile } from '../../src/build/dockerfile/parse.js';
import type { Instruction } from '../../src/build/dockerfile/types.js';
import { failure } from '../helpers/errors.js';

/** The instructions of the one stage `FROM base` + `body` makes. */
function stageOf(body: string, file = 'Dockerfile'): readonly Instruction[] {
  const parsed = parseDockerfile(`FROM base\n${body}`, file);
  expect(parsed.stages).toHaveLength(1);
  return parsed.stages[0]?.instructions ?? [];
}

function single(body: string): Instruction {
  const instructions = stageOf(body);
  expect(instructions).toHaveLength(1);
  return instructions[0] as Instruction;
}

describe('parseDockerfile: every instruction', () => {
  it.each<[string, string, object]>([
    ['RUN shell form', 'RUN echo hi', { kind: 'RUN', command: { form: 'shell', script: 'echo hi' }, heredocs: [] }],
    ['RUN exec form', 'RUN ["echo", "hi"]', { kind: 'RUN', command: { form: 'exec', args: ['echo', 'hi'] } }],
    ['RUN bad JSON is the shell form', 'RUN [echo, hi]', { command: { form: 'shell', script: '[echo, hi]' } }],
    ['RUN JSON then text is the shell form', 'RUN ["a"] b', { command: { form: 'shell', script: '["a"] b' } }],
    ['lower-case keyword', 'run echo hi', { kind: 'RUN', original: 'run echo hi' }],
    ['RUN --network', 'RUN --network=none true', { kind: 'RUN', network: 'none', command: { script: 'true' } }],
    ['RUN -- ends flags', 'RUN -- --version', { command: { form: 'shell', script: '--version' } }],
    ['CMD shell form', 'CMD sleep 1', { kind: 'CMD', command: { form: 'shell', script: 'sleep 1' } }],
    ['CMD exec form', 'CMD ["sleep", "1"]', { kind: 'CMD', command: { form: 'exec', args: ['sleep', '1'] } }],
    ['CMD empty exec form', 'CMD []', { kind: 'CMD', command: { form: 'exec', args: [] } }],
    ['ENTRYPOINT exec', 'ENTRYPOINT ["/bin/sh", "-c"]', { kind: 'ENTRYPOINT', command: { args: ['/bin/sh', '-c'] } }],
    ['ENTRYPOINT shell', 'ENTRYPOINT exec top -b', { kind: 'ENTRYPOINT', command: { script: 'exec top -b' } }],
    ['COPY', 'COPY a b /dst/', { kind: 'COPY', sources: ['a', 'b'], destination: '/dst/', heredocs: [] }],
    [
      'COPY flags',
      'COPY --from=build --chown=1:2 --chmod=644 x /y',
      { kind: 'COPY', from: 'build', chown: '1:2', chmod: '644', sources: ['x'], destination: '/y' },
    ],
    ['COPY quoted flag value', 'COPY --chown="app user" x /y', { chown: 'app user' }],
    ['COPY JSON form', 'COPY ["a b", "/c d/"]', { kind: 'COPY', sources: ['a b'], destination: '/c d/' }],
    ['COPY keeps variables raw', 'COPY $SRC ${DST}', { sources: ['$SRC'], destination: '${DST}' }],
    ['ADD', 'ADD --chown=0 https://x/y.tar.gz /', { kind: 'ADD', chown: '0', sources: ['https://x/y.tar.gz'] }],
    [
      'ENV k=v',
      'ENV A=1 B="two words" C=',
      {
        kind: 'ENV',
        pairs: [
          ['A', '1'],
          ['B', '"two words"'],
          ['C', ''],
        ],
      },
    ],
    ['ENV escaped space', 'ENV A=one\\ two', { pairs: [['A', 'one\\ two']] }],
    ['ENV legacy form', 'ENV NAME some value  here', { kind: 'ENV', pairs: [['NAME', 'some value  here']] }],
    ['ENV value with =', 'ENV URL=http://x/?a=b', { pairs: [['URL', 'http://x/?a=b']] }],
    [
      'LABEL',
      'LABEL "com.x.a"="v" b=\'c d\'',
      {
        kind: 'LABEL',
        pairs: [
          ['"com.x.a"', '"v"'],
          ['b', "'c d'"],
        ],
      },
    ],
    ['LABEL legacy form', 'LABEL version 1.0', { kind: 'LABEL', pairs: [['version', '1.0']] }],
    ['MAINTAINER is a label', "MAINTAINER Jo O'Neil", { kind: 'LABEL', pairs: [['maintainer', `'Jo O'"'"'Neil'`]] }],
    ['ARG without default', 'ARG V', { kind: 'ARG', args: [{ name: 'V' }] }],
    ['ARG with default', 'ARG V=1', { kind: 'ARG', args: [{ name: 'V', rawDefault: '1' }] }],
    ['ARG empty default', 'ARG V=', { args: [{ name: 'V', rawDefault: '' }] }],
    [
      'several ARGs',
      'ARG A B=2 C="x y"',
      { args: [{ name: 'A' }, { name: 'B', rawDefault: '2' }, { name: 'C', rawDefault: '"x y"' }] },
    ],
    ['WORKDIR', 'WORKDIR /a b', { kind: 'WORKDIR', value: '/a b' }],
    ['USER', 'USER app:app', { kind: 'USER', value: 'app:app' }],
    ['STOPSIGNAL', 'STOPSIGNAL SIGTERM', { kind: 'STOPSIGNAL', value: 'SIGTERM' }],
    ['EXPOSE', 'EXPOSE 80 443/tcp  53/udp', { kind: 'EXPOSE', values: ['80', '443/tcp', '53/udp'] }],
    ['VOLUME words', 'VOLUME /a /b', { kind: 'VOLUME', values: ['/a', '/b'] }],
    ['VOLUME JSON', 'VOLUME ["/a b", "/c"]', { kind: 'VOLUME', values: ['/a b', '/c'] }],
    ['SHELL', 'SHELL ["/bin/bash", "-ec"]', { kind: 'SHELL', shell: ['/bin/bash', '-ec'] }],
    ['HEALTHCHECK NONE', 'HEALTHCHECK none', { kind: 'HEALTHCHECK', test: 'none' }],
    ['HEALTHCHECK CMD shell', 'HEALTHCHECK CMD wget -q x', { test: { form: 'shell', script: 'wget -q x' } }],
    [
      'HEALTHCHECK flags',
      'HEALTHCHECK --interval=1m30s --timeout=3s --start-period=0.5s --start-interval=250ms --retries=4 CMD ["true"]',
      {
        test: { form: 'exec', args: ['true'] },
        intervalNs: 90e9,
        timeoutNs: 3e9,
        startPeriodNs: 0.5e9,
        startIntervalNs: 250e6,
        retries: 4,
      },
    ],
    ['ONBUILD', 'ONBUILD RUN echo hi', { kind: 'ONBUILD', trigger: 'RUN echo hi' }],
    ['ONBUILD with flags', 'onbuild COPY --from=x a /b', { kind: 'ONBUILD', trigger: 'COPY --from=x a /b' }],
  ])('%s', (_name, body, expected) => {
    expect(single(body)).toMatchObject(expected);
  });

  it('HEALTHCHECK without flags leaves Docker defaults', () => {
    const check = single('HEALTHCHECK --interval=0s CMD true');
    expect(check).not.toHaveProperty('intervalNs');
    expect(check).not.toHaveProperty('retries');
  });

  it('RUN without flags has no network; COPY without flags has no from/chown/chmod', () => {
    expect(single('RUN true')).not.toHaveProperty('network');
    const copy = single('COPY a b');
    for (const key of ['from', 'chown', 'chmod']) expect(copy).not.toHaveProperty(key);
  });

  it('keeps the instruction as written, continuations joined, and where it starts', () => {
    const [run] = stageOf('\n# note\nRUN a \\\n    b');
    expect(run).toMatchObject({ original: 'RUN a     b', location: { file: 'Dockerfile', line: 4 } });
  });
});

describe('parseDockerfile: stages and ARGs', () => {
  it('reads stages, aliases (lower-cased), --platform and global ARGs', () => {
    const parsed = parseDockerfile(
      'ARG BASE=busybox\nARG TAG\nFROM --platform=$BUILDPLATFORM ${BASE}:$TAG AS Build\nRUN a\nfrom scratch\nCOPY --from=build /a /a\n',
      'ctx/Dockerfile',
    );
    expect(parsed.globalArgs.map((arg) => arg.args)).toEqual([
      [{ name: 'BASE', rawDefault: 'busybox' }],
      [{ name: 'TAG' }],
    ]);
    expect(parsed.stages).toHaveLength(2);
    expect(parsed.stages[0]).toMatchObject({
      index: 0,
      from: { image: '${BASE}:$TAG', alias: 'build', platform: '$BUILDPLATFORM', location: { line: 3 } },
      instructions: [{ kind: 'RUN' }],
    });
    expect(parsed.stages[1]).toMatchObject({ index: 1, from: { image: 'scratch' }, instructions: [{ kind: 'COPY' }] });
    expect(parsed.stages[1]?.from).not.toHaveProperty('alias');
  });

  it('an ARG after FROM belongs to the stage', () => {
    expect(stageOf('ARG X')).toMatchObject([{ kind: 'ARG', args: [{ name: 'X' }] }]);
  });
});

describe('parseDockerfile: lines, comments, continuations', () => {
  it.each<[string, string, string]>([
    ['backslash continuation', 'RUN a \\\n b', 'a  b'],
    ['spaces after the escape character', 'RUN a \\  \t\n b', 'a  b'],
    ['comment inside a continuation is dropped', 'RUN a \\\n# comment\n  # indented comment\n b', 'a  b'],
    ['empty continuation line is dropped', 'RUN a \\\n\n   \n b', 'a  b'],
    ['a trailing escape at the end of the file', 'RUN a \\', 'a'],
    ['# inside an instruction is not a comment', 'RUN echo a # b', 'echo a # b'],
    ['CRLF line ends', 'RUN a \\\r\n b\r\n', 'a  b'],
    ['leading whitespace', '   RUN a', 'a'],
  ])('%s', (_name, body, script) => {
    expect(single(body)).toMatchObject({ command: { form: 'shell', script } });
  });

  it('skips comments and blank lines between instructions and counts their lines', () => {
    const parsed = parseDockerfile('# top\n\nFROM a\n\n  # x\nRUN b\n', 'Dockerfile');
    expect(parsed.stages[0]?.from.location.line).toBe(3);
    expect(parsed.stages[0]?.instructions[0]?.location.line).toBe(6);
  });

  it('strips a byte-order mark', () => {
    expect(parseDockerfile('\uFEFFFROM a', 'Dockerfile').stages[0]?.from.image).toBe('a');
  });
});

describe('parseDockerfile: parser directives', () => {
  it.each<[string, string, '\\' | '`', string | undefined]>([
    ['none', 'FROM a', '\\', undefined],
    ['escape backtick', '# escape=`\nFROM a', '`', undefined],
    ['escape backslash', '#escape=\\\nFROM a', '\\', undefined],
    ['syntax and escape', '# syntax=docker/dockerfile:1\n# ESCAPE = `\nFROM a', '`', 'docker/dockerfile:1'],
    ['unknown directive ends them', '# foo=bar\n# escape=`\nFROM a', '\\', undefined],
    ['a comment ends them', '# hello\n# escape=`\nFROM a', '\\', undefined],
    ['a blank line ends them', '\n# escape=`\nFROM a', '\\', undefined],
    ['an instruction ends them', 'FROM a\n# escape=`', '\\', undefined],
  ])('%s', (_name, text, escape, syntax) => {
    const parsed = parseDockerfile(text, 'Dockerfile');
    expect(parsed.escape).toBe(escape);
    expect(parsed.syntax).toBe(syntax);
  });

  it('the backtick escape continues lines and leaves backslashes alone', () => {
    const parsed = parseDockerfile('# escape=`\nFROM a\nRUN dir c:\\ `\n  /w\nCOPY --chown=a`"b x y', 'Dockerfile');
    expect(parsed.stages[0]?.instructions).toMatchObject([
      { command: { script: 'dir c:\\   /w' } },
      { chown: 'a"b', sources: ['x'] },
    ]);
  });

  it('with the backtick escape a trailing backslash does not continue', () => {
    expect(parseDockerfile('# escape=`\nFROM a\nRUN a \\\nRUN b', 'Dockerfile').stages[0]?.instructions).toHaveLength(
      2,
    );
  });
});

describe('parseDockerfile: heredocs', () => {
  it.each<[string, string, object]>([
    [
      'RUN <<EOF',
      'RUN <<EOF\necho $HOME\n  indented\nEOF\n',
      { command: { script: '<<EOF' }, heredocs: [{ name: 'EOF', content: 'echo $HOME\n  indented\n', expand: true }] },
    ],
    [
      '<<-EOF strips leading tabs, also before the delimiter',
      'RUN <<-EOF\n\techo a\n\t\t\tb\n\tEOF\n',
      { heredocs: [{ name: 'EOF', content: 'echo a\nb\n', expand: true }] },
    ],
    [
      '<<"EOF" does not expand',
      'RUN <<"EOF"\n$X\nEOF',
      { heredocs: [{ name: 'EOF', content: '$X\n', expand: false }] },
    ],
    ["<<'EOF' does not expand", "RUN <<'EOF'\n$X\nEOF", { heredocs: [{ name: 'EOF', expand: false }] }],
    ['<< EOF with a space', 'RUN cat << EOF\nx\nEOF', { heredocs: [{ name: 'EOF', content: 'x\n' }] }],
    ['empty body', 'RUN <<EOF\nEOF', { heredocs: [{ name: 'EOF', content: '' }] }],
    [
      'two on one line, read in order',
      'RUN <<A cat /dev/stdin - <<B\na\nA\nb\nB\n',
      {
        heredocs: [
          { name: 'A', content: 'a\n' },
          { name: 'B', content: 'b\n' },
        ],
      },
    ],
    [
      'COPY from a heredoc',
      'COPY <<EOF /etc/motd\nhello\nEOF',
      { kind: 'COPY', sources: ['<<EOF'], destination: '/etc/motd', heredocs: [{ name: 'EOF', content: 'hello\n' }] },
    ],
    ['ADD from a heredoc', 'ADD <<X /x\n1\nX', { kind: 'ADD', heredocs: [{ name: 'X', content: '1\n' }] }],
    [
      'body lines are not comments',
      'RUN <<EOF\n# not a comment\nEOF',
      { heredocs: [{ content: '# not a comment\n' }] },
    ],
    ['not in the exec form', 'RUN ["cat", "<<EOF"]', { heredocs: [] }],
    ['"<<" inside a word is not a heredoc', 'RUN echo a<<b', { heredocs: [] }],
    ['a quoted "<<" is not a heredoc', 'RUN echo "<<EOF"', { heredocs: [] }],
    ['a file descriptor in front', 'RUN cat 3<<EOF\nx\nEOF', { heredocs: [{ name: 'EOF' }] }],
  ])('%s', (_name, body, expected) => {
    expect(single(body)).toMatchObject(expected);
  });

  it('the instruction after a heredoc is read normally', () => {
    const instructions = stageOf('RUN <<EOF\nRUN inside\nEOF\nRUN after\n');
    expect(instructions).toMatchObject([{ heredocs: [{ content: 'RUN inside\n' }] }, { command: { script: 'after' } }]);
    expect(instructions[1]?.location.line).toBe(5);
  });

  it('an ONBUILD trigger carries its heredoc body', () => {
    expect(single('ONBUILD RUN <<EOF\necho on\nEOF')).toMatchObject({ trigger: 'RUN <<EOF\necho on\nEOF' });
  });

  it.each<[string, object | undefined]>([
    ['<<EOF', { name: 'EOF', stripTabs: false, expand: true }],
    ['<<-EOF', { name: 'EOF', stripTabs: true, expand: true }],
    ['<<"E F"', { name: 'E F', expand: false }],
    ['<<E"OF"', { name: 'EOF', expand: false }],
    ['<<', undefined],
    ['/etc/motd', undefined],
  ])('parseHeredocMarker(%s)', (word, expected) => {
    const marker = parseHeredocMarker(word);
    if (expected === undefined) expect(marker).toBeUndefined();
    else expect(marker).toMatchObject(expected);
  });
});

describe('parseGoDuration', () => {
  it.each<[string, number | undefined]>([
    ['0', 0],
    ['30s', 30e9],
    ['1m30s', 90e9],
    ['1.5h', 5400e9],
    ['250ms', 250e6],
    ['10us', 10e3],
    ['10µs', 10e3],
    ['7ns', 7],
    ['.5s', 0.5e9],
    ['-1s', -1e9],
    ['1', undefined],
    ['s', undefined],
    ['1d', undefined],
    ['', undefined],
    ['1s ', undefined],
  ])('%s -> %s', (text, ns) => {
    expect(parseGoDuration(text)).toBe(ns);
  });
});

describe('parseDockerfile: errors name the file, the line and the fix', () => {
  it.each<[string, string, number, RegExp]>([
    ['unknown instruction', 'FROM a\nRUNN x', 2, /unknown instruction "RUNN" \(did you mean RUN\?\)/],
    [
      'unknown instruction, lower case',
      'FROM a\n\ncopyy a b',
      3,
      /unknown instruction "copyy" \(did you mean COPY\?\)/,
    ],
    [
      'stray continuation',
      'FROM a\nRUN a &&\n  apt-get install',
      3,
      /unknown instruction "apt-get" \(.*escape character/,
    ],
    ['no FROM', 'ARG A\n# c\n', 2, /no FROM instruction/],
    ['empty file', '', 1, /no instructions/],
    ['only comments', '# a\n\n# b\n', 3, /no instructions/],
    ['RUN before FROM', 'ARG A\nRUN x\nFROM a', 2, /RUN comes before the first FROM \(only ARG may\)/],
    ['MAINTAINER before FROM', 'MAINTAINER me\nFROM a', 1, /MAINTAINER comes before the first FROM/],
    ['FROM without image', 'FROM', 1, /FROM needs an image/],
    ['FROM with two words', 'FROM a b', 1, /FROM takes an image and an optional stage name/],
    ['FROM AS without name', 'FROM a AS', 1, /FROM takes an image/],
    ['bad stage name', 'FROM a AS 1st', 1, /invalid stage name "1st"/],
    ['FROM unknown flag', 'FROM --plat=x a', 1, /unknown flag --plat for FROM \(FROM takes --platform\)/],
    ['RUN without command', 'FROM a\nRUN', 2, /RUN needs a command/],
    ['RUN --mount', 'FROM a\nRUN --mount=type=cache,target=/x true', 2, /RUN --mount is not supported by tsdock/],
    ['RUN JSON with a number', 'FROM a\nRUN ["echo", 1]', 2, /RUN's JSON form takes strings only/],
    ['flag given twice', 'FROM a\nCOPY --from=a --from=b x y', 2, /--from is given twice/],
    ['flag without a value', 'FROM a\nCOPY --from x y', 2, /--from needs a value/],
    ['ADD --from', 'FROM a\nADD --from=x a b', 2, /unknown flag --from for ADD \(ADD takes --chown, --chmod\)/],
    ['flag on CMD', 'FROM a\nCMD --help', 2, /unknown flag --help for CMD \(CMD takes no flags\)/],
    ['COPY one argument', 'FROM a\nCOPY onlyone', 2, /COPY needs a source and a destination/],
    ['COPY heredoc destination', 'FROM a\nCOPY x <<EOF\nEOF', 2, /COPY cannot take a heredoc as its destination/],
    ['unterminated heredoc', 'FROM a\n\nRUN <<EOF\necho\n', 3, /unterminated heredoc "EOF"/],
    ['ENV without value', 'FROM a\nENV A', 2, /ENV A needs a value \(ENV A=VALUE\)/],
    ['ENV pair without =', 'FROM a\nENV A=1 B', 2, /ENV expects NAME=VALUE pairs, not "B"/],
    ['ENV empty name', 'FROM a\nENV =1', 2, /ENV names cannot be empty/],
    ['LABEL nothing', 'FROM a\nLABEL', 2, /LABEL needs a name and a value/],
    ['ARG nothing', 'FROM a\nARG', 2, /ARG needs a name/],
    ['ARG empty name', 'ARG =x\nFROM a', 1, /ARG names cannot be empty/],
    ['WORKDIR nothing', 'FROM a\nWORKDIR', 2, /WORKDIR needs a value \(WORKDIR PATH\)/],
    ['USER nothing', 'FROM a\nUSER  ', 2, /USER needs a value/],
    ['EXPOSE nothing', 'FROM a\nEXPOSE', 2, /EXPOSE needs a port/],
    ['VOLUME empty string', 'FROM a\nVOLUME [""]', 2, /VOLUME paths cannot be empty/],
    ['SHELL shell form', 'FROM a\nSHELL /bin/sh -c', 2, /SHELL needs the JSON form/],
    ['SHELL bad JSON', 'FROM a\nSHELL ["/bin/sh", -c]', 2, /SHELL needs the JSON form/],
    ['SHELL empty', 'FROM a\nSHELL []', 2, /SHELL needs at least an executable/],
    ['HEALTHCHECK nothing', 'FROM a\nHEALTHCHECK', 2, /HEALTHCHECK needs CMD or NONE/],
    ['HEALTHCHECK bad type', 'FROM a\nHEALTHCHECK RUN true', 2, /unknown HEALTHCHECK type "RUN" \(use CMD/],
    ['HEALTHCHECK NONE args', 'FROM a\nHEALTHCHECK NONE x', 2, /HEALTHCHECK NONE takes no arguments/],
    ['HEALTHCHECK CMD nothing', 'FROM a\nHEALTHCHECK CMD', 2, /HEALTHCHECK CMD needs a command/],
    ['HEALTHCHECK bad duration', 'FROM a\nHEALTHCHECK --interval=5 CMD x', 2, /--interval=5 is not a duration/],
    ['HEALTHCHECK tiny duration', 'FROM a\nHEALTHCHECK --timeout=10us CMD x', 2, /--timeout=10us is less than 1ms/],
    ['HEALTHCHECK negative retries', 'FROM a\nHEALTHCHECK --retries=-1 CMD x', 2, /--retries=-1 is not a count/],
    ['HEALTHCHECK unknown flag', 'FROM a\nHEALTHCHECK --every=1s CMD x', 2, /unknown flag --every for HEALTHCHECK/],
    ['ONBUILD nothing', 'FROM a\nONBUILD', 2, /ONBUILD needs an instruction/],
    ['ONBUILD ONBUILD', 'FROM a\nONBUILD ONBUILD RUN x', 2, /ONBUILD ONBUILD is not allowed/],
    ['ONBUILD FROM', 'FROM a\nONBUILD FROM b', 2, /FROM is not allowed as an ONBUILD trigger/],
    ['ONBUILD MAINTAINER', 'FROM a\nonbuild maintainer b', 2, /MAINTAINER is not allowed as an ONBUILD trigger/],
    ['ONBUILD unknown', 'FROM a\nONBUILD RUUN x', 2, /unknown instruction "RUUN"/],
    ['duplicate directive', '# escape=`\n# escape=\\\nFROM a', 2, /only one "escape" parser directive/],
    ['bad escape', '# escape=x\nFROM a', 1, /invalid escape character "x"/],
    ['error after continuation lines', 'FROM a\nRUN a \\\n b\nCOPY x', 4, /COPY needs a source/],
  ])('%s', (_name, text, line, message) => {
    const err = failure(() => parseDockerfile(text, 'Dockerfile'));
    expect(err).toBeInstanceOf(DockerfileError);
    expect(err.code).toBe('INVALID_ARGUMENT');
    expect(err).toMatchObject({ location: { file: 'Dockerfile', line } });
    expect(err.message).toMatch(new RegExp(`^Dockerfile:${line}: `));
    expect(err.message).toMatch(message);
    expect(err.message).not.toContain('\n');
  });

  it('names the file as given', () => {
    expect(failure(() => parseDockerfile('FROM a\nRUNN', 'images/busybox/Dockerfile')).message).toBe(
      'images/busybox/Dockerfile:2: unknown instruction "RUNN" (did you mean RUN?)',
    );
  });

  it('DockerfileError.at places a later error at an instruction', () => {
    const location = { file: 'Dockerfile', line: 7 };
    const placed = DockerfileError.at(location, new Error('cannot expand "${X": missing "}"'));
    expect(placed.message).toBe('Dockerfile:7: cannot expand "${X": missing "}"');
    expect(DockerfileError.at({ file: 'x', line: 1 }, placed)).toBe(placed);
  });

  it("DockerfileError.at keeps a TsdockError's code (a failed step still exits 1)", () => {
    const placed = DockerfileError.at({ file: 'Dockerfile', line: 3 }, new TsdockError('BUILD_FAILED', 'exit 3'));
    expect(placed.code).toBe('BUILD_FAILED');
    expect(placed.message).toBe('Dockerfile:3: exit 3');
  });
});
