import { describe, expect, it } from 'vitest';
import { parseDigest, sha256Digest } from '../../src/image/digest.js';
import {
  addImage,
  emptyImagesFile,
  findImage,
  parseImagesFile,
  untag,
  type ImagesFile,
} from '../../src/image/image-index.js';
import { failure } from '../helpers/errors.js';

const idA = sha256Digest('config A'); // sha256:4f…
const idB = sha256Digest('config B');
const mA = sha256Digest('manifest A');
const mB = sha256Digest('manifest B');
const BUSYBOX = 'docker.io/library/busybox:latest';

function sample(): ImagesFile {
  const file = emptyImagesFile();
  addImage(file, idA, mA, '2024-01-01T00:00:00Z', [BUSYBOX, 'docker.io/library/busybox:1.36']);
  addImage(file, idB, mB, '2024-02-01T00:00:00Z', ['localhost:5000/app:v1']);
  return file;
}

describe('findImage', () => {
  it.each([
    ['busybox', idA, BUSYBOX],
    ['busybox:latest', idA, BUSYBOX],
    ['docker.io/library/busybox:1.36', idA, 'docker.io/library/busybox:1.36'],
    ['localhost:5000/app:v1', idB, 'localhost:5000/app:v1'],
    [idA, idA, undefined],
    [idB.slice(7), idB, undefined],
    [idB.slice(7, 19), idB, undefined],
    [`busybox@${mA}`, idA, undefined],
  ])('%s -> the right image', (input, id, name) => {
    const found = findImage(sample(), input);
    expect(found.id).toBe(id);
    expect(found.name).toBe(name);
  });

  it.each([
    ['busybox:1.0', 'image not found: busybox:1.0; load or pull it first (tsdock load -i FILE)'],
    ['alpine', 'image not found: alpine:latest; load or pull it first (tsdock load -i FILE)'],
    [`sha256:${'0'.repeat(64)}`, `image not found: sha256:${'0'.repeat(64)};`],
    [`app@${mB}`, `image not found: app@${mB};`],
    [`busybox@${mB}`, `image not found: busybox@${mB};`],
  ])('%s is not found', (input, message) => {
    const err = failure(() => findImage(sample(), input));
    expect(err.code).toBe('IMAGE_NOT_FOUND');
    expect(err.message).toContain(message);
    expect(err.message).not.toContain('\n');
  });

  it('refuses a malformed reference, and an ambiguous ID prefix', () => {
    expect(failure(() => findImage(sample(), 'Bad Name')).code).toBe('INVALID_ARGUMENT');
    const file = emptyImagesFile();
    const ab = parseDigest(`sha256:ab${'0'.repeat(62)}`, 'STORE', 'test');
    const ac = parseDigest(`sha256:ac${'0'.repeat(62)}`, 'STORE', 'test');
    addImage(file, ab, mA, '', []);
    addImage(file, ac, mB, '', []);
    const err = failure(() => findImage(file, 'a'));
    expect(err.code).toBe('INVALID_ARGUMENT');
    expect(err.message).toBe('image ID prefix a is ambiguous (2 images)');
    expect(findImage(file, 'ab').id).toBe(ab);
    expect(findImage(file, 'ac0').id).toBe(ac);
  });
});

describe('names', () => {
  it('moves a name to the image that takes it, leaving the old one nameless but present', () => {
    const file = sample();
    addImage(file, idB, mB, '2024-02-01T00:00:00Z', [BUSYBOX]);
    expect(file.images[idA]?.names).toEqual(['docker.io/library/busybox:1.36']);
    expect(file.images[idB]?.names).toEqual(['localhost:5000/app:v1', BUSYBOX]);
    expect(untag(file, 'docker.io/library/busybox:1.36')).toBe(idA);
    expect(file.images[idA]?.names).toEqual([]);
    expect(untag(file, 'docker.io/library/nothing:latest')).toBeUndefined();
  });

  it('adding an image again updates its manifest and keeps its names', () => {
    const file = sample();
    const other = sha256Digest('manifest A2');
    addImage(file, idA, other, 'later', []);
    expect(file.images[idA]).toEqual({
      manifest: other,
      created: '2024-01-01T00:00:00Z',
      names: [BUSYBOX, 'docker.io/library/busybox:1.36'],
    });
  });
});

describe('parseImagesFile', () => {
  it('round-trips', () => {
    const file = sample();
    expect(parseImagesFile(Buffer.from(JSON.stringify(file)), 'images.json')).toEqual(file);
  });

  it.each([
    ['not JSON', '{'],
    ['another version', JSON.stringify({ version: 2, images: {} })],
    ['a bad ID', JSON.stringify({ version: 1, images: { x: { manifest: mA, created: '', names: [] } } })],
    ['a bad manifest', JSON.stringify({ version: 1, images: { [idA]: { manifest: 'x', created: '', names: [] } } })],
    ['bad names', JSON.stringify({ version: 1, images: { [idA]: { manifest: mA, created: '', names: [1] } } })],
    ['a null record', JSON.stringify({ version: 1, images: { [idA]: null } })],
  ])('refuses %s', (_what, text) => {
    const err = failure(() => parseImagesFile(Buffer.from(text), '/var/lib/tsdock/images.json'));
    expect(err.code).toBe('STORE');
    expect(err.message).toBe('/var/lib/tsdock/images.json: corrupt image index');
  });
});
