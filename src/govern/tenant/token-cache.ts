/**
 * Verified tokens, remembered briefly. Verifying an ES256 JWT costs ~0.2 ms
 * (jose, WebCrypto on the thread pool: `npm run bench:verdict`), ~25 verdicts'
 * worth, and a client sends the same token on many requests. A token that
 * verified is kept, under the SHA-256 of its text, until the earlier of its
 * `exp` and `maxAgeMs` after verification; a hit re-checks that bound on every
 * use, so an expired token is never accepted. Only successes are kept (a
 * refusal is re-verified, and counted, each time). Bounded (util/expiring-lru.ts).
 *
 * What it trades: a key removed from the JWKS keeps its already-verified
 * tokens accepted for at most `maxAgeMs` (jose's own JWKS cache already holds
 * keys for minutes). Issuer, audience and algorithms are fixed per validator,
 * so a cached verification stays valid for them.
 */
import { createHash } from 'node:crypto';
import type { JWTPayload } from 'jose';
import { ExpiringLru } from '../../util/expiring-lru.js';

/** A bounded map from token to its verified payload. */
export class TokenCache {
  readonly #entries: ExpiringLru<JWTPayload>;

  constructor(
    maxEntries: number,
    private readonly maxAgeMs: number,
    private readonly now: () => number = Date.now,
  ) {
    this.#entries = new ExpiringLru(maxEntries);
  }

  /** The payload of `token` if it verified recently and has not expired since. */
  get(token: string): JWTPayload | undefined {
    return this.#entries.get(keyOf(token), this.now());
  }

  /** Remembers a token that just verified (its `exp` in seconds, required by the validator). */
  set(token: string, payload: JWTPayload): void {
    const now = this.now();
    const exp = typeof payload.exp === 'number' ? payload.exp * 1000 : now;
    const until = Math.min(exp, now + this.maxAgeMs);
    if (until > now) this.#entries.set(keyOf(token), payload, until);
  }

  /** Forgets every token (the keys changed). */
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
