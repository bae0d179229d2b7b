/**
 * Public keys that verify tenant tokens (docs/design.md#governance). A source is a JWKS file
 * (jwks-file.ts) or a JWKS URL (here): jose caches the fetched set and refetches
 * it on an unknown kid, at most once per cooldown. Sources hold public keys
 * only: a JWKS with a secret (`oct`) or private key is refused, so an HMAC
 * algorithm can never be satisfied by them (the validator also refuses to pin one).
 */
import { createRemoteJWKSet, customFetch, errors } from 'jose';
import type { CryptoKey, FetchImplementation, FlattenedJWSInput, JSONWebKeySet, JWSHeaderParameters } from 'jose';
import { WardenError, messageOf } from '../../errors.js';
import { JwksListeners, type JwksChangeListener } from './jwks-diff.js';

/** Largest JWKS document read from a file or URL. */
export const MAX_JWKS_BYTES = 1024 * 1024;
/** Most keys one JWKS may hold. */
export const MAX_JWKS_KEYS = 100;

/** A source of public verification keys, chosen by the token header's `kid` and `alg`. */
export interface JwksSource {
  /**
   * The key for a token with this header. Rejects with jose's JWKSNoMatchingKey /
   * JWKSMultipleMatchingKeys when no single key fits, or JWKS_UNAVAILABLE when
   * the keys cannot be had.
   */
  getKey(header: JWSHeaderParameters, token: FlattenedJWSInput): Promise<CryptoKey>;
  /** Stops watching the file; the source must not be used afterwards. */
  close(): void;
  /**
   * Calls `listener` after the key set changed (a file re-read, a URL refetched)
   * with the kids the change affects (jwks-diff.ts); returns the function that stops it.
   */
  onChange?(listener: JwksChangeListener): () => void;
}

export interface JwksUrlOptions {
  /** Time limit of one fetch. Default 5 s. */
  timeoutMs?: number;
  /** Least time between fetches caused by an unknown kid. Default 30 s. */
  cooldownMs?: number;
  /** Refetch the set when it is older than this. Default 10 min. */
  cacheMaxAgeMs?: number;
}

const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k'] as const;
const PUBLIC_KTY = new Set(['RSA', 'EC', 'OKP']);

/** Parses and checks a JWKS document: public RSA/EC/OKP keys only, within the limits. */
export function parseJwks(text: string, origin: string): JSONWebKeySet {
  const fail = (why: string): WardenError =>
    new WardenError('JWKS_UNAVAILABLE', `${origin}: ${why}`, { details: { origin } });
  if (Buffer.byteLength(text) > MAX_JWKS_BYTES) throw fail(`JWKS is over ${MAX_JWKS_BYTES} bytes`);
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw fail(`JWKS is not JSON (${messageOf(err)})`);
  }
  const found = isObject(doc) ? doc['keys'] : undefined;
  if (!Array.isArray(found) || found.length === 0) throw fail('JWKS has no "keys" array with keys in it');
  const keys = found as unknown[];
  if (keys.length > MAX_JWKS_KEYS) throw fail(`JWKS holds ${keys.length} keys, over the limit of ${MAX_JWKS_KEYS}`);
  keys.forEach((key, i) => {
    if (!isObject(key) || typeof key['kty'] !== 'string') throw fail(`key ${i} is not a JWK`);
    if (!PUBLIC_KTY.has(key['kty']))
      throw fail(`key ${i} has kty "${key['kty']}"; only public RSA, EC and OKP keys are allowed`);
    if (PRIVATE_MEMBERS.some((m) => m in key))
      throw fail(`key ${i} holds private key material; publish public keys only`);
  });
  return { keys: keys as JSONWebKeySet['keys'] };
}

/** A key source fetching a JWKS from `url` (https, or http on loopback only), cached by jose. */
export function jwksFromUrl(url: string | URL, options: JwksUrlOptions = {}): JwksSource {
  const target = new URL(url);
  if (target.protocol !== 'https:' && !(target.protocol === 'http:' && isLoopback(target.hostname))) {
    throw new WardenError(
      'CONFIG_INVALID',
      `JWKS URL ${target.href}: use https (plain http only on loopback), or anyone on the path could forge tokens`,
    );
  }
  // jose refetches on an unknown kid or past cacheMaxAge, inside getKey: each fetched set is compared with the last.
  const listeners = new JwksListeners();
  let current: JSONWebKeySet | undefined;
  const remote = createRemoteJWKSet(target, {
    timeoutDuration: options.timeoutMs ?? 5_000,
    cooldownDuration: options.cooldownMs ?? 30_000,
    cacheMaxAge: options.cacheMaxAgeMs ?? 600_000,
    [customFetch]: limitedFetch((set) => {
      const before = current;
      current = set;
      listeners.compare(before, set);
    }),
  });
  return {
    async getKey(header, token) {
      try {
        return await remote(header, token);
      } catch (err) {
        if (err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWKSMultipleMatchingKeys) throw err;
        throw new WardenError('JWKS_UNAVAILABLE', `JWKS ${target.href}: ${messageOf(err)}`, {
          cause: err,
          details: { origin: target.href },
        });
      }
    },
    close() {},
    onChange: (listener) => listeners.add(listener),
  };
}

// fetch, but a body over MAX_JWKS_BYTES or a bad document fails before jose parses it; a good one is passed to `fetched`.
const limitedFetch =
  (fetched: (set: JSONWebKeySet) => void): FetchImplementation =>
  async (url, init) => {
    const res = await fetch(url, init);
    if (res.status !== 200 || res.body === null) return res;
    const chunks: Uint8Array[] = [];
    let size = 0;
    for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
      size += chunk.byteLength;
      if (size > MAX_JWKS_BYTES) throw new Error(`JWKS response is over ${MAX_JWKS_BYTES} bytes`);
      chunks.push(chunk);
    }
    const text = Buffer.concat(chunks).toString('utf8');
    fetched(parseJwks(text, url));
    return new Response(text, { status: 200, headers: res.headers });
  };

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '[::1]' || /^127(\.\d{1,3}){3}$/.test(host);
}
