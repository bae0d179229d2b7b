/**
 * The revoked `jti` and `sid` values, in memory, and what a request is told
 * (docs/architecture.md#token-revocation). The request path asks `check`
 * with the verified claims: two Set lookups and a clock read, never I/O. The
 * sets are replaced whole by a full read (revocation-redis.ts) and grown by
 * prompt notices in between. While no full read has succeeded for
 * `staleAfterMs` (or ever, since start), the list is stale: a listed token is
 * still refused, and any other token is refused with `fail_closed` (the list
 * may lack its revocation) or accepted with `fail_open`.
 */
import type { JWTPayload } from 'jose';

/** What the list says of a verified token: accept it, it is revoked, or the list is too old to say (fail_closed). */
export type RevocationAnswer = 'ok' | 'revoked' | 'unavailable';

/** What a tenant validator asks after every verification, cached or not. */
export interface RevocationCheck {
  check(claims: JWTPayload): RevocationAnswer;
}

/** The two kinds of revoked value: a token's `jti`, or a session's `sid` (every token of the session). */
export type RevokedKind = 'jti' | 'sid';
export const REVOKED_KINDS: readonly RevokedKind[] = ['jti', 'sid'];

export type OnStale = 'fail_open' | 'fail_closed';

export interface RevocationListOptions {
  /** Stale when the last full read is older than this. */
  readonly staleAfterMs: number;
  readonly onStale: OnStale;
  /** The clock, in ms. Default Date.now. */
  readonly now?: () => number;
}

/** The revoked values and when they were last read in full. */
export class RevocationList implements RevocationCheck {
  #values: Record<RevokedKind, Set<string>> = { jti: new Set(), sid: new Set() };
  #loadedAt: number | undefined;
  readonly #staleAfterMs: number;
  readonly #failClosed: boolean;
  readonly #now: () => number;

  constructor(options: RevocationListOptions) {
    this.#staleAfterMs = options.staleAfterMs;
    this.#failClosed = options.onStale === 'fail_closed';
    this.#now = options.now ?? Date.now;
  }

  check(claims: JWTPayload): RevocationAnswer {
    const { jti, sid } = claims as { jti?: unknown; sid?: unknown };
    if (typeof jti === 'string' && this.#values.jti.has(jti)) return 'revoked';
    if (typeof sid === 'string' && this.#values.sid.has(sid)) return 'revoked';
    if (this.#failClosed && this.stale) return 'unavailable';
    return 'ok';
  }

  /** True while no full read has succeeded within staleAfterMs (or ever). */
  get stale(): boolean {
    return this.#loadedAt === undefined || this.#now() - this.#loadedAt > this.#staleAfterMs;
  }

  /** When the last full read succeeded (ms), if ever. */
  get loadedAt(): number | undefined {
    return this.#loadedAt;
  }

  /** Replaces every value with a full read's, and marks the list current. */
  replace(values: Record<RevokedKind, Iterable<string>>): void {
    this.#values = { jti: new Set(values.jti), sid: new Set(values.sid) };
    this.#loadedAt = this.#now();
  }

  /** Adds one value from a prompt notice (the next full read confirms it). */
  add(kind: RevokedKind, value: string): void {
    this.#values[kind].add(value);
  }

  /** How many values of `kind` are held. */
  size(kind: RevokedKind): number {
    return this.#values[kind].size;
  }
}
