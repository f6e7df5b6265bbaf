/**
 * The lifecycle flags a container's monitor starts with (native/src/monitor/main.c): where its
 * events go and how they name the container, its restart policy, and, for a detached `--rm`
 * container, the exit command that removes it once it is over — no Node process waits for that.
 */
import { dirname } from 'node:path';
import { cliPath } from '../native.js';
import type { ContainerRecord } from './container-record.js';
import { actorOf, eventsFileOf } from './events.js';
import { NO_RESTART, restartArg } from './restart-policy.js';

export function monitorLifecycleArgs(containersRoot: string, record: ContainerRecord, detached: boolean): string[] {
  const actor = JSON.stringify(actorOf(record)).slice(1, -1);
  const args = ['--events', eventsFileOf(containersRoot), '--event-actor', actor];
  const policy = record.restartPolicy ?? NO_RESTART;
  if (policy.name !== 'no') args.push('--restart', restartArg(policy));
  if (detached && record.autoRemove) {
    const rm = [process.execPath, cliPath(), '--root', dirname(containersRoot), 'rm', record.id];
    for (const arg of rm) args.push('--exit-command', arg);
  }
  return args;
}
