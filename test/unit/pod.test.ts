import { describe, expect, it } from 'vitest';
import type { ContainerOptions } from '../../src/runtime/options.js';
import { memberOptions, parseShare } from '../../src/runtime/pod.js';
import type { PodRecord } from '../../src/runtime/pod-record.js';

const pod: PodRecord = {
  id: 'a'.repeat(64),
  name: 'web',
  created: '2026-11-25T00:00:00.000Z',
  share: ['net', 'ipc', 'uts'],
  hostname: 'webhost',
  network: 'bridge',
  publish: [],
  infraId: 'b'.repeat(64),
};

describe('memberOptions', () => {
  it('joins the pinned namespaces the pod shares and takes its host name', () => {
    const { options, sharedNamespaces } = memberOptions(pod, '/run/p', { command: ['sh'] });
    expect(options).toMatchObject({ pod: pod.id, network: '/run/p/net', hostname: 'webhost', command: ['sh'] });
    expect(sharedNamespaces).toEqual([
      { type: 'ipc', path: '/run/p/ipc' },
      { type: 'uts', path: '/run/p/uts' },
    ]);
  });

  it('joins the pid namespace only when the pod shares it', () => {
    const { sharedNamespaces } = memberOptions({ ...pod, share: ['pid'] }, '/run/p', { hostname: 'own' });
    expect(sharedNamespaces).toEqual([{ type: 'pid', path: '/run/p/pid' }]);
  });

  it('leaves what the pod does not share to the container', () => {
    const { options } = memberOptions({ ...pod, share: ['ipc'] }, '/run/p', { network: 'bridge', hostname: 'own' });
    expect(options).toMatchObject({ network: 'bridge', hostname: 'own' });
  });

  it.each<[string, ContainerOptions, RegExp]>([
    ['a network', { network: 'bridge' }, /--network bridge cannot be used .* pod web: give --network to pod create/],
    ['ports', { publish: [{ hostPort: 80, containerPort: 80, protocol: 'tcp' }] }, /-p\/-P .*pod create -p/],
    ['-P', { publishAll: true }, /-p\/-P/],
    ['an address', { ip: '10.0.0.2' }, /--ip/],
    ['a host name', { hostname: 'x' }, /--hostname .* give --hostname to pod create/],
    ['the host uts', { uts: 'host' }, /--uts host/],
    ['the host ipc', { ipc: 'host' }, /--ipc host/],
    ['a user namespace', { userns: 'private' }, /--userns private/],
    ['an automatic user namespace', { userns: 'auto' }, /--userns auto/],
  ])('refuses %s', (_what, options, message) => {
    expect(() => memberOptions(pod, '/run/p', options)).toThrow(message);
  });

  it('refuses the host pid namespace when the pod shares its own', () => {
    expect(() => memberOptions({ ...pod, share: ['pid'] }, '/run/p', { pid: 'host' })).toThrow(/--pid host/);
  });
});

describe('parseShare', () => {
  it.each([
    ['net,ipc,uts', ['net', 'ipc', 'uts']],
    ['pid,net,pid', ['pid', 'net']],
    ['', []],
  ])('%s', (spec, expected) => {
    expect(parseShare(spec)).toEqual(expected);
  });

  it('names the known kinds for an unknown one', () => {
    expect(() => parseShare('net,mnt')).toThrow(/invalid --share "net,mnt": expected a list of net, ipc, uts, pid/);
  });
});
