/**
 * Where `linux.cgroupsPath` puts a container, as the parent and name tsdock's cgroup layout takes
 * (`runtime/cgroups/layout.ts`): an absolute path is taken from each hierarchy's root, a relative
 * one from this process's own cgroup, and systemd's `slice:prefix:name` form names the path
 * systemd would give the unit (`/system.slice/prefix-name.scope`). Pure.
 */
import { TsdockError } from '../errors.js';

export interface CgroupPlace {
  parent: string;
  name: string;
}

/** runc's default when a spec names no path. */
const DEFAULT_PARENT = '/tsdock-runtime';

function invalid(path: string, expected: string): TsdockError {
  return new TsdockError('INVALID_ARGUMENT', `config.json: linux.cgroupsPath "${path}": expected ${expected}`);
}

/** `a-b-c.slice` lives at `/a.slice/a-b.slice/a-b-c.slice` (systemd.slice(5)); `-.slice` is the root. */
export function expandSlice(slice: string): string {
  if (!slice.endsWith('.slice') || slice.includes('/')) throw invalid(slice, 'a slice name ending in .slice');
  if (slice === '-.slice') return '';
  const parts = slice.slice(0, -'.slice'.length).split('-');
  if (parts.some((p) => p === '')) throw invalid(slice, 'a slice name without empty dash-separated parts');
  return parts.map((_, i) => `/${parts.slice(0, i + 1).join('-')}.slice`).join('');
}

export function cgroupPlace(cgroupsPath: string | undefined, id: string): CgroupPlace {
  if (cgroupsPath === undefined || cgroupsPath === '') return { parent: DEFAULT_PARENT, name: id };
  const systemd = /^([^:/]*):([^:/]+):([^:/]+)$/.exec(cgroupsPath);
  if (systemd !== null) {
    const [, slice = '', prefix = '', name = ''] = systemd;
    return { parent: expandSlice(slice === '' ? 'system.slice' : slice) || '/', name: `${prefix}-${name}.scope` };
  }
  const components = cgroupsPath.split('/').filter((c) => c !== '');
  const name = components.pop();
  if (name === undefined || (components.length === 0 && !cgroupsPath.startsWith('/'))) {
    throw invalid(cgroupsPath, 'an absolute path (/a/b), a path with a parent (a/b), or slice:prefix:name');
  }
  const parent = components.join('/');
  return { parent: cgroupsPath.startsWith('/') ? `/${parent}` : parent, name };
}
