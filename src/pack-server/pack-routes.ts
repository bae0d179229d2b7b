/**
 * How pack-server URLs and conditional-request headers map to files in DIR.
 *
 * The naming rule: a pack is the file `DIR/NAME.tar.gz`; its URL is
 * `/v1/policy/packs/NAME` and its signature, `DIR/NAME.tar.gz.sigstore.json`,
 * is at `/v1/policy/packs/NAME.sigstore.json`. The file names themselves
 * (`NAME.tar.gz`, `NAME.tar.gz.sigstore.json`) are accepted as URL names too,
 * so a URL written for a static web server over the same folder also works.
 * NAME is restricted to `[A-Za-z0-9._-]+`; a URL only ever selects among the
 * files the index holds, it is never joined into a filesystem path.
 */

/** Where packs are served. */
export const PACKS_PREFIX = '/v1/policy/packs/';

const URL_NAME = /^[A-Za-z0-9._-]+$/;
const PACK_SUFFIX = '.tar.gz';
const SIGNATURE_SUFFIX = '.sigstore.json';

/** The file in DIR that a request path names, or undefined when it names none. */
export function fileForPath(rawUrl: string): string | undefined {
  const path = rawUrl.split('?', 1)[0] ?? '';
  if (!path.startsWith(PACKS_PREFIX)) return undefined;
  let name: string;
  try {
    name = decodeURIComponent(path.slice(PACKS_PREFIX.length));
  } catch {
    return undefined;
  }
  if (!URL_NAME.test(name)) return undefined;
  const signature = name.endsWith(SIGNATURE_SUFFIX);
  const base = stripSuffix(signature ? name.slice(0, -SIGNATURE_SUFFIX.length) : name, PACK_SUFFIX);
  if (base === '' || base === '.' || base === '..') return undefined;
  return `${base}${PACK_SUFFIX}${signature ? SIGNATURE_SUFFIX : ''}`;
}

/** The Content-Type of a served file. */
export function contentTypeOf(file: string): string {
  return file.endsWith(SIGNATURE_SUFFIX) ? 'application/json' : 'application/gzip';
}

/**
 * True when an `If-None-Match` header matches the ETag: `*`, or a list of entity
 * tags (RFC 9110 13.1.2) one of which equals it by weak comparison (`W/` ignored
 * on both sides). Agents send a list: the active pack's tag and, after a refusal,
 * the refused pack's, so a server still serving either answers 304.
 */
export function noneMatch(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  if (header.trim() === '*') return true;
  const opaque = (t: string): string => t.replace(/^W\//, '');
  // Entity tags are quoted and may hold commas: match them, do not split on commas.
  return (header.match(/(?:W\/)?"[^"]*"/g) ?? []).some((t) => opaque(t) === opaque(etag));
}

/** Seconds to hold a request from `Prefer: wait=N` (RFC 7240), capped at maxSeconds; 0 when absent. */
export function preferredWait(header: string | string[] | undefined, maxSeconds: number): number {
  const value = Array.isArray(header) ? header.join(',') : (header ?? '');
  const match = /(?:^|[,;])\s*wait\s*=\s*"?(\d{1,9})"?\s*(?:$|[,;])/i.exec(value);
  if (match?.[1] === undefined) return 0;
  return Math.min(Number(match[1]), maxSeconds);
}

// NAME.tar.gz → NAME; anything else unchanged.
function stripSuffix(name: string, suffix: string): string {
  return name.endsWith(suffix) ? name.slice(0, -suffix.length) : name;
}
