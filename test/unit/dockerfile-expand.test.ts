import { describe, expect, it } from 'vitest';
import { expandHeredoc, expandWord, expandWords, type EscapeChar } from '../../src/build/dockerfile/expand.js';
import { failure } from '../helpers/errors.js';

const VARIABLES: Readonly<Record<string, string>> = {
  NAME: 'web',
  EMPTY: '',
  SPACED: 'a  b',
  PORTS: '80 443/tcp',
  PATH_: '/usr/bin',
  FILE: 'dir/sub/archive.tar.gz',
  STARS: 'a*b*c',
  '1': 'one',
};
const lookup = (name: string): string | undefined => VARIABLES[name];

describe('expandWord', () => {
  it.each<[string, string]>([
    ['plain', 'plain'],
    ['$NAME', 'web'],
    ['${NAME}', 'web'],
    ['$NAME.txt', 'web.txt'],
    ['${NAME}s', 'webs'],
    ['$NAMEs', ''],
    ['$PATH_:/bin', '/usr/bin:/bin'],
    ['$UNSET', ''],
    ['${UNSET}', ''],
    ['a$UNSET-b', 'a-b'],
    ['$', '$'],
    ['a$', 'a$'],
    ['$/x', '$/x'],
    ['$1', 'one'],
    ['$12', ''],
    ['$$', ''],
    // ${VAR:-default}: unset or empty
    ['${UNSET:-d}', 'd'],
    ['${EMPTY:-d}', 'd'],
    ['${NAME:-d}', 'web'],
    // ${VAR-default}: unset only
    ['${UNSET-d}', 'd'],
    ['${EMPTY-d}', ''],
    ['${NAME-d}', 'web'],
    // ${VAR:+alt}: set and not empty
    ['${NAME:+alt}', 'alt'],
    ['${EMPTY:+alt}', ''],
    ['${UNSET:+alt}', ''],
    // ${VAR+alt}: set
    ['${NAME+alt}', 'alt'],
    ['${EMPTY+alt}', 'alt'],
    ['${UNSET+alt}', ''],
    ['${NAME:?must be set}', 'web'],
    // nested and quoted words inside a modifier
    ['${UNSET:-$NAME}', 'web'],
    ['${UNSET:-${NAME:+x}y}', 'xy'],
    ['${UNSET:-"a b"}', 'a b'],
    ['${UNSET:-a\\}b}', 'a}b'],
    ['${UNSET:-}', ''],
    // ${VAR#pattern}, ${VAR%pattern}: shortest (##, %%: longest) prefix or suffix removed
    ['${FILE#*/}', 'sub/archive.tar.gz'],
    ['${FILE##*/}', 'archive.tar.gz'],
    ['${FILE%.*}', 'dir/sub/archive.tar'],
    ['${FILE%%.*}', 'dir/sub/archive'],
    ['${FILE#nomatch}', 'dir/sub/archive.tar.gz'],
    ['${FILE%/*}', 'dir/sub'],
    ['${FILE#d?r/}', 'sub/archive.tar.gz'],
    ['${FILE#[a-e]ir/}', 'sub/archive.tar.gz'],
    ['${FILE#[!d]ir/}', 'dir/sub/archive.tar.gz'],
    ['${STARS#*\\*}', 'b*c'],
    ['${STARS%"*"*}', 'a*b'],
    ['${UNSET#x}', ''],
    // ${VAR/pattern/new}: the first (//: every) longest match
    ['${FILE/sub/lib}', 'dir/lib/archive.tar.gz'],
    ['${FILE//\\//_}', 'dir_sub_archive.tar.gz'],
    ['${FILE/r*/R}', 'diR'],
    ['${FILE//a/A}', 'dir/sub/Archive.tAr.gz'],
    ['${FILE/a/$NAME}', 'dir/sub/webrchive.tar.gz'],
    ['${FILE/x/y}', 'dir/sub/archive.tar.gz'],
    ['${NAME/e/}', 'wb'],
    // quotes and escapes
    ["'$NAME'", '$NAME'],
    ['"$NAME"', 'web'],
    ['"${NAME} and ${SPACED}"', 'web and a  b'],
    ['"it\'s"', "it's"],
    ['\'say "hi"\'', 'say "hi"'],
    ['\\$NAME', '$NAME'],
    ['\\\\', '\\'],
    ['a\\ b', 'a b'],
    ['"\\$NAME"', '$NAME'],
    ['"a\\"b"', 'a"b'],
    ['"a\\\\b"', 'a\\b'],
    ['"a\\nb"', 'a\\nb'],
    ['"\'$NAME\'"', "'web'"],
    ['x"y"z', 'xyz'],
    ['""', ''],
    ['trailing\\', 'trailing'],
    ['a b', 'a b'],
  ])('%s -> %s', (raw, expected) => {
    expect(expandWord(raw, lookup, '\\')).toBe(expected);
  });

  it.each<[string, string]>([
    ['`$NAME', '$NAME'],
    ['c:\\dir', 'c:\\dir'],
    ['"`"x"', '"x'],
    ['"a\\"', 'a\\'],
    ['a` b', 'a b'],
  ])('with the backtick escape: %s -> %s', (raw, expected) => {
    expect(expandWord(raw, lookup, '`')).toBe(expected);
  });

  it('asks the lookup only for the names it meets', () => {
    const asked: string[] = [];
    expandWord(
      "$A ${B:-$C} '$D' \\$E",
      (name) => {
        asked.push(name);
        return undefined;
      },
      '\\',
    );
    expect(asked).toEqual(['A', 'C', 'B']);
  });
});

