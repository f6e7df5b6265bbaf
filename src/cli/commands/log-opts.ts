/** `--log-opt max-size=10m --log-opt max-file=3`: rotation of the json-file log. */
import { TsdockError } from '../../errors.js';
import { parseBytes } from '../../runtime/cgroups/limits.js';
import type { LogConfig } from '../../runtime/container-record.js';

export function parseLogOpts(opts: string[]): LogConfig {
  const config: LogConfig = {};
  for (const opt of opts) {
    const eq = opt.indexOf('=');
    const key = opt.slice(0, Math.max(0, eq));
    const value = opt.slice(eq + 1);
    if (key === 'max-size') {
      config.maxSize = parseBytes('--log-opt max-size', value);
      if (config.maxSize === 0)
        throw new TsdockError('INVALID_ARGUMENT', `invalid --log-opt "${opt}": must be above 0`);
    } else if (key === 'max-file' && /^\d+$/.test(value) && Number(value) >= 1 && Number(value) <= 1000) {
      config.maxFile = Number(value);
    } else {
      throw new TsdockError(
        'INVALID_ARGUMENT',
        `invalid --log-opt "${opt}": expected max-size=SIZE (e.g. 10m) or max-file=N (1 to 1000)`,
      );
    }
  }
  if (config.maxFile !== undefined && config.maxFile > 1 && config.maxSize === undefined) {
    throw new TsdockError('INVALID_ARGUMENT', '--log-opt max-file needs max-size: without it the log never rotates');
  }
  return config;
}
