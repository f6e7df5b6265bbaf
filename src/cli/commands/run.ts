/** `tsdock run IMAGE [COMMAND...]`: flags -> ContainerOptions -> Runtime.start -> wait. */
import { Runtime } from '../../index.js';
import type { StartedContainer } from '../../runtime/container.js';
import { TsdockError } from '../../errors.js';
import { parseCgroupLimits, type LimitFlags } from '../../runtime/cgroups/limits.js';
import {
  parseVolumeFlag,
  parseEnv,
  parseDevice,
  parseTmpfs,
  readEnvFile,
  type ContainerOptions,
  type NamespaceMode,
} from '../../runtime/options.js';
import { parseAddHost } from '../../network/hosts.js';
import { ipv6Unsupported } from '../../network/ipv4.js';
import { parsePublish } from '../../network/ports.js';
import { parseHealthFlags, type HealthFlags } from '../health-flags.js';
import { parseLayerLimits } from '../layer-limits.js';
import type { GlobalOptions } from '../main.js';
import { parseLogOpts } from './log-opts.js';
import { parseTimeout } from './timeout.js';
import { parseRestartPolicy, type RestartPolicy } from '../../runtime/restart-policy.js';
import { parseSecurityOpts } from '../security-opt.js';
import { DEFAULT_DETACH_KEYS, parseDetachKeys } from '../detach-keys.js';
import { checkInputIsTerminal, localTerminalSize, sessionWithStarted } from '../terminal-session.js';
import { streamsWithStarted } from '../stream-session.js';

/** The parsed `run` flags; the resource flags are the cgroup driver's own `LimitFlags`. */
export interface RunFlags extends LimitFlags, HealthFlags {
  detach?: boolean;
  name?: string;
  rm?: boolean;
  logOpt: string[];
  init?: boolean;
  restart: string;
  stopSignal?: string;
  stopTimeout?: string;
  interactive?: boolean;
  tty?: boolean;
  attach: string[];
  detachKeys?: string;
  env: string[];
  envFile: string[];
  workdir?: string;
  user?: string;
  hostname?: string;
  entrypoint?: string;
  network?: string;
  pod?: string;
  pid?: string;
  ipc?: string;
  uts?: string;
  userns: string;
  readOnly?: boolean;
  volume: string[];
  tmpfs: string[];
  capAdd: string[];
  capDrop: string[];
  securityOpt: string[];
  privileged?: boolean;
  device: string[];
  cgroupParent?: string;
  pull?: string;
  publish: string[];
  publishAll?: boolean;
  ip?: string;
  ip6?: string;
  macAddress?: string;
  networkAlias: string[];
  addHost: string[];
  dns: string[];
  dnsSearch: string[];
}

/** Signals a foreground `run` passes on to the container, like `docker run`'s sig-proxy. */
const FORWARDED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];

function oneOf<T extends string>(flag: string, value: string | undefined, allowed: readonly T[]): T | undefined {
  if (value === undefined) return undefined;
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw new TsdockError('INVALID_ARGUMENT', `invalid ${flag} "${value}": expected ${allowed.join(' or ')}`);
}

function namespaceMode(flag: string, value: string | undefined): NamespaceMode | undefined {
  return oneOf(flag, value, ['host', 'private'] as const);
}

/** `--network`: none, host, bridge, container:<name|id>, /path/to/netns or a user network's name. */
function parseNetworkMode(value: string): string {
  if (value === '' || (value.startsWith('container:') && value.length === 'container:'.length)) {
    throw new TsdockError('INVALID_ARGUMENT', `invalid --network "${value}"`);
  }
  return value;
}

function checkMac(value: string): string {
  if (!/^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$/.test(value)) {
    throw new TsdockError(
      'INVALID_ARGUMENT',
      `invalid --mac-address "${value}": expected six hex bytes, 02:42:ac:11:00:02`,
    );
  }
  // A multicast MAC (low bit of the first byte) is refused by the kernel for an interface.
  if ((parseInt(value.slice(0, 2), 16) & 1) === 1) {
    throw new TsdockError('INVALID_ARGUMENT', `invalid --mac-address "${value}": a multicast address`);
  }
  return value.toLowerCase();
}

