/**
 * A bounded map whose entries each answer until their own deadline: the least
 * recently used entry goes first past `maxEntries`, an expired one is dropped
 * when read (and pushed out by newer ones if never read). LRU order is the
 * Map's insertion order: a hit re-inserts its entry. Shared by the decision
 * cache and the verified-token cache; the clock is the caller's.
 */
interface Entry<V> {
  readonly value: V;
  readonly until: number;
}

export class ExpiringLru<V> {
  readonly #entries = new Map<string, Entry<V>>();

  constructor(private readonly maxEntries: number) {}

  /** The value under `key` if its deadline is after `now` (it becomes the most recently used). */
  get(key: string, now: number): V | undefined {
    const e = this.#entries.get(key);
    if (e === undefined) return undefined;
    this.#entries.delete(key);
    if (now >= e.until) return undefined;
    this.#entries.set(key, e);
    return e.value;
  }

  /** Stores `value` under `key` until `until`, evicting the least recently used entry past the bound. */
  set(key: string, value: V, until: number): void {
    this.#entries.delete(key);
    this.#entries.set(key, { value, until });
    if (this.#entries.size > this.maxEntries) {
      const oldest = this.#entries.keys().next();
      if (oldest.done !== true) this.#entries.delete(oldest.value);
    }
  }

  clear(): void {
    this.#entries.clear();
  }

  /** Deletes every entry whose value `drop` picks (O(n): for rare changes, never per request); returns how many. */
  deleteWhere(drop: (value: V) => boolean): number {
    let dropped = 0;
    for (const [key, e] of this.#entries) {
      if (!drop(e.value)) continue;
      this.#entries.delete(key);
      dropped++;
    }
    return dropped;
  }

  /** Entries held, expired ones not yet pushed out included. */
  get size(): number {
    return this.#entries.size;
  }
}
