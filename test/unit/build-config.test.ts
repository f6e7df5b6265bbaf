import { describe, expect, it } from 'vitest';
import { expandWord } from '../../src/build/dockerfile/expand.js';
import { parseDockerfile } from '../../src/build/dockerfile/parse.js';
import {
  applyMetadata,
  exposedPortKeys,
  inheritConfig,
  resolveWorkdir,
  type BuildConfig,
  type ConfigState,
} from '../../src/build/image-config.js';

/** Applies a Dockerfile's instructions (all metadata) to `base`, expanding with its ENV. */
function apply(lines: string, base: BuildConfig = {}): ConfigState {
  const df = parseDockerfile(`FROM scratch\n${lines}\n`, 'Dockerfile');
  let state = inheritConfig(base);
  for (const instruction of df.stages[0]?.instructions ?? []) {
    const env = new Map((state.config.Env ?? []).map((e) => e.split('=', 2) as [string, string]));
    state = applyMetadata(state, instruction, (raw) => expandWord(raw, (n) => env.get(n), '\\'));
  }
  return state;
}

describe('metadata instructions', () => {
  it('ENV sets and replaces; values on one line see the env before it', () => {
    const { config } = apply('ENV A=1 B=2\nENV A=3 C=$A', { Env: ['PATH=/bin'] });
    expect(config.Env).toEqual(['PATH=/bin', 'A=3', 'B=2', 'C=1']);
  });

  it('CMD and ENTRYPOINT: shell form under SHELL; ENTRYPOINT drops an inherited CMD only', () => {
    expect(apply('ENTRYPOINT ["/app"]', { Cmd: ['sh'] }).config).toEqual({ Entrypoint: ['/app'] });
    expect(apply('CMD ["x"]\nENTRYPOINT ["/app"]', { Cmd: ['sh'] }).config).toEqual({
      Cmd: ['x'],
      Entrypoint: ['/app'],
    });
    expect(apply('SHELL ["/bin/bash", "-c"]\nCMD echo hi').config).toEqual({
      Shell: ['/bin/bash', '-c'],
      Cmd: ['/bin/bash', '-c', 'echo hi'],
    });
    expect(apply('CMD echo hi').config.Cmd).toEqual(['/bin/sh', '-c', 'echo hi']);
  });

  it('EXPOSE, LABEL, VOLUME, USER, STOPSIGNAL, WORKDIR, ONBUILD', () => {
    const { config } = apply(
      [
        'ENV PORT=8080 NAME=app',
        'EXPOSE $PORT 53/udp 7000-7001',
        'LABEL org.name=$NAME "with space"="a b"',
        'VOLUME ["/data", "/logs"]',
        'USER ${NAME}:nogroup',
        'STOPSIGNAL SIGINT',
        'WORKDIR /srv',
        'WORKDIR $NAME/../web',
        'ONBUILD RUN echo triggered',
      ].join('\n'),
    );
    expect(config.ExposedPorts).toEqual({ '8080/tcp': {}, '53/udp': {}, '7000/tcp': {}, '7001/tcp': {} });
    expect(config.Labels).toEqual({ 'org.name': 'app', 'with space': 'a b' });
    expect(config.Volumes).toEqual({ '/data': {}, '/logs': {} });
    expect(config.User).toBe('app:nogroup');
    expect(config.StopSignal).toBe('SIGINT');
    expect(config.WorkingDir).toBe('/srv/web');
    expect(config.OnBuild).toEqual(['RUN echo triggered']);
  });

  it('HEALTHCHECK: CMD and CMD-SHELL with durations; NONE', () => {
    expect(apply('HEALTHCHECK --interval=5s --retries=2 CMD ["/check"]').config.Healthcheck).toEqual({
      Test: ['CMD', '/check'],
      Interval: 5_000_000_000,
      Retries: 2,
    });
    expect(apply('HEALTHCHECK CMD curl -f localhost').config.Healthcheck).toEqual({
      Test: ['CMD-SHELL', 'curl -f localhost'],
    });
    expect(apply('HEALTHCHECK NONE').config.Healthcheck).toEqual({ Test: ['NONE'] });
  });

  it('a base image\u2019s ONBUILD triggers are not inherited', () => {
    expect(inheritConfig({ OnBuild: ['RUN x'], Cmd: ['sh'] }).config).toEqual({ Cmd: ['sh'] });
  });

  it.each([
    ['80', ['80/tcp']],
    ['80/UDP', ['80/udp']],
    ['1-3/sctp', ['1/sctp', '2/sctp', '3/sctp']],
  ])('EXPOSE %s', (spec, keys) => {
    expect(exposedPortKeys(spec)).toEqual(keys);
  });

  it.each(['0', '70000', 'http', '5-3'])('EXPOSE %s is refused', (spec) => {
    expect(() => exposedPortKeys(spec)).toThrow('EXPOSE');
  });

  it.each([
    [undefined, 'a', '/a'],
    ['/x', 'y/../z', '/x/z'],
    ['/x', '/abs/', '/abs'],
  ])('WORKDIR from %s + %s = %s', (current, path, result) => {
    expect(resolveWorkdir(current, path)).toBe(result);
  });
});
