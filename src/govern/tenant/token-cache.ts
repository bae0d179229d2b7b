/**
 * Verified tokens, remembered briefly. Verifying an ES256 JWT costs ~0.2 ms
 * (jose, WebCrypto on the thread pool: `npm run bench:verdict`), ~25 verdicts'
 * worth, and a client sends the same token on many requests. A token that
 * verified is kept, under the SHA-256 of its text, until the earlier of its
 * `exp` and `maxAgeMs` after verification; a hit re-checks that bound on every
 * use, so an expired token is never accepted. Only successes are kept (a
 * refusal is re-verified, and counted, each time). Bounded (util/expiring-lru.ts).
 *
 * Each entry remembers the `kid` it was verified with and its tenant, so a
 * change drops only what it affects: `forgetKeys` the tokens of keys that
 * changed or left the JWKS (and every token without a `kid`, which any key
 * change can affect), `forgetTenants` the tokens of named tenants. A cache hit
 * is still checked against the revocation list by the validator.
 *
 * Issuer, audience and algorithms are fixed per validator, so a cached
 * verification stays valid for them.
 */
import { createHash } from 'node:crypto';
import type { JWTPayload } from 'jose';
import { ExpiringLru } from '../../util/expiring-lru.js';

interface Entry {
  readonly payload: JWTPayload;
  /** The `kid` of the token header; undefined when it named none. */
  readonly kid: string | undefined;
  /** The tenant claim's value when it is a string. */
  readonly tenant: string | undefined;
}

/** A bounded map from token to its verified payload. */
export class TokenCache {
  readonly #entries: ExpiringLru<Entry>;

  constructor(
    maxEntries: number,
    private readonly maxAgeMs: number,
    private readonly now: () => number = Date.now,
    private readonly tenantClaim = 'tenant',
  ) {
    this.#entries = new ExpiringLru(maxEntries);
  }

  /** The payload of `token` if it verified recently and has not expired since. */
  get(token: string): JWTPayload | undefined {
    return this.#entries.get(keyOf(token), this.now())?.payload;
  }

  /** Remembers a token that just verified (its `exp` in seconds, required by the validator) with the `kid` of its header. */
  set(token: string, payload: JWTPayload, kid?: string): void {
    const now = this.now();
    const exp = typeof payload.exp === 'number' ? payload.exp * 1000 : now;
    const until = Math.min(exp, now + this.maxAgeMs);
    const raw = Object.hasOwn(payload, this.tenantClaim) ? payload[this.tenantClaim] : undefined;
    const tenant = typeof raw === 'string' ? raw : undefined;
    if (until > now) this.#entries.set(keyOf(token), { payload, kid, tenant }, until);
  }

  /** Forgets the tokens verified with one of `kids`, and every token without a `kid`; returns how many. */
  forgetKeys(kids: ReadonlySet<string>): number {
    return this.#entries.deleteWhere((e) => e.kid === undefined || kids.has(e.kid));
  }

  /** Forgets the tokens of these tenants; returns how many. */
  forgetTenants(tenants: ReadonlySet<string>): number {
    return this.#entries.deleteWhere((e) => e.tenant !== undefined && tenants.has(e.tenant));
  }

  /** Forgets every token. */
  clear(): void {
    this.#entries.clear();
  }

  get size(): number {
    return this.#entries.size;
  }
}

// The map key: a digest, so a 16 KiB token costs 32 bytes of key.
function keyOf(token: string): string {
  return createHash('sha256').update(token).digest('base64');
}