describe('expandWords', () => {
  it.each<[string, EscapeChar, string[]]>([
    ['', '\\', []],
    ['  ', '\\', []],
    ['80 443', '\\', ['80', '443']],
    ['$PORTS', '\\', ['80', '443/tcp']],
    ['"$PORTS"', '\\', ['80 443/tcp']],
    ['$PORTS 53/udp', '\\', ['80', '443/tcp', '53/udp']],
    ['x$SPACED', '\\', ['xa', 'b']],
    ["'a b' c", '\\', ['a b', 'c']],
    ['a\\ b c', '\\', ['a b', 'c']],
    ['a` b c', '`', ['a b', 'c']],
    ['$UNSET', '\\', []],
    // Docker splits what a ${…} gives even when the default was quoted (bash would not).
    ['${UNSET:-"d e"} f', '\\', ['d', 'e', 'f']],
  ])('%s (escape %s) -> %j', (raw, escape, expected) => {
    expect(expandWords(raw, lookup, escape)).toEqual(expected);
  });
});

// BuildKit's own cases (dockerfile_heredoc_test.go: testHeredocVarSubstitution, testCopyHeredocSpecialSymbols).
describe('expandHeredoc', () => {
  it.each<[string, string]>([
    ['Hello ${NAME}!\n', 'Hello web!\n'],
    ["Hello '${NAME}'!\n", "Hello 'web'!\n"],
    ['Hello "${NAME}"!\n', 'Hello "web"!\n'],
    ['"quotes in file"\n', '"quotes in file"\n'],
    ['\\\n', '\n'],
    ['\\\\\n', '\\\n'],
    ['\\$\n', '$\n'],
    ['cost: \\$NAME $UNSET.\n', 'cost: $NAME .\n'],
    ['${UNSET:-a "b"}\n', 'a "b"\n'],
    ["it's $NAME\n", "it's web\n"],
  ])('%j -> %j', (raw, expected) => {
    expect(expandHeredoc(raw, lookup)).toBe(expected);
  });
});

describe('expandWord: errors', () => {
  it.each<[string, RegExp]>([
    ['${', /missing "}"/],
    ['${NAME', /missing "}"/],
    ['${NAME:-x', /missing "}"/],
    ['${}', /bad substitution/],
    ['${:-x}', /bad substitution/],
    ['${{x}}', /bad substitution/],
    ['${NAME x}', /unsupported modifier " "/],
    ['${NAME:x}', /unsupported modifier ":x"/],
    ['${NAME:#x}', /unsupported modifier ":#"/],
    ['${NAME/a}', /missing "\/"/],
    ['${NAME#a', /missing "}"/],
    ["'open", /unterminated single quote/],
    ['"open', /unterminated double quote/],
    ['"$NAME', /unterminated double quote/],
    ['${UNSET:?must be set}', /^UNSET: must be set$/],
    ['${UNSET?}', /^UNSET: is not allowed to be unset$/],
    ['${EMPTY:?}', /^EMPTY: is not allowed to be empty$/],
  ])('%s', (raw, message) => {
    const err = failure(() => expandWord(raw, lookup, '\\'));
    expect(err.code).toBe('INVALID_ARGUMENT');
    expect(err.message).toMatch(message);
  });

  it('names the word that failed', () => {
    expect(failure(() => expandWord('/app/${DIR', lookup, '\\')).message).toBe(
      'cannot expand "/app/${DIR": missing "}"',
    );
  });
});
