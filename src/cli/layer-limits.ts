/** `--layer-limits size=64g,file-size=64g,entries=4000000,depth=256` (also `TSDOCK_LAYER_LIMITS`). */
import { TsdockError } from '../errors.js';
import { LAYER_LIMIT_KEYS, type LayerLimits } from '../image/layer-limits.js';
import { parseBytes } from '../runtime/cgroups/limits.js';

const FLAG = '--layer-limits';

/** The caps a `--layer-limits` value sets; the others keep their defaults. */
export function parseLayerLimits(value: string | undefined): Partial<LayerLimits> {
  if (value === undefined || value === '') return {};
  const byName = new Map(Object.entries(LAYER_LIMIT_KEYS).map(([key, name]) => [name, key as keyof LayerLimits]));
  const limits: Partial<LayerLimits> = {};
  for (const item of value.split(',')) {
    const [name = '', text = ''] = item.split('=', 2);
    const key = byName.get(name);
    if (key === undefined || text === '') {
      throw new TsdockError(
        'INVALID_ARGUMENT',
        `invalid ${FLAG} "${item}": expected ${[...byName.keys()].map((n) => `${n}=N`).join(', ')}`,
      );
    }
    const n = key === 'maxSize' || key === 'maxEntrySize' ? parseBytes(FLAG, text) : Number(text);
    if (!Number.isSafeInteger(n) || n <= 0) {
      throw new TsdockError('INVALID_ARGUMENT', `invalid ${FLAG} "${item}": expected a positive number`);
    }
    limits[key] = n;
  }
  return limits;
}
