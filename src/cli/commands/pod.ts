/** `tsdock pod create|ls|inspect|start|stop|rm`. */
import { Runtime } from '../../index.js';
import { parsePublish } from '../../network/ports.js';
import { parseShare, type PodSummary } from '../../runtime/pod.js';
import type { GlobalOptions } from '../main.js';
import { reportError, since, table } from '../render.js';
import { forEachContainer } from './each.js';
import { parseTimeout } from './timeout.js';

export interface PodCreateFlags {
  name?: string;
  hostname?: string;
  network?: string;
  publish: string[];
  share?: string;
  cgroupParent?: string;
}

export async function podCreate(globals: GlobalOptions, flags: PodCreateFlags): Promise<void> {
  const options = {
    name: flags.name,
    hostname: flags.hostname,
    network: flags.network,
    publish: flags.publish.flatMap(parsePublish),
    share: flags.share === undefined ? undefined : parseShare(flags.share),
    cgroupParent: flags.cgroupParent,
  };
  const runtime = await Runtime.open({ root: globals.root });
  process.stdout.write(`${(await runtime.createPod(options)).id}\n`);
}

/** `Running`, `Exited`, … as podman shows a pod's status. */
function statusOf(pod: PodSummary): string {
  return pod.status.charAt(0).toUpperCase() + pod.status.slice(1);
}

export async function podLs(globals: GlobalOptions, flags: { quiet?: boolean; format?: string }): Promise<void> {
  const runtime = await Runtime.open({ root: globals.root });
  const pods = await runtime.listPods();
  if (flags.quiet === true) {
    process.stdout.write(pods.map((p) => `${p.id.slice(0, 12)}\n`).join(''));
    return;
  }
  if (flags.format === 'json') {
    process.stdout.write(pods.map((p) => JSON.stringify(p) + '\n').join(''));
    return;
  }
  const rows = pods.map((p) => [
    p.id.slice(0, 12),
    p.name,
    statusOf(p),
    since(p.created),
    p.infraId.slice(0, 12),
    String(p.containers.length),
  ]);
  process.stdout.write(table(['POD ID', 'NAME', 'STATUS', 'CREATED', 'INFRA ID', '# OF CONTAINERS'], rows));
}

export async function podInspect(globals: GlobalOptions, refs: string[]): Promise<number> {
  const runtime = await Runtime.open({ root: globals.root });
  const found: PodSummary[] = [];
  let status = 0;
  for (const ref of refs) {
    try {
      found.push(await runtime.inspectPod(ref));
    } catch (err) {
      reportError(err);
      status = 1;
    }
  }
  process.stdout.write(JSON.stringify(found, null, 4) + '\n');
  return status;
}

export async function podStart(globals: GlobalOptions, refs: string[]): Promise<number> {
  const runtime = await Runtime.open({ root: globals.root });
  return forEachContainer(refs, (ref) => runtime.startPod(ref));
}

export async function podStop(globals: GlobalOptions, refs: string[], flags: { time?: string }): Promise<number> {
  const timeout = parseTimeout(flags.time);
  const runtime = await Runtime.open({ root: globals.root });
  return forEachContainer(refs, (ref) => runtime.stopPod(ref, { timeout }));
}

export async function podRm(globals: GlobalOptions, refs: string[], flags: { force?: boolean }): Promise<number> {
  const runtime = await Runtime.open({ root: globals.root });
  return forEachContainer(refs, async (ref) => {
    await runtime.removePod(ref, { force: flags.force });
  });
}
