/**
 * The lifecycle flags a container's monitor starts with (native/src/monitor/main.c): where its
 * events go and how they name the container, its restart policy, its health check, whether it is removed once over, and, for a
 * detached `--rm` container, the exit command that removes it once it is over — no Node process
 * waits for that.
 */
import { dirname, join } from 'node:path';
import { cliPath } from '../native.js';
import type { ContainerRecord } from './container-record.js';
import { DEFAULT_STOP_TIMEOUT, parseSignal } from './container-ops.js';
import { actorOf, eventsFileOf } from './events.js';
import { HEALTH_PLAN_FILE, healthMonitorArgs } from './healthcheck.js';
import { NO_RESTART, restartArg } from './restart-policy.js';

export function monitorLifecycleArgs(containersRoot: string, record: ContainerRecord, detached: boolean): string[] {
  const actor = JSON.stringify(actorOf(record)).slice(1, -1);
  const args = ['--events', eventsFileOf(containersRoot), '--event-actor', actor];
  const policy = record.restartPolicy ?? NO_RESTART;
  if (policy.name !== 'no') args.push('--restart', restartArg(policy));
  if (record.healthcheck !== undefined) {
    const planFile = join(containersRoot, record.id, HEALTH_PLAN_FILE);
    const stop = {
      signal: parseSignal(record.stopSignal ?? 'SIGTERM'),
      timeoutSeconds: record.stopTimeout ?? DEFAULT_STOP_TIMEOUT,
    };
    args.push(...healthMonitorArgs(record.healthcheck, planFile, stop));
  }
  // Its exit file needs no fsync: nothing of a `--rm` container outlives a machine crash.
  if (record.autoRemove) args.push('--auto-remove');
  if (detached && record.autoRemove) {
    const rm = [process.execPath, cliPath(), '--root', dirname(containersRoot), 'rm', record.id];
    for (const arg of rm) args.push('--exit-command', arg);
  }
  return args;
}
