/**
 * What happened to containers, as typed events. No daemon sees every change, so whoever makes
 * one appends it to the root's `events.jsonl`: the library for what a caller does (create,
 * kill, stop, pause, destroy, exec), the monitor for what happens to the process (start, die,
 * oom, health_status; native/src/monitor/events.c). Each event is one JSON line written with a
 * single O_APPEND write(2), so writers never interleave inside a line. A reader replays the file
 * and follows it, across its rotation, like a container log (`container-logs.ts`).
 */
import { appendFileSync, renameSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { TsdockError } from '../errors.js';
import type { ExitReason } from './container-record.js';
import { readLogs } from './container-logs.js';

/** A health check's verdict (Docker's `State.Health.Status`). */
export type HealthStatus = 'starting' | 'healthy' | 'unhealthy';

/** What every container event carries: when, and which container (its name and image then). */
export interface ContainerEventBase {
  type: 'container';
  /** RFC 3339, UTC, nanoseconds: `2026-11-25T21:00:00.123456789Z`. */
  time: string;
  id: string;
  name: string;
  image: string;
}

/** A container event, by action. */
export type ContainerEvent = ContainerEventBase &
  (
    | { action: 'create' | 'start' | 'destroy' | 'pause' | 'unpause' | 'stop' | 'restart' | 'oom' }
    | { action: 'die'; exitCode: number; signal: number; reason: ExitReason }
    | { action: 'kill'; signal: number }
    | { action: 'health_status'; status: HealthStatus }
    | { action: 'exec_create' | 'exec_start'; execId: string; command: string[] }
    | { action: 'exec_die'; execId: string; exitCode: number }
  );

/** Every event tsdock records. */
export type TsdockEvent = ContainerEvent;

export type EventAction = TsdockEvent['action'];

/** The container an event is about, as the emitter knows it. */
export interface EventActor {
  id: string;
  name: string;
  image: string;
}

/** A container as its events name it. */
export function actorOf(record: EventActor): EventActor {
  return { id: record.id, name: record.name, image: record.image };
}

/** Distributes the union over an Omit, so each action keeps its own fields. */
type EventBody<E> = E extends ContainerEvent ? Omit<E, keyof ContainerEventBase> : never;
export type ContainerEventBody = EventBody<ContainerEvent>;

export const EVENTS_FILE = 'events.jsonl';

/** Past this size the file is renamed to `events.jsonl.1` (one generation kept). */
const MAX_EVENTS_FILE = 4 << 20;

/** The root's events file; `containersRoot` is `$ROOT/containers`. */
export function eventsFileOf(containersRoot: string): string {
  return join(dirname(containersRoot), EVENTS_FILE);
}

/** Now, with the nanosecond field Docker prints (the clock gives microseconds here). */
export function eventTime(now = performance.timeOrigin + performance.now()): string {
  const ms = Math.floor(now);
  const nanos = Math.round((now - ms) * 1e6);
  const iso = new Date(ms).toISOString(); // 2026-11-25T21:00:00.123Z
  return `${iso.slice(0, 23)}${String(nanos).padStart(6, '0')}Z`;
}

function rotateIfFull(file: string): void {
  try {
    if (statSync(file).size < MAX_EVENTS_FILE) return;
    renameSync(file, `${file}.1`);
  } catch (err) {
    // Missing (first event), or another writer rotated it first.
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

/**
 * Records one event. Never fails the operation it reports on: a full disk loses the event, not
 * the container.
 */
export function recordEvent(containersRoot: string, actor: EventActor, body: ContainerEventBody): void {
  const file = eventsFileOf(containersRoot);
  const event = { type: 'container', time: eventTime(), ...actor, ...body } as ContainerEvent;
  try {
    rotateIfFull(file);
    appendFileSync(file, JSON.stringify(event) + '\n', { mode: 0o600 });
  } catch {
    // See above.
  }
}

/** `--filter key=value`: values of one key are alternatives; different keys must all match. */
export type EventFilters = Partial<Record<'container' | 'event' | 'type' | 'image', string[]>>;

const FILTER_KEYS = ['container', 'event', 'type', 'image'] as const;

/**
 * Docker's `--filter` strings to {@link EventFilters}.
 *
 * @throws TsdockError `INVALID_ARGUMENT` for a malformed filter or an unknown key.
 */
export function parseEventFilters(specs: string[]): EventFilters {
  const out: EventFilters = {};
  for (const spec of specs) {
    const eq = spec.indexOf('=');
    const key = spec.slice(0, Math.max(eq, 0));
    if (eq <= 0 || !(FILTER_KEYS as readonly string[]).includes(key)) {
      throw new TsdockError(
        'INVALID_ARGUMENT',
        `invalid filter "${spec}": expected ${FILTER_KEYS.map((k) => `${k}=…`).join(', ')}`,
      );
    }
    const k = key as (typeof FILTER_KEYS)[number];
    out[k] = [...(out[k] ?? []), spec.slice(eq + 1)];
  }
  return out;
}

/** Whether `event` passes every filter; `container` matches a name, an id or an id prefix. */
export function matchesFilters(event: TsdockEvent, filters: EventFilters): boolean {
  const any = (values: string[] | undefined, test: (v: string) => boolean): boolean =>
    values === undefined || values.some(test);
  return (
    any(filters.type, (v) => v === event.type) &&
    any(filters.event, (v) => v === event.action) &&
    any(filters.image, (v) => v === event.image) &&
    any(filters.container, (v) => v === event.name || (v.length > 0 && event.id.startsWith(v)))
  );
}

export interface ReadEventsOptions {
  /** Replay events from this time on (ms since the epoch); without it only new events come. */
  since?: number;
  /** Stop at this time (ms since the epoch); without it, follow until `signal` aborts. */
  until?: number;
  filters?: EventFilters;
  signal?: AbortSignal;
}

function timeOf(event: TsdockEvent): number {
  return Date.parse(event.time.replace(/(\.\d{3})\d*Z$/, '$1Z'));
}

/**
 * The root's events: those since `since`, then new ones as they are recorded, until `until`
 * passes or `signal` aborts.
 *
 * @example for await (const e of readEvents(root, { filters: { event: ['die'] } })) console.log(e.id, e.action);
 */
export async function* readEvents(
  containersRoot: string,
  options: ReadEventsOptions = {},
): AsyncGenerator<TsdockEvent> {
  const { since, until, filters = {} } = options;
  const follow = until === undefined || until > Date.now();
  const running = (): boolean => options.signal?.aborted !== true && (until === undefined || Date.now() <= until);
  const entries = readLogs<TsdockEvent>(eventsFileOf(containersRoot), 2, {
    follow,
    since,
    tail: since === undefined ? 0 : undefined,
    running,
    signal: options.signal,
  });
  for await (const event of entries) {
    if (until !== undefined && timeOf(event) > until) return;
    if (matchesFilters(event, filters)) yield event;
  }
}

/** Docker's attribute list for an event (`exitCode=1, image=busybox, name=web`), sorted by key. */
export function eventAttributes(event: TsdockEvent): Record<string, string> {
  const attrs: Record<string, string> = { image: event.image, name: event.name };
  for (const [key, value] of Object.entries(event)) {
    if (['type', 'time', 'id', 'action', 'name', 'image', 'status', 'command'].includes(key)) continue;
    attrs[key] = String(value);
  }
  return Object.fromEntries(Object.entries(attrs).sort(([a], [b]) => a.localeCompare(b)));
}

/** Docker's action text: `health_status: healthy`, `exec_create: sh -c true`. */
export function eventActionText(event: TsdockEvent): string {
  if (event.action === 'health_status') return `health_status: ${event.status}`;
  if (event.action === 'exec_create' || event.action === 'exec_start') {
    return `${event.action}: ${event.command.join(' ')}`;
  }
  return event.action;
}

/** One line as `docker events` prints it. */
export function renderEvent(event: TsdockEvent): string {
  const attrs = Object.entries(eventAttributes(event))
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
  return `${event.time} ${event.type} ${eventActionText(event)} ${event.id} (${attrs})`;
}

/**
 * The JSON line `docker events --format '{{json .}}'` prints. `timeNano` exceeds a double's
 * integer range, so it is spliced in as digits.
 */
export function renderEventJson(event: TsdockEvent): string {
  const seconds = Math.floor(timeOf(event) / 1000);
  const nanos = (/\.(\d+)Z$/.exec(event.time)?.[1] ?? '').padEnd(9, '0').slice(0, 9);
  const action = eventActionText(event);
  const json = JSON.stringify({
    status: action,
    id: event.id,
    from: event.image,
    Type: event.type,
    Action: action,
    Actor: { ID: event.id, Attributes: eventAttributes(event) },
    scope: 'local',
    time: seconds,
  });
  return `${json.slice(0, -1)},"timeNano":${String(seconds)}${nanos}}`;
}