function parseAddHostFlag(spec: string): { name: string; ip: string } {
  const entry = parseAddHost(spec);
  const name = entry?.names[0];
  if (entry === undefined || name === undefined) {
    throw new TsdockError('INVALID_ARGUMENT', `invalid --add-host "${spec}": expected name:ip`);
  }
  return { name, ip: entry.ip };
}

/** Translates the command line into typed options; every value is validated here, before any work. */
export function containerOptions(command: string[], flags: RunFlags): ContainerOptions {
  if (flags.ip6 !== undefined) throw ipv6Unsupported('--ip6');
  const security = parseSecurityOpts(flags.securityOpt);
  const privileged = flags.privileged ?? false;
  const devices = flags.device.map(parseDevice);
  // Unset: the library's default (`bridge`), or in a pod, the pod's network.
  const network = flags.network === undefined ? undefined : parseNetworkMode(flags.network);
  const mounts = flags.volume.map(parseVolumeFlag);
  return {
    command: command.length > 0 ? command : undefined,
    entrypoint: flags.entrypoint === undefined ? undefined : flags.entrypoint === '' ? [] : [flags.entrypoint],
    env: [...flags.envFile.flatMap((f) => readEnvFile(f)), ...flags.env.flatMap((e) => parseEnv(e))],
    workdir: flags.workdir,
    user: flags.user,
    hostname: flags.hostname,
    network,
    publish: flags.publish.flatMap(parsePublish),
    publishAll: flags.publishAll ?? false,
    ip: flags.ip,
    macAddress: flags.macAddress === undefined ? undefined : checkMac(flags.macAddress),
    networkAliases: flags.networkAlias,
    addHosts: flags.addHost.map(parseAddHostFlag),
    dns: flags.dns,
    dnsSearch: flags.dnsSearch,
    pid: namespaceMode('--pid', flags.pid),
    ipc: namespaceMode('--ipc', flags.ipc),
    uts: namespaceMode('--uts', flags.uts),
    userns: oneOf('--userns', flags.userns, ['host', 'private', 'auto'] as const),
    readonlyRootfs: flags.readOnly ?? false,
    binds: mounts.flatMap((m) => ('bind' in m ? [m.bind] : [])),
    volumes: mounts.flatMap((m) => ('volume' in m ? [m.volume] : [])),
    tmpfs: flags.tmpfs.map(parseTmpfs),
    capAdd: flags.capAdd,
    capDrop: flags.capDrop,
    noNewPrivileges: security.noNewPrivileges,
    seccomp: security.seccomp,
    privileged,
    devices,
    limits: parseCgroupLimits(flags),
    cgroupParent: flags.cgroupParent,
    pod: flags.pod,
    healthcheck: parseHealthFlags(flags),
    ...(flags.tty === true ? { tty: true } : {}),
    ...(flags.interactive === true ? { interactive: true } : {}),
    // Docker's StdinOnce: input attached from the start (`run -i`, `create -i`; not `run -d -i`).
    ...(flags.interactive === true && flags.detach !== true ? { stdinOnce: true } : {}),
  };
}

