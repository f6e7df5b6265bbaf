/**
 * A tiny orchestrator on the tsdock library: keeps N replicas of a container running and starts
 * each one again when it exits, until it is closed. No daemon is involved: the containers keep
 * running if this process dies, and the next `ReplicaSet` on the same root adopts them by name.
 *
 * Run it (as root, with the busybox image loaded; `make build` compiles it to dist/examples):
 *
 *     node dist/examples/replicas.js busybox 3 -- sleep 3600
 *
 * @example
 * ```ts
 * const set = new ReplicaSet(await Runtime.open(), { name: 'web', image: 'busybox', replicas: 3 });
 * await set.start();
 * // … later
 * await set.close();
 * ```
 */
import { Runtime, TsdockError, type CreateOptions } from 'tsdock';

export interface ReplicaSpec {
  /** Replicas are the containers `<name>-0` … `<name>-<replicas - 1>`. */
  name: string;
  image: string;
  replicas: number;
  /** How each replica is created (command, limits, network, pod, …). */
  options?: Omit<CreateOptions, 'name'>;
}

/** N replicas kept running: their `die` events (the monitor records them) start them again. */
export class ReplicaSet {
  private readonly stopping = new AbortController();
  private supervisor: Promise<void> = Promise.resolve();

  constructor(
    private readonly runtime: Runtime,
    private readonly spec: ReplicaSpec,
  ) {}

  /** The replicas' container names. */
  get names(): string[] {
    return Array.from({ length: this.spec.replicas }, (_, i) => `${this.spec.name}-${String(i)}`);
  }

  /** Starts (or adopts) every replica and resolves once all of them run. */
  async start(): Promise<void> {
    // Events are replayed from here: a replica that dies while the others start is not missed.
    const since = Date.now();
    await Promise.all(this.names.map((name) => this.ensureRunning(name)));
    this.supervisor = this.supervise(since);
  }

  /** How many replicas run now. */
  async running(): Promise<number> {
    const names = new Set(this.names);
    return (await this.runtime.list()).filter((c) => names.has(c.record.name)).length;
  }

  /** Stops supervising, then stops and removes every replica. */
  async close(timeoutSeconds = 10): Promise<void> {
    this.stopping.abort();
    await this.supervisor;
    await Promise.all(this.names.map((name) => this.runtime.stop(name, { timeout: timeoutSeconds }).catch(notFound)));
    await Promise.all(this.names.map((name) => this.runtime.remove(name, { force: true }).catch(notFound)));
  }

  /** Starts each replica again when it dies, until `close`. */
  private async supervise(since: number): Promise<void> {
    const names = new Set(this.names);
    const deaths = this.runtime.events({ since, filters: { event: ['die'] }, signal: this.stopping.signal });
    for await (const event of deaths) {
      if (!names.has(event.name) || event.action !== 'die') continue;
      console.error(`replica ${event.name} exited with ${String(event.exitCode)}; starting it again`);
      await this.ensureRunning(event.name);
    }
  }

  /** Creates the replica if it does not exist, and starts it if it does not run. */
  private async ensureRunning(name: string): Promise<void> {
    try {
      await this.runtime.startContainer(name);
    } catch (err) {
      if (!(err instanceof TsdockError) || err.code !== 'CONTAINER_NOT_FOUND') throw err;
      await this.runtime.runDetached(this.spec.image, { ...this.spec.options, name });
    }
  }
}

/** A replica someone else removed is no error while shutting down. */
function notFound(err: unknown): void {
  if (!(err instanceof TsdockError) || err.code !== 'CONTAINER_NOT_FOUND') throw err;
}

async function main(argv: string[]): Promise<void> {
  const [image = 'busybox', count = '3', dashes, ...command] = argv;
  const set = new ReplicaSet(await Runtime.open(), {
    name: 'replica',
    image,
    replicas: Number(count),
    options: { command: dashes === '--' ? command : ['sleep', '3600'] },
  });
  await set.start();
  console.error(`${count} replicas of ${image} running; Ctrl-C stops and removes them`);
  await new Promise((resolve) => process.once('SIGINT', resolve));
  await set.close();
}

if (import.meta.filename === process.argv[1]) await main(process.argv.slice(2));
