/**
 * Resolves Docker's `-u user[:group]` against the image's /etc/passwd and /etc/group, the way
 * Docker does: names must exist, numeric ids work without the files, and the user's
 * supplementary groups come from /etc/group.
 */
import { TsdockError } from '../errors.js';

export interface ResolvedUser {
  uid: number;
  gid: number;
  additionalGids: number[];
  /** The passwd home directory, `/` when the user has no passwd entry. */
  home: string;
}

interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

const ID = /^\d+$/;
const MAX_ID = 2 ** 32 - 2;

function parseId(text: string): number | undefined {
  if (!ID.test(text)) return undefined;
  const n = Number(text);
  return n <= MAX_ID ? n : undefined;
}

function lines(text: string): string[][] {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '' && !l.startsWith('#'))
    .map((l) => l.split(':'));
}

export function parsePasswd(text: string): PasswdEntry[] {
  return lines(text).flatMap(([name = '', , uid = '', gid = '', , home = '']) => {
    const u = parseId(uid);
    const g = parseId(gid);
    return u === undefined || g === undefined ? [] : [{ name, uid: u, gid: g, home: home || '/' }];
  });
}

export function parseGroup(text: string): GroupEntry[] {
  return lines(text).flatMap(([name = '', , gid = '', members = '']) => {
    const g = parseId(gid);
    return g === undefined ? [] : [{ name, gid: g, members: members.split(',').filter(Boolean) }];
  });
}

/**
 * @param spec `-u` as given (`""` means the image's default, root).
 * @example resolveUser('nobody', passwd, group) // { uid: 65534, gid: 65534, … }
 */
export function resolveUser(spec: string, passwdText: string, groupText: string): ResolvedUser {
  const [userPart = '', groupPart] = spec === '' ? ['0'] : spec.split(':', 2);
  const passwd = parsePasswd(passwdText);
  const groups = parseGroup(groupText);

  const numericUid = parseId(userPart);
  const entry = passwd.find((p) => (numericUid === undefined ? p.name === userPart : p.uid === numericUid));
  const uid = entry?.uid ?? numericUid;
  if (uid === undefined) {
    throw new TsdockError('INVALID_ARGUMENT', `unable to find user ${userPart}: no matching entries in passwd file`);
  }

  let gid = entry?.gid ?? 0;
  if (groupPart !== undefined && groupPart !== '') {
    const numericGid = parseId(groupPart);
    const group = groups.find((g) => (numericGid === undefined ? g.name === groupPart : g.gid === numericGid));
    const found = group?.gid ?? numericGid;
    if (found === undefined) {
      throw new TsdockError('INVALID_ARGUMENT', `unable to find group ${groupPart}: no matching entries in group file`);
    }
    gid = found;
  }

  const additionalGids =
    entry === undefined || groupPart !== undefined
      ? []
      : groups.filter((g) => g.members.includes(entry.name) && g.gid !== gid).map((g) => g.gid);
  return { uid, gid, additionalGids: [...new Set(additionalGids)], home: entry?.home ?? '/' };
}
