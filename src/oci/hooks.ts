/**
 * Runtime-spec hooks: each runs with the container's state JSON on stdin, in order, and a hook
 * that fails or outlives its timeout fails the operation (poststart and poststop ones are only
 * reported, as the spec asks). These are the kinds that run in the runtime's namespaces
 * (prestart, createRuntime, poststart, poststop); createContainer and startContainer run in the
 * container's, started by the init itself (native/src/core/hooks.c).
 */
import { spawnSync } from 'node:child_process';
import { TsdockError } from '../errors.js';
import type { HookKind, OciHooks } from './spec.js';

function envOf(list: string[] | undefined): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const entry of list ?? []) {
    const eq = entry.indexOf('=');
    if (eq > 0) env[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  return env;
}

/** Runs the hooks of one kind; throws on the first failure. */
export function runHooks(hooks: OciHooks | undefined, kind: HookKind, state: Record<string, unknown>): void {
  const input = JSON.stringify(state);
  for (const hook of hooks?.[kind] ?? []) {
    const result = spawnSync(hook.path, hook.args?.slice(1) ?? [], {
      argv0: hook.args?.[0] ?? hook.path,
      env: envOf(hook.env),
      input,
      stdio: ['pipe', 'pipe', 'pipe'],
      timeout: hook.timeout === undefined ? undefined : hook.timeout * 1000,
      killSignal: 'SIGKILL',
    });
    // A hook that does not read its stdin may exit before the state is written: EPIPE is no failure.
    const spawnError: NodeJS.ErrnoException | undefined = result.error;
    const error = spawnError?.code === 'EPIPE' ? undefined : spawnError;
    const why =
      error !== undefined
        ? error.message
        : result.signal !== null
          ? `killed by ${result.signal}${hook.timeout === undefined ? '' : ` (timeout ${String(hook.timeout)}s)`}`
          : result.status !== 0
            ? `exit status ${String(result.status)}`
            : undefined;
    if (why !== undefined) {
      // null when the hook could not even be spawned.
      const stderr = (result.stderr as Buffer | null)?.toString().trim() ?? '';
      throw new TsdockError('START_FAILED', `${kind} hook ${hook.path} failed: ${why}${stderr ? `: ${stderr}` : ''}`);
    }
  }
}
