/**
 * The `tsdock` command line: parse, make one library call per command, render. Each command's
 * module is imported only when that command runs, to keep start-up lean.
 */
import { Command, Option } from 'commander';
import type { PodCreateFlags } from './commands/pod.js';
import { reportError } from './render.js';

const collect = (value: string, previous: string[]): string[] => [...previous, value];

/** Options shared by every command. */
export interface GlobalOptions {
  root?: string;
  /** `size=…,file-size=…,entries=…,depth=…`: caps on what one layer may unpack to. */
  layerLimits?: string;
}

function program(): Command {
  const cli = new Command('tsdock')
    .description('A Linux container runtime')
    .version('0.1.0')
    .enablePositionalOptions()
    .addOption(new Option('--root <dir>', 'root of tsdock storage').env('TSDOCK_ROOT'))
    .addOption(
      new Option(
        '--layer-limits <caps>',
        'caps on one unpacked layer: size=64g,file-size=64g,entries=4000000,depth=256',
      ).env('TSDOCK_LAYER_LIMITS'),
    );
  const globals = (): GlobalOptions => cli.opts<GlobalOptions>();

  /** The flags `run` and `create` share: everything that describes the container. */
  const withContainerFlags = (command: Command): Command =>
    command
      .argument('<image>', 'image name or id')
      .argument('[command...]', 'command and arguments (default: the image CMD)')
      .passThroughOptions()
      .option('--name <name>', 'name the container (unique)')
      .option('--rm', 'remove the container when it exits')
      .option('--log-opt <key=value>', 'json-file log rotation: max-size=10m, max-file=3', collect, [])
      .option('--init', 'run a tiny init as pid 1 that forwards signals and reaps zombies')
      .option('--restart <policy>', 'no, on-failure[:max-retries], always or unless-stopped', 'no')
      .option('--stop-signal <signal>', "what stop sends first (default the image's STOPSIGNAL, else SIGTERM)")
      .option('--stop-timeout <seconds>', 'seconds stop waits before SIGKILL when it names none (default 10)')
      .option('-i, --interactive', 'keep stdin attached')
      .option('-a, --attach <stream>', 'attach only stdin, stdout or stderr (repeatable)', collect, [])
      .option('-t, --tty', 'give the container a terminal (with -i: this one, in raw mode)')
      .option('--detach-keys <keys>', 'keys that detach from the terminal (default ctrl-p,ctrl-q)')
      .option('-e, --env <KEY=value>', 'set an environment variable', collect, [])
      .option('--env-file <file>', 'read environment variables from a file', collect, [])
      .option('-w, --workdir <dir>', 'working directory inside the container')
      .option('-u, --user <user[:group]>', 'user name or uid, optionally with group')
      .option('-h, --hostname <name>', 'container host name')
      .option('--entrypoint <cmd>', 'override the image ENTRYPOINT ("" clears it)')
      .option(
        '--network <mode>',
        'network: bridge (the default), none, host, container:<name|id>, a network name or a netns path',
      )
      .option('--pod <pod>', 'run in a pod: share its network, IPC and UTS namespaces')
      .option('-p, --publish <[ip:]host:ctr[/proto]>', 'publish a container port on the host', collect, [])
      .option('-P, --publish-all', 'publish every EXPOSEd port on a random host port')
      .option('--ip <address>', 'IPv4 address on a user network')
      .option('--ip6 <address>', 'IPv6 address: not supported (networks are IPv4-only)')
      .option('--mac-address <mac>', 'MAC address of the container interface')
      .option('--network-alias <name>', 'another name on user networks', collect, [])
      .option('--add-host <name:ip>', 'add an /etc/hosts entry', collect, [])
      .option('--dns <ip>', 'nameserver for /etc/resolv.conf', collect, [])
      .option('--dns-search <domain>', 'search domain for /etc/resolv.conf', collect, [])
      .option('--pid <mode>', 'pid namespace: host, or a private one by default')
      .option('--ipc <mode>', 'ipc namespace: host, or a private one by default')
      .option('--uts <mode>', 'uts namespace: host, or a private one by default')
      .option(
        '--userns <mode>',
        'user namespace: host, private (root mapped to 100000) or auto (a range of its own)',
        'host',
      )
      .option('--read-only', 'mount the container root read-only')
      .option(
        '-v, --volume <src:dst[:opts]>',
        'bind a host path, mount a named volume (NAME:dst) or an anonymous one (dst); opts: ro, rw, idmap, U, nocopy',
        collect,
        [],
      )
      .option('--tmpfs <dst[:opts]>', 'mount a tmpfs', collect, [])
      .option('--cap-add <cap>', 'add a capability', collect, [])
      .option('--cap-drop <cap>', 'drop a capability', collect, [])
      .option('--security-opt <opt>', 'no-new-privileges, seccomp=unconfined or seccomp=PROFILE.json', collect, [])
      .option('--privileged', 'every capability and device, no seccomp, no masked or read-only paths')
      .option('--device <host[:ctr][:rwm]>', 'make a host device node available', collect, [])
      .option('-m, --memory <bytes>', 'memory limit (e.g. 64m)')
      .option('--memory-swap <bytes>', 'memory + swap limit, -1 for unlimited swap')
      .option('--cpus <n>', 'number of CPUs (e.g. 0.5)')
      .option('-c, --cpu-shares <n>', 'relative CPU weight')
      .option('--cpuset-cpus <list>', 'CPUs to run on (e.g. 0-1)')
      .option('--pids-limit <n>', 'maximum number of processes')
      .option('--cgroup-parent <path>', 'parent cgroup')
      .option('--health-cmd <command>', 'command that checks the container is healthy (run by /bin/sh -c)')
      .option('--health-interval <duration>', 'time between health checks: ms, s, m or h (default 30s)')
      .option('--health-timeout <duration>', 'longest a health check may run (default 30s)')
      .option('--health-retries <n>', 'failures in a row that make it unhealthy (default 3)')
      .option('--health-start-period <duration>', 'start-up time in which failed checks do not count (default 0s)')
      .option('--health-start-interval <duration>', 'time between health checks during the start period (default 5s)')
      .option('--health-on-failure <action>', 'on becoming unhealthy: none, kill, restart or stop (default none)')
      .option('--no-healthcheck', "disable the image's HEALTHCHECK")
      .option('--pull <policy>', 'pull the image before running: missing, always or never', 'missing');

  withContainerFlags(
    cli
      .command('run')
      .description('Run a command in a new container')
      .option('-d, --detach', 'run in the background and print the container id'),
  ).action(async (image: string, command: string[], flags: Record<string, unknown>) => {
    const { run } = await import('./commands/run.js');
    process.exitCode = await run(globals(), image, command, flags);
  });

  withContainerFlags(cli.command('create').description('Create a container without starting it; print its id')).action(
    async (image: string, command: string[], flags: Record<string, unknown>) => {
      const { create } = await import('./commands/run.js');
      process.exitCode = await create(globals(), image, command, flags);
    },
  );

  const containers = (name: string, description: string): Command =>
    cli.command(name).description(description).argument('<container...>', 'container names or ids');

  cli
    .command('ps')
    .description('List containers')
    .option('-a, --all', 'show all containers (default: only running ones)')
    .option('-q, --quiet', 'only show container ids')
    .option('--format <format>', 'json: one JSON object per line')
    .option('--pod', 'show the pod of each container')
    .option('-f, --filter <key=value>', 'health=starting|healthy|unhealthy|none (repeatable: any of them)', collect, [])
    .action(async (flags: { all?: boolean; quiet?: boolean; format?: string; pod?: boolean; filter: string[] }) => {
      const { ps } = await import('./commands/ps.js');
      await ps(globals(), flags);
    });

  containers('rm', 'Remove containers')
    .option('-f, --force', 'kill and remove running containers')
    .option('-v, --volumes', 'remove their anonymous volumes too')
    .action(async (refs: string[], flags: { force?: boolean; volumes?: boolean }) => {
      const { rm } = await import('./commands/rm.js');
      process.exitCode = await rm(globals(), refs, flags);
    });

  containers('stop', 'Stop containers: STOPSIGNAL (or SIGTERM), then SIGKILL after a timeout')
    .option('-t, --time <seconds>', "seconds to wait before SIGKILL (default the container's --stop-timeout, else 10)")
    .action(async (refs: string[], flags: { time?: string }) => {
      const { stop } = await import('./commands/stop.js');
      process.exitCode = await stop(globals(), refs, flags);
    });

  containers('restart', 'Stop and start containers')
    .option('-t, --time <seconds>', "seconds to wait before SIGKILL (default the container's --stop-timeout, else 10)")
    .action(async (refs: string[], flags: { time?: string }) => {
      const { restart } = await import('./commands/restart.js');
      process.exitCode = await restart(globals(), refs, flags);
    });

  containers('start', 'Start created or stopped containers')
    .option('-a, --attach', "attach to the container's output (one container), exit with its status")
    .option('-i, --interactive', "attach this terminal's input too")
    .option('--detach-keys <keys>', 'keys that detach from the terminal (default ctrl-p,ctrl-q)')
    .action(async (refs: string[], flags: import('./commands/start.js').StartFlags) => {
      const { start } = await import('./commands/start.js');
      process.exitCode = await start(globals(), refs, flags);
    });

  cli
    .command('attach')
    .description("Attach to a running container's terminal, or to its stdout, stderr and (-i) stdin")
    .argument('<container>', 'container name or id')
    .option('--no-stdin', 'do not pass input on')
    .option('--sig-proxy [bool]', 'pass the signals this process gets on to the container (default true)')
    .option('--detach-keys <keys>', 'keys that detach from the container (default ctrl-p,ctrl-q)')
    .action(async (ref: string, flags: import('./commands/attach.js').AttachFlags) => {
      const { attach } = await import('./commands/attach.js');
      process.exitCode = await attach(globals(), ref, flags);
    });

  containers('kill', 'Send a signal to containers')
    .option('-s, --signal <signal>', 'signal name or number', 'KILL')
    .action(async (refs: string[], flags: { signal: string }) => {
      const { kill } = await import('./commands/kill.js');
      process.exitCode = await kill(globals(), refs, flags);
    });

  containers('wait', 'Wait for containers to stop, then print their exit codes').action(async (refs: string[]) => {
    const { wait } = await import('./commands/wait.js');
    process.exitCode = await wait(globals(), refs);
  });

  cli
    .command('logs')
    .description("Show a container's output (json-file log of detached runs)")
    .argument('<container>', 'container name or id')
    .option('-f, --follow', 'follow new output until the container stops')
    .option('-n, --tail <n>', 'only the last n lines (or all)', 'all')
    .option('-t, --timestamps', 'prefix each line with its time')
    .option('--since <time>', 'only lines since a time, Unix seconds, or a duration like 10m')
    .action(async (ref: string, flags: { follow?: boolean; tail?: string; timestamps?: boolean; since?: string }) => {
      const { logs } = await import('./commands/logs.js');
      await logs(globals(), ref, flags);
    });

  cli
    .command('exec')
    .description('Run a command in a running container')
    .argument('<container>', 'container name or id')
    .argument('<command...>', 'command and arguments')
    .passThroughOptions()
    .option('-d, --detach', 'run the command in the background')
    .option('-i, --interactive', 'keep stdin attached')
    .option('-t, --tty', 'give the command a terminal (with -i: this one, in raw mode)')
    .option('--detach-keys <keys>', 'keys that detach from the terminal (default ctrl-p,ctrl-q)')
    .option('-e, --env <KEY=value>', 'set an environment variable', collect, [])
    .option('-u, --user <user[:group]>', "user name or uid, from the container's /etc/passwd")
    .option('-w, --workdir <dir>', 'working directory inside the container')
    .action(async (ref: string, command: string[], flags: Record<string, unknown>) => {
      const { exec } = await import('./commands/exec.js');
      process.exitCode = await exec(
        globals(),
        ref,
        command,
        flags as unknown as import('./commands/exec.js').ExecFlags,
      );
    });

  cli
    .command('stats')
    .description('Show CPU, memory and pids of running containers')
    .argument('[container...]', 'container names or ids (default: all running)')
    .option('--no-stream', 'one reading, then exit')
    .option('--format <format>', 'json: one JSON object per line')
    .action(async (refs: string[], flags: { stream?: boolean; format?: string }) => {
      const { stats } = await import('./commands/stats.js');
      await stats(globals(), refs, flags);
    });

  cli
    .command('top')
    .description("Show a container's processes (host pids)")
    .argument('<container>', 'container name or id')
    .argument('[ps-options...]', 'options for ps (default: -o uid,pid,ppid,stime,tty,time,args)')
    .passThroughOptions()
    .action(async (ref: string, psArgs: string[]) => {
      const { top } = await import('./commands/top.js');
      await top(globals(), ref, psArgs);
    });

  cli
    .command('events')
    .description('Show container events as they happen (or replay them with --since)')
    .option('--since <time>', 'replay events since a time, Unix seconds, or a duration like 10m')
    .option('--until <time>', 'stop at a time, Unix seconds, or a duration like 10m')
    .option('-f, --filter <key=value>', 'container=NAME|ID, event=ACTION, type=container, image=NAME', collect, [])
    .option('--format <format>', 'json: one JSON object per line')
    .action(async (flags: import('./commands/events.js').EventsFlags) => {
      const { events } = await import('./commands/events.js');
      await events(globals(), flags);
    });

  containers('inspect', 'Show containers as JSON').action(async (refs: string[]) => {
    const { inspect } = await import('./commands/inspect.js');
    process.exitCode = await inspect(globals(), refs);
  });

  for (const [verb, paused] of [
    ['pause', true],
    ['unpause', false],
  ] as const) {
    containers(verb, paused ? 'Freeze every process of containers' : 'Thaw paused containers').action(
      async (refs: string[]) => {
        const { pause } = await import('./commands/pause.js');
        process.exitCode = await pause(globals(), refs, paused);
      },
    );
  }

  cli
    .command('container')
    .description('Manage containers')
    .command('prune')
    .description('Remove all stopped containers')
    .option('-f, --force', 'do not ask for confirmation')
    .action(async (flags: { force?: boolean }) => {
      const { prune } = await import('./commands/prune.js');
      await prune(globals(), flags);
    });

  const pod = cli.command('pod').description('Manage pods: containers sharing network, IPC and UTS namespaces');
  pod
    .command('create')
    .description('Create a pod and start the pause process that holds its namespaces')
    .option('--name <name>', 'name the pod (unique)')
    .option('--hostname <name>', 'host name of the shared uts namespace (default: the pod name)')
    .option('--network <mode>', 'network: none, host, bridge or a network name', 'none')
    .option('-p, --publish <[ip:]host:ctr[/proto]>', 'publish a port of the pod on the host', collect, [])
    .option('--share <kinds>', 'namespaces to share: net,ipc,uts[,pid]', 'net,ipc,uts')
    .option('--cgroup-parent <path>', 'parent cgroup of the pause process')
    .action(async (flags: PodCreateFlags) => {
      const { podCreate } = await import('./commands/pod.js');
      await podCreate(globals(), flags);
    });
  pod
    .command('ls')
    .alias('ps')
    .description('List pods')
    .option('-q, --quiet', 'only show pod ids')
    .option('--format <format>', 'json: one JSON object per line')
    .action(async (flags: { quiet?: boolean; format?: string }) => {
      const { podLs } = await import('./commands/pod.js');
      await podLs(globals(), flags);
    });
  pod
    .command('inspect')
    .description('Show pods as JSON')
    .argument('<pod...>')
    .action(async (refs: string[]) => {
      const { podInspect } = await import('./commands/pod.js');
      process.exitCode = await podInspect(globals(), refs);
    });
  pod
    .command('start')
    .description("Start pods' pause processes")
    .argument('<pod...>')
    .action(async (refs: string[]) => {
      const { podStart } = await import('./commands/pod.js');
      process.exitCode = await podStart(globals(), refs);
    });
  pod
    .command('stop')
    .description("Stop pods' containers, then their pause processes")
    .argument('<pod...>')
    .option('-t, --time <seconds>', "seconds to wait before SIGKILL (default the container's --stop-timeout, else 10)")
    .action(async (refs: string[], flags: { time?: string }) => {
      const { podStop } = await import('./commands/pod.js');
      process.exitCode = await podStop(globals(), refs, flags);
    });
  pod
    .command('rm')
    .description('Remove pods and their containers')
    .argument('<pod...>')
    .option('-f, --force', 'stop and remove running containers too')
    .action(async (refs: string[], flags: { force?: boolean }) => {
      const { podRm } = await import('./commands/pod.js');
      process.exitCode = await podRm(globals(), refs, flags);
    });

  const network = cli.command('network').description('Manage networks');
  network
    .command('create')
    .description('Create a bridge network')
    .argument('<name>')
    .option('--subnet <cidr>', 'IPv4 subnet (default: a free one)')
    .option('--gateway <ip>', 'the bridge address (default: the first of the subnet)')
    .option('--ipv6', 'IPv6: not supported (networks are IPv4-only, as Docker by default)')
    .action(async (name: string, flags: { subnet?: string; gateway?: string; ipv6?: boolean }) => {
      const { networkCreate } = await import('./commands/network.js');
      await networkCreate(globals(), name, flags);
    });
  network
    .command('ls')
    .description('List networks')
    .option('-q, --quiet', 'only show network ids')
    .action(async (flags: { quiet?: boolean }) => {
      const { networkLs } = await import('./commands/network.js');
      await networkLs(globals(), flags);
    });
  network
    .command('inspect')
    .description('Show networks as JSON')
    .argument('<network...>')
    .action(async (refs: string[]) => {
      const { networkInspect } = await import('./commands/network.js');
      await networkInspect(globals(), refs);
    });
  network
    .command('rm')
    .description('Remove networks')
    .argument('<network...>')
    .action(async (refs: string[]) => {
      const { networkRm } = await import('./commands/network.js');
      await networkRm(globals(), refs);
    });
  network
    .command('connect')
    .description('Connect a running container to a network')
    .argument('<network>')
    .argument('<container>')
    .option('--alias <name>', 'another name on this network', collect, [])
    .option('--ip <address>', 'IPv4 address on this network')
    .option('--ip6 <address>', 'IPv6 address: not supported (networks are IPv4-only)')
    .action(async (net: string, container: string, flags: { alias: string[]; ip?: string; ip6?: string }) => {
      const { networkConnect } = await import('./commands/network.js');
      await networkConnect(globals(), net, container, flags);
    });
  network
    .command('disconnect')
    .description('Disconnect a container from a network')
    .argument('<network>')
    .argument('<container>')
    .action(async (net: string, container: string) => {
      const { networkDisconnect } = await import('./commands/network.js');
      await networkDisconnect(globals(), net, container);
    });
  network
    .command('prune')
    .description('Remove unused networks and what stopped or crashed containers left')
    .option('-f, --force', 'do not ask for confirmation')
    .action(async (flags: { force?: boolean }) => {
      const { networkPrune } = await import('./commands/network.js');
      await networkPrune(globals(), flags);
    });

  const volume = cli.command('volume').description('Manage volumes');
  volume
    .command('create')
    .description('Create a volume (local driver); print its name')
    .argument('[name]', 'volume name (default: a random one)')
    .option('-d, --driver <driver>', 'volume driver: local only')
    .option('--label <key=value>', 'set a label (repeatable)', collect, [])
    .action(async (name: string | undefined, flags: { label: string[]; driver?: string }) => {
      const { volumeCreate } = await import('./commands/volume.js');
      await volumeCreate(globals(), name, flags);
    });
  volume
    .command('ls')
    .description('List volumes')
    .option('-q, --quiet', 'only show volume names')
    .option('-f, --filter <key=value>', 'name=NAME, label=KEY[=VALUE], dangling=true|false', collect, [])
    .action(async (flags: { quiet?: boolean; filter: string[] }) => {
      const { volumeLs } = await import('./commands/volume.js');
      await volumeLs(globals(), flags);
    });
  volume
    .command('inspect')
    .description('Show volumes as JSON')
    .argument('<volume...>')
    .action(async (names: string[]) => {
      const { volumeInspect } = await import('./commands/volume.js');
      await volumeInspect(globals(), names);
    });
  volume
    .command('rm')
    .description('Remove volumes no container uses')
    .argument('<volume...>')
    .option('-f, --force', 'no error for a volume that does not exist')
    .action(async (names: string[], flags: { force?: boolean }) => {
      const { volumeRm } = await import('./commands/volume.js');
      await volumeRm(globals(), names, flags);
    });
  volume
    .command('prune')
    .description('Remove anonymous volumes no container uses (-a: every unused volume)')
    .option('-a, --all', 'remove named volumes too')
    .option('-f, --force', 'do not ask for confirmation')
    .option('--filter <label=key[=value]>', 'only volumes with this label', collect, [])
    .action(async (flags: { all?: boolean; force?: boolean; filter: string[] }) => {
      const { volumePrune } = await import('./commands/volume.js');
      await volumePrune(globals(), flags);
    });

  cli
    .command('load')
    .description('Load images from an OCI or docker-save archive')
    .option('-i, --input <file>', 'archive to read (default: stdin)')
    .option('-q, --quiet', 'print nothing')
    .action(async (flags: { input?: string; quiet?: boolean }) => {
      const { load } = await import('./commands/load.js');
      await load(globals(), flags);
    });

  cli
    .command('save')
    .description('Save images to a docker-save archive (default) or an OCI archive')
    .argument('<image...>', 'image names or ids')
    .option('-o, --output <file>', 'archive to write (default: stdout)')
    .option('--format <format>', 'docker or oci', 'docker')
    .action(async (images: string[], flags: { output?: string; format: string }) => {
      const { save } = await import('./commands/save.js');
      await save(globals(), images, flags);
    });

  cli
    .command('images')
    .description('List images')
    .option('-q, --quiet', 'only show image ids')
    .action(async (flags: { quiet?: boolean }) => {
      const { images } = await import('./commands/images.js');
      await images(globals(), flags);
    });

  const image = cli.command('image').description('Manage images');
  image
    .command('inspect')
    .description('Show images as JSON')
    .argument('<image...>', 'image names or ids')
    .action(async (refs: string[]) => {
      const { imageInspect } = await import('./commands/image.js');
      process.exitCode = await imageInspect(globals(), refs);
    });
  image
    .command('prune')
    .description('Remove dangling images (-a: every image no container uses) and what no image needs')
    .option('-a, --all', 'remove every image no container was created from, not only dangling ones')
    .option('-f, --force', 'do not ask for confirmation')
    .action(async (flags: { all?: boolean; force?: boolean }) => {
      const { imagePrune } = await import('./commands/image.js');
      await imagePrune(globals(), flags);
    });

  cli
    .command('builder')
    .description('Manage the build cache')
    .command('prune')
    .description('Remove build cache: entries no image shares (-a: all), then the layers nothing holds')
    .option('-a, --all', 'remove all build cache, not only what no image shares')
    .option('-f, --force', 'do not ask for confirmation')
    .option('--filter <until=DURATION>', 'only cache unused for DURATION (e.g. until=24h)', collect, [])
    .action(async (flags: import('./commands/builder.js').BuilderPruneFlags) => {
      const { builderPrune } = await import('./commands/builder.js');
      await builderPrune(globals(), flags);
    });

  cli
    .command('rmi')
    .description('Remove images')
    .argument('<image...>', 'image names or ids')
    .option('-f, --force', 'remove even when tagged more than once')
    .action(async (refs: string[], flags: { force?: boolean }) => {
      const { rmi } = await import('./commands/rmi.js');
      await rmi(globals(), refs, flags);
    });

  cli
    .command('pull')
    .description('Download an image from a registry')
    .argument('<image>', 'image reference (busybox, 127.0.0.1:5000/team/app:1.2)')
    .option('--platform <os/arch[/variant]>', 'platform to pick from a multi-platform image (default: this host)')
    .option('--tls-verify [bool]', 'verify TLS certificates (--tls-verify=false to skip)')
    .option('--max-concurrent-downloads <n>', 'layers downloaded and unpacked at once (default 3)')
    .option('-q, --quiet', 'print only the image name')
    .action(async (image: string, flags: import('./commands/pull.js').PullFlags) => {
      const { pull } = await import('./commands/pull.js');
      await pull(globals(), image, flags);
    });

  cli
    .command('build')
    .description('Build an image from a Dockerfile')
    .argument('<context>', 'the build context directory')
    .option('-t, --tag <name>', 'name the image (repeatable)', collect, [])
    .option('-f, --file <Dockerfile>', 'the Dockerfile (default: CONTEXT/Dockerfile)')
    .option('--build-arg <KEY=value>', 'set a build argument (KEY alone: from the environment)', collect, [])
    .option('--target <stage>', 'build this stage (default: the last)')
    .option('--no-cache', 'run every step, ignoring the cache')
    .option('--pull', 'pull base images even when present')
    .option('--network <mode>', 'network for RUN: default (bridge), host or none', 'default')
    .option('-q, --quiet', 'print only the image ID')
    .option('--iidfile <file>', 'write the image ID to a file')
    .option('--platform <os/arch[/variant]>', 'platform of the base images')
    .action(async (context: string, flags: Record<string, unknown>) => {
      const { build } = await import('./commands/build.js');
      process.exitCode = await build(globals(), context, flags);
    });

  cli
    .command('push')
    .description('Upload an image to a registry')
    .argument('<image>', 'image name, with the registry to push to (127.0.0.1:5000/me/app:v1)')
    .option('--tls-verify [bool]', 'verify TLS certificates (--tls-verify=false to skip)')
    .option('-q, --quiet', 'print only the image name')
    .action(async (image: string, flags: { tlsVerify?: string | boolean; quiet?: boolean }) => {
      const { push } = await import('./commands/push.js');
      await push(globals(), image, flags);
    });

  cli
    .command('tag')
    .description('Give an image another name')
    .argument('<source>', 'image name or id')
    .argument('<target>', 'new name')
    .action(async (source: string, target: string) => {
      const { tag } = await import('./commands/tag.js');
      await tag(globals(), source, target);
    });

  cli
    .command('login')
    .description('Log in to a registry')
    .argument('[server]', 'registry (default: Docker Hub)')
    .option('-u, --username <user>', 'user name')
    .option('-p, --password <password>', 'password (insecure: use --password-stdin)')
    .option('--password-stdin', 'read the password from stdin')
    .option('--tls-verify [bool]', 'verify TLS certificates (--tls-verify=false to skip)')
    .action(async (server: string | undefined, flags: Record<string, unknown>) => {
      const { login } = await import('./commands/login.js');
      await login(globals(), server, flags);
    });

  cli
    .command('logout')
    .description('Log out from a registry')
    .argument('[server]', 'registry (default: Docker Hub)')
    .action(async (server: string | undefined) => {
      const { logout } = await import('./commands/logout.js');
      await logout(globals(), server);
    });

  return cli;
}

export async function main(argv: string[]): Promise<void> {
  try {
    await program().exitOverride().parseAsync(argv, { from: 'user' });
  } catch (err) {
    // commander has already printed its own usage errors.
    if (err instanceof Error && 'exitCode' in err && typeof err.exitCode === 'number' && 'code' in err) {
      process.exitCode = err.code === 'commander.helpDisplayed' || err.code === 'commander.version' ? 0 : 125;
      return;
    }
    process.exitCode = reportError(err);
  }
}
