/**
 * The library's public face, `import … from 'tsdock'`: the names it exports and the shape of the
 * calls an embedder relies on. The `expectTypeOf` checks are compile-time (`make lint` runs tsc
 * over the tests): changing a signature below fails lint; the export list fails at run time.
 * Additions are free; removals and changes are breaking and must be made here on purpose.
 */
import { describe, expect, expectTypeOf, it } from 'vitest';
import type { Readable, Writable } from 'node:stream';
import * as tsdock from '../../src/index.js';
import {
  Runtime,
  TsdockError,
  type AttachStreams,
  type ContainerAttachment,
  type ContainerInspect,
  type CreateOptions,
  type ErrorCode,
  type ExecOptions,
  type ImageInspect,
  type ImageSummary,
  type LogEntry,
  type NetworkSummary,
  type ObservedContainer,
  type PodOptions,
  type PodSummary,
  type ProgressEvent,
  type PullOptions,
  type RunOptions,
  type RunResult,
  type RuntimeOptions,
  type StartedContainer,
  type StartedExec,
  type VolumeFilters,
  type VolumeInspect,
  type VolumePruneResult,
} from '../../src/index.js';

describe('the public API', () => {
  it('exports the runtime, the errors and the default root', () => {
    expect(Object.keys(tsdock)).toEqual(
      expect.arrayContaining(['Runtime', 'TsdockError', 'StartError', 'exitStatusOf', 'DEFAULT_ROOT']),
    );
    expect(tsdock.DEFAULT_ROOT).toBe('/var/lib/tsdock');
    expect(new TsdockError('CONFLICT', 'x')).toBeInstanceOf(Error);
  });

  it('opens a runtime on a root', () => {
    expectTypeOf<typeof Runtime.open>().parameters.toEqualTypeOf<[options?: RuntimeOptions]>();
    expectTypeOf<RuntimeOptions['root']>().toEqualTypeOf<string | undefined>();
    expectTypeOf<typeof Runtime.open>().returns.resolves.toEqualTypeOf<Runtime>();
    expectTypeOf<Runtime['root']>().toEqualTypeOf<string>();
  });

  it('manages images: pull with progress and abort, list, inspect, remove', () => {
    expectTypeOf<Runtime['pullImage']>().parameters.toEqualTypeOf<[ref: string, options?: PullOptions]>();
    expectTypeOf<PullOptions['signal']>().toEqualTypeOf<AbortSignal | undefined>();
    expectTypeOf<Parameters<NonNullable<PullOptions['onProgress']>>[0]>().toEqualTypeOf<ProgressEvent>();
    expectTypeOf<ProgressEvent['type']>().toEqualTypeOf<'resolved' | 'layer' | 'done'>();
    expectTypeOf<Runtime['listImages']>().returns.resolves.toEqualTypeOf<ImageSummary[]>();
    expectTypeOf<Runtime['inspectImage']>().returns.resolves.toEqualTypeOf<ImageInspect>();
    expectTypeOf<Runtime['removeImage']>().returns.resolves.toEqualTypeOf<string[]>();
  });

  it('manages containers through their whole life', () => {
    expectTypeOf<Runtime['create']>().parameters.toEqualTypeOf<[image: string, options?: CreateOptions]>();
    expectTypeOf<Runtime['create']>().returns.resolves.toEqualTypeOf<string>();
    expectTypeOf<Runtime['runDetached']>().returns.resolves.toEqualTypeOf<string>();
    expectTypeOf<Runtime['start']>().returns.resolves.toEqualTypeOf<StartedContainer>();
    expectTypeOf<Runtime['run']>().parameters.toEqualTypeOf<[image: string, options?: RunOptions]>();
    expectTypeOf<Runtime['run']>().returns.resolves.toEqualTypeOf<RunResult>();
    expectTypeOf<Runtime['startContainer']>().parameters.toEqualTypeOf<[ref: string]>();
    expectTypeOf<Runtime['wait']>().returns.resolves.toEqualTypeOf<number>();
    expectTypeOf<Runtime['kill']>().parameters.toEqualTypeOf<
      [ref: string, signal?: string, options?: { proxied?: boolean }]
    >();
    expectTypeOf<Runtime['stop']>().parameters.toEqualTypeOf<[ref: string, options?: { timeout?: number }]>();
    expectTypeOf<Runtime['remove']>().parameters.toEqualTypeOf<
      [ref: string, options?: { force?: boolean; volumes?: boolean }]
    >();
    expectTypeOf<Runtime['inspect']>().returns.resolves.toEqualTypeOf<ContainerInspect>();
    expectTypeOf<Runtime['list']>().returns.resolves.toEqualTypeOf<ObservedContainer[]>();
    expectTypeOf<Runtime['exec']>().parameters.toEqualTypeOf<[ref: string, options: ExecOptions]>();
    expectTypeOf<Runtime['exec']>().returns.resolves.toEqualTypeOf<StartedExec>();
    expectTypeOf<ReturnType<Runtime['logs']>>().toExtend<AsyncIterable<LogEntry>>();
    expectTypeOf<Parameters<Runtime['logs']>[1]>().toExtend<{ follow?: boolean; signal?: AbortSignal } | undefined>();
    expectTypeOf<StartedContainer['wait']>().returns.resolves.toHaveProperty('exitCode');
    expectTypeOf<Runtime['attachStdio']>().parameters.toEqualTypeOf<[ref: string, streams?: AttachStreams]>();
    expectTypeOf<Runtime['attachStdio']>().returns.resolves.toEqualTypeOf<ContainerAttachment>();
    expectTypeOf<ContainerAttachment['stdout']>().toEqualTypeOf<Readable | null>();
    expectTypeOf<ContainerAttachment['stdin']>().toEqualTypeOf<Writable | null>();
    expectTypeOf<ContainerAttachment['exit']>().resolves.toEqualTypeOf<number | undefined>();
  });

  it('manages networks and pods', () => {
    expectTypeOf<Runtime['listNetworks']>().returns.resolves.toEqualTypeOf<NetworkSummary[]>();
    expectTypeOf<Runtime['createPod']>().parameters.toEqualTypeOf<[options?: PodOptions]>();
    expectTypeOf<Runtime['listPods']>().returns.resolves.toEqualTypeOf<PodSummary[]>();
    expectTypeOf<Runtime['inspectPod']>().returns.resolves.toEqualTypeOf<PodSummary>();
    expectTypeOf<Runtime['removePod']>().parameters.toEqualTypeOf<[ref: string, options?: { force?: boolean }]>();
    expectTypeOf<CreateOptions['pod']>().toEqualTypeOf<string | undefined>();
  });

  it('manages volumes', () => {
    expectTypeOf<Runtime['createVolume']>().parameters.toEqualTypeOf<
      [name?: string, options?: { labels?: Record<string, string> }]
    >();
    expectTypeOf<Runtime['createVolume']>().returns.resolves.toEqualTypeOf<VolumeInspect>();
    expectTypeOf<Runtime['listVolumes']>().parameters.toEqualTypeOf<[filters?: VolumeFilters]>();
    expectTypeOf<Runtime['listVolumes']>().returns.resolves.toEqualTypeOf<VolumeInspect[]>();
    expectTypeOf<Runtime['inspectVolume']>().returns.resolves.toEqualTypeOf<VolumeInspect>();
    expectTypeOf<Runtime['removeVolume']>().parameters.toEqualTypeOf<[name: string, options?: { force?: boolean }]>();
    expectTypeOf<Runtime['pruneVolumes']>().parameters.toEqualTypeOf<[options?: { all?: boolean; label?: string[] }]>();
    expectTypeOf<Runtime['pruneVolumes']>().returns.resolves.toEqualTypeOf<VolumePruneResult>();
    expectTypeOf<VolumeInspect['Driver']>().toEqualTypeOf<'local'>();
    expectTypeOf<CreateOptions['volumes']>().toEqualTypeOf<tsdock.VolumeMount[] | undefined>();
  });

  it('throws errors with stable codes', () => {
    expectTypeOf<TsdockError['code']>().toEqualTypeOf<ErrorCode>();
    expectTypeOf<
      | 'INVALID_ARGUMENT'
      | 'IMAGE_NOT_FOUND'
      | 'INVALID_IMAGE'
      | 'CONTAINER_NOT_FOUND'
      | 'CONFLICT'
      | 'STORE'
      | 'START_FAILED'
      | 'COMMAND_NOT_EXECUTABLE'
      | 'COMMAND_NOT_FOUND'
      | 'HOST_UNSUPPORTED'
      | 'NETWORK_NOT_FOUND'
      | 'POD_NOT_FOUND'
      | 'VOLUME_NOT_FOUND'
      | 'NETWORK'
      | 'REGISTRY'
      | 'UNAUTHORIZED'
    >().toExtend<ErrorCode>();
    expect(tsdock.exitStatusOf(new TsdockError('COMMAND_NOT_FOUND', 'x'))).toBe(127);
  });
});