export async function run(
  globals: GlobalOptions,
  image: string,
  command: string[],
  flags: Record<string, unknown>,
): Promise<number> {
  const runFlags = flags as unknown as RunFlags;
  const options = containerOptions(command, runFlags);
  const detachKeys = parseDetachKeys(runFlags.detachKeys ?? DEFAULT_DETACH_KEYS);
  const streams = attachedStreams(runFlags);
  const attachedTerminal = options.tty === true && runFlags.detach !== true;
  if (attachedTerminal && options.interactive === true) checkInputIsTerminal();
  if (attachedTerminal) options.consoleSize = localTerminalSize();
  const restartPolicy = parseRestartPolicy(runFlags.restart);
  const runtime = await Runtime.open({ root: globals.root, layerLimits: parseLayerLimits(globals.layerLimits) });
  // Before the handlers below: Ctrl-C during a pull ends it (the next pull resumes).
  await pullForRun(runtime, image, runFlags.pull);
  const naming = namingOf(runFlags, restartPolicy);
  if (runFlags.detach === true) {
    process.stdout.write(`${await runtime.runDetached(image, { ...options, ...naming })}\n`);
    return 0;
  }
  // Handlers go in before the start: the container may run (and be signalled) before start()
  // resolves, and a signal then must reach it rather than end this process.
  let container: StartedContainer | undefined;
  const pending: NodeJS.Signals[] = [];
  const forward = (signal: NodeJS.Signals): void => {
    if (container === undefined) pending.push(signal);
    else container.monitor.signal(signal);
  };
  for (const signal of FORWARDED) process.on(signal, forward);
  try {
    // The container's output is logged too, and `attach` can join it, as with Docker.
    container = await runtime.start(image, { ...options, ...naming, stdio: 'attach' });
    for (const signal of pending.splice(0)) container.monitor.signal(signal);
    if (options.tty === true) {
      // Keystrokes reach the container through its terminal; signals sent to us still go on.
      const session = { stdin: options.interactive === true, detachKeys, endOnSignal: false };
      return await sessionWithStarted(container, session, naming.autoRemove);
    }
    return await streamsWithStarted(container, streams, naming.autoRemove);
  } finally {
    for (const signal of FORWARDED) process.off(signal, forward);
  }
}

/** `docker create`: the container made as `run` would make it, left in the created state. */
export async function create(
  globals: GlobalOptions,
  image: string,
  command: string[],
  flags: Record<string, unknown>,
): Promise<number> {
  const createFlags = flags as unknown as RunFlags;
  const options = containerOptions(command, createFlags);
  const restartPolicy = parseRestartPolicy(createFlags.restart);
  const runtime = await Runtime.open({ root: globals.root, layerLimits: parseLayerLimits(globals.layerLimits) });
  await pullForRun(runtime, image, createFlags.pull);
  process.stdout.write(`${await runtime.create(image, { ...options, ...namingOf(createFlags, restartPolicy) })}\n`);
  return 0;
}

/** `-a stdin|stdout|stderr` (repeatable; default stdout and stderr, and stdin with `-i`). */
function attachedStreams(flags: RunFlags): { stdin: boolean; stdout: boolean; stderr: boolean } {
  for (const stream of flags.attach) oneOf('--attach', stream, ['stdin', 'stdout', 'stderr'] as const);
  if (flags.attach.length > 0 && flags.detach === true) {
    throw new TsdockError('INVALID_ARGUMENT', 'conflicting options: -a and -d (choose one)');
  }
  const all = flags.attach.length === 0;
  const interactive = flags.interactive === true;
  return {
    stdin: interactive && (all || flags.attach.includes('stdin')),
    stdout: all || flags.attach.includes('stdout'),
    stderr: all || flags.attach.includes('stderr'),
  };
}

/** What the container is called and how it is kept, beside what it runs. */
function namingOf(flags: RunFlags, restartPolicy: RestartPolicy) {
  return {
    name: flags.name,
    autoRemove: flags.rm ?? false,
    log: parseLogOpts(flags.logOpt),
    init: flags.init ?? false,
    restartPolicy,
    stopSignal: flags.stopSignal,
    stopTimeout: parseTimeout(flags.stopTimeout, '--stop-timeout'),
  };
}

/** `--pull missing|always|never`: Docker's messages and progress go to stderr, keeping stdout the container's. */
async function pullForRun(runtime: Runtime, image: string, policy: string | undefined): Promise<void> {
  const chosen = oneOf('--pull', policy ?? 'missing', ['missing', 'always', 'never'] as const) ?? 'missing';
  const { TransferProgress } = await import('../transfer-progress.js');
  const progress = new TransferProgress(process.stderr, false);
  const pulled = await runtime.ensureImage(image, chosen, {
    onProgress: (event) => {
      if (event.type === 'resolved' && chosen === 'missing') {
        process.stderr.write(`Unable to find image '${image}' locally\n`);
      }
      progress.listener(event);
    },
  });
  if (pulled) progress.finish();
}
