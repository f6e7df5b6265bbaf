/**
 * ADD's remote sources: a URL fetched with undici into the build's scratch space, named after
 * the URL's last path segment, mode 0600 and the server's Last-Modified as its mtime (Docker's
 * rules). Redirects are followed; anything but a final 200 fails the step.
 */
import { chmod, mkdtemp, utimes } from 'node:fs/promises';
import { createWriteStream } from 'node:fs';
import { join, posix } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { request } from 'undici';
import { TsdockError } from '../errors.js';

export interface DownloadedFile {
  /** A fresh directory holding only the file. */
  dir: string;
  name: string;
}

const MAX_REDIRECTS = 10;

export async function downloadUrl(url: string, scratch: string, signal?: AbortSignal): Promise<DownloadedFile> {
  let current = url;
  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    const response = await request(current, { method: 'GET', signal }).catch((err: unknown) => {
      throw new TsdockError('BUILD_FAILED', `ADD ${url}: ${(err as Error).message}`, { cause: err });
    });
    const location = response.headers.location;
    if (response.statusCode >= 300 && response.statusCode < 400 && typeof location === 'string') {
      await response.body.dump();
      current = new URL(location, current).toString();
      continue;
    }
    if (response.statusCode !== 200) {
      await response.body.dump();
      throw new TsdockError('BUILD_FAILED', `ADD ${url}: the server answered HTTP ${response.statusCode}`);
    }
    const name = posix.basename(new URL(current).pathname) || 'download';
    const dir = await mkdtemp(join(scratch, 'add-'));
    const file = join(dir, name);
    await pipeline(response.body, createWriteStream(file, { mode: 0o600 }));
    await chmod(file, 0o600);
    const modified = response.headers['last-modified'];
    const mtime = typeof modified === 'string' ? Date.parse(modified) : Number.NaN;
    if (!Number.isNaN(mtime)) await utimes(file, mtime / 1000, mtime / 1000);
    return { dir, name };
  }
  throw new TsdockError('BUILD_FAILED', `ADD ${url}: more than ${MAX_REDIRECTS} redirects`);
}
