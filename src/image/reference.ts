/**
 * Image references: `busybox`, `busybox:1.36`, `localhost:5000/team/app:v2@sha256:…`.
 *
 * The grammar is Docker's (distribution/reference), written out here from its published form:
 *
 * ```
 * reference      := name [ ":" tag ] [ "@" digest ]
 * name           := [ domain "/" ] path
 * domain         := host [ ":" port ]            host: DNS name, or [IPv6]
 * path           := component ( "/" component )*
 * component      := [a-z0-9]+ ( ( [._] | "__" | "-"+ ) [a-z0-9]+ )*
 * tag            := [A-Za-z0-9_] [A-Za-z0-9_.-]{0,127}
 * ```
 *
 * Normalisation follows Docker too: a first component is a domain only if it contains `.` or
 * `:`, is `localhost`, or has an upper-case letter; otherwise the domain is `docker.io`, where
 * one-component paths live under `library/`. A reference with neither tag nor digest gets
 * `:latest`. Every reference is validated here, before anything is built from it.
 */
import { TsdockError } from '../errors.js';
import { parseDigest, type Digest } from './digest.js';

/** A parsed, normalised image reference. */
export interface ImageReference {
  /** Registry host, with port when given: `docker.io`, `localhost:5000`, `[::1]:5000`. */
  readonly domain: string;
  /** Repository path in the registry: `library/busybox`. */
  readonly path: string;
  /** `latest` when the reference had neither tag nor digest. */
  readonly tag: string | undefined;
  readonly digest: Digest | undefined;
}

const DEFAULT_DOMAIN = 'docker.io';
const LEGACY_DEFAULT_DOMAIN = 'index.docker.io';
const OFFICIAL_PREFIX = 'library/';
const MAX_NAME_LENGTH = 255;

const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const HOST = `(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[a-fA-F0-9:]+\\])`;
const DOMAIN = new RegExp(`^${HOST}(?::[0-9]+)?$`);
const PATH_COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const PATH = new RegExp(`^${PATH_COMPONENT}(?:/${PATH_COMPONENT})*$`);
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$/;
const IMAGE_ID = /^[a-f0-9]{64}$/;

function invalid(input: string, reason: string): TsdockError {
  return new TsdockError('INVALID_ARGUMENT', `invalid reference "${input}": ${reason}`);
}

/** Splits `name` into (domain, path) the way Docker does, before validation. */
function splitDomain(name: string): [string, string] {
  const slash = name.indexOf('/');
  const first = name.slice(0, slash);
  const isDomain =
    slash !== -1 &&
    (first.includes('.') || first.includes(':') || first === 'localhost' || first !== first.toLowerCase());
  if (!isDomain) return [DEFAULT_DOMAIN, name];
  return [first === LEGACY_DEFAULT_DOMAIN ? DEFAULT_DOMAIN : first, name.slice(slash + 1)];
}

/**
 * Parses and normalises a reference.
 *
 * @throws TsdockError `INVALID_ARGUMENT` naming the input and what is wrong with it.
 * @example parseReference('busybox') // { domain: 'docker.io', path: 'library/busybox', tag: 'latest' }
 */
export function parseReference(input: string): ImageReference {
  if (input === '') throw invalid(input, 'empty');
  if (IMAGE_ID.test(input)) throw invalid(input, 'a 64-hex-digit image ID cannot be a repository name');

  let rest = input;
  let digest: Digest | undefined;
  const at = rest.indexOf('@');
  if (at !== -1) {
    const digestPart = rest.slice(at + 1);
    if (!DIGEST.test(digestPart)) throw invalid(input, 'malformed digest');
    digest = parseDigest(digestPart, 'INVALID_ARGUMENT', `invalid reference "${input}"`);
    rest = rest.slice(0, at);
  }

  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    if (!TAG.test(tag)) throw invalid(input, 'malformed tag');
    rest = rest.slice(0, colon);
  }

  if (rest === '') throw invalid(input, 'missing repository name');
  if (rest.length > MAX_NAME_LENGTH) throw invalid(input, `name longer than ${MAX_NAME_LENGTH} characters`);
  const [domain, remote] = splitDomain(rest);
  if (!DOMAIN.test(domain)) throw invalid(input, 'malformed registry domain');
  if (remote !== remote.toLowerCase()) throw invalid(input, 'repository name must be lowercase');
  if (!PATH.test(remote)) throw invalid(input, 'malformed repository name');
  const path = domain === DEFAULT_DOMAIN && !remote.includes('/') ? OFFICIAL_PREFIX + remote : remote;

  return { domain, path, tag: tag ?? (digest === undefined ? 'latest' : undefined), digest };
}

/** `docker.io/library/busybox`: the repository, without tag or digest. */
export function repositoryName(ref: ImageReference): string {
  return `${ref.domain}/${ref.path}`;
}

/** `busybox`: the repository the way Docker prints it. */
export function familiarRepository(ref: ImageReference): string {
  if (ref.domain !== DEFAULT_DOMAIN) return repositoryName(ref);
  const short = ref.path.slice(OFFICIAL_PREFIX.length);
  return ref.path.startsWith(OFFICIAL_PREFIX) && !short.includes('/') ? short : ref.path;
}

function withSuffix(repository: string, ref: ImageReference): string {
  return repository + (ref.tag === undefined ? '' : `:${ref.tag}`) + (ref.digest === undefined ? '' : `@${ref.digest}`);
}

/** `docker.io/library/busybox:latest`: the canonical string, the key the store uses. */
export function formatReference(ref: ImageReference): string {
  return withSuffix(repositoryName(ref), ref);
}

/** `busybox:latest`: the short form for display. */
export function familiarReference(ref: ImageReference): string {
  return withSuffix(familiarRepository(ref), ref);
}
