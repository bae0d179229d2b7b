/**
 * The decision cache (docs/design.md#governance): a bounded LRU of decisions,
 * keyed by a hash of the canonical `{path, input}` (decision-cache-key.ts),
 * each entry good for `ttlMs` (30–60 s suggested), all dropped by flush() on
 * every activation (the LRU itself is util/expiring-lru.ts).
 *
 * Call key → get → decide → set in one synchronous turn (Decider.decide is
 * synchronous), so no activation, hence no flush, can fall between them and
 * leave a decision of the old pack cached. A hit carries the decisionId of
 * the evaluation that produced it: give each answer its own id
 * (`{ ...hit, decisionId: nextDecisionId() }`) before logging it.
 */
import { performance } from 'node:perf_hooks';
import type { Registry } from 'prom-client';
import type { Decision } from '../../decide/decider.js';
import { DEFAULT_MAX_DEPTH, decisionKey } from './decision-cache-key.js';
import { counter } from '../../observe/register.js';
import { scrapedCounter } from '../../observe/scraped-counter.js';
import { ExpiringLru } from '../../util/expiring-lru.js';

/** Why the cache was emptied; a metric label, so a closed set. */
export type FlushReason = 'activation' | 'rollback' | 'config' | 'manual';

/** Options of a {@link DecisionCache}. */
export interface DecisionCacheOptions {
  /** Entries kept at most; the least recently used goes first. */
  readonly maxEntries: number;
  /** How long an entry answers, in milliseconds. */
  readonly ttlMs: number;
  /** Where `warden_decision_cache_*` are registered (WardenMetrics.registry); none if absent. */
  readonly registry?: Registry;
  /** Milliseconds on a monotonic clock; default performance.now (wall-clock jumps do not expire entries). */
  readonly now?: () => number;
  /** Nesting levels an input may have to be keyed; default 64. */
  readonly maxDepth?: number;
}

/** A bounded, TTL'd LRU of decisions, emptied on every activation. */
export class DecisionCache {
  readonly #entries: ExpiringLru<Decision>;
  readonly #ttl: number;
  readonly #now: () => number;
  readonly #maxDepth: number;
  readonly #counts: Record<'hit' | 'miss', number>;
  readonly #flushes;

  constructor(opts: DecisionCacheOptions) {
    if (!Number.isSafeInteger(opts.maxEntries) || opts.maxEntries < 1)
      throw new RangeError(`maxEntries must be a positive integer, got ${opts.maxEntries}`);
    if (!(opts.ttlMs > 0 && Number.isFinite(opts.ttlMs)))
      throw new RangeError(`ttlMs must be a positive number, got ${opts.ttlMs}`);
    this.#entries = new ExpiringLru(opts.maxEntries);
    this.#ttl = opts.ttlMs;
    this.#now = opts.now ?? (() => performance.now());
    this.#maxDepth = opts.maxDepth ?? DEFAULT_MAX_DEPTH;
    this.#counts = scrapedCounter(opts.registry, 'warden_decision_cache_total', ['hit', 'miss']);
    this.#flushes = counter(opts.registry, 'warden_decision_cache_flush_total');
  }

  /** The key of a decision on `path` with `input`; throws DECISION_INPUT_INVALID for input nested past maxDepth, cyclic or holding a BigInt. */
  key(path: string, input: unknown): string {
    return decisionKey(path, input, this.#maxDepth);
  }

  /** The cached decision under `key` if it has not expired (and it becomes the most recently used). */
  get(key: string): Decision | undefined {
    const decision = this.#entries.get(key, this.#now());
    this.#counts[decision === undefined ? 'miss' : 'hit']++;
    return decision;
  }

  /** Caches `decision` under `key` for ttlMs, evicting the least recently used entry past maxEntries. */
  set(key: string, decision: Decision): void {
    this.#entries.set(key, decision, this.#now() + this.#ttl);
  }

  /** Drops every entry (call it on every activation, rollback included); counted by reason. */
  flush(reason: FlushReason): void {
    this.#entries.clear();
    this.#flushes.inc({ reason });
  }

  /** Entries held, expired ones not yet pushed out included. */
  get size(): number {
    return this.#entries.size;
  }
}
