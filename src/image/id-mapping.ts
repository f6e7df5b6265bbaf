/**
 * User-namespace id mappings as the image side sees them: a container's ids 0..size-1 appear on
 * the host as hostID..hostID+size-1. A layer unpacked for a mapping has its owners shifted by
 * the offset, so the container sees its files owned by the ids the image says.
 */
import { TsdockError } from '../errors.js';

/** One contiguous range: container ids `0..size-1` are host ids `hostID..hostID+size-1`. */
export interface IdRange {
  hostID: number;
  size: number;
}

/** The uid and gid ranges of a user namespace. */
export interface IdMapping {
  uid: IdRange;
  gid: IdRange;
}

/**
 * The host id for a container id under `range` (the id itself without a mapping).
 *
 * @throws TsdockError `INVALID_ARGUMENT` when the id lies outside the mapping.
 */
export function mapId(range: IdRange | undefined, id: number, what: string): number {
  if (range === undefined) return id;
  if (id >= range.size) {
    throw new TsdockError(
      'INVALID_ARGUMENT',
      `${what} is owned by id ${id}, outside the user namespace mapping of ${range.size} ids; use a larger mapping`,
    );
  }
  return range.hostID + id;
}

/**
 * The suffix that keeps a mapping's unpacked layers apart from others': `-100000-65536`, or
 * `-100000-65536-200000-65536` when uid and gid ranges differ; empty without a mapping.
 *
 * @throws TsdockError `INVALID_ARGUMENT` for ranges that are not non-negative integers.
 */
export function mappingSuffix(mapping: IdMapping | undefined): string {
  if (mapping === undefined) return '';
  const { uid, gid } = mapping;
  for (const n of [uid.hostID, uid.size, gid.hostID, gid.size]) {
    if (!Number.isSafeInteger(n) || n < 0) throw new TsdockError('INVALID_ARGUMENT', `bad id mapping value ${n}`);
  }
  if (uid.size === 0 || gid.size === 0) throw new TsdockError('INVALID_ARGUMENT', 'empty id mapping');
  const same = uid.hostID === gid.hostID && uid.size === gid.size;
  return same ? `-${uid.hostID}-${uid.size}` : `-${uid.hostID}-${uid.size}-${gid.hostID}-${gid.size}`;
}
