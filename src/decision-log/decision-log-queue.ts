/**
 * The decision log's in-memory queue: a fixed ring of events and their enqueue
 * times, allocated once. push is O(1) and allocates nothing; when the ring is
 * full it overwrites the oldest event (the caller counts the drop). Array
 * shift() would be O(n) per take on a 10,000-event queue.
 */

/** Events taken out for one write, oldest first, with their enqueue times (ms since the epoch). */
export interface Batch<T> {
  readonly items: T[];
  readonly times: number[];
}

/** A bounded FIFO that drops its oldest entry when full. */
export class RingQueue<T> {
  readonly #items: Array<T | undefined>;
  readonly #times: Float64Array;
  #head = 0;
  #length = 0;

  constructor(readonly capacity: number) {
    if (!Number.isSafeInteger(capacity) || capacity < 1)
      throw new RangeError(`queue capacity must be a positive integer, got ${capacity}`);
    this.#items = Array.from<T | undefined>({ length: capacity });
    this.#times = new Float64Array(capacity);
  }

  /** Entries waiting. */
  get length(): number {
    return this.#length;
  }

  /** Appends `item`; returns true when that overwrote (dropped) the oldest entry. */
  push(item: T, time: number): boolean {
    const cap = this.capacity;
    if (this.#length === cap) {
      this.#items[this.#head] = item;
      this.#times[this.#head] = time;
      this.#head = this.#head + 1 === cap ? 0 : this.#head + 1;
      return true;
    }
    const tail = (this.#head + this.#length) % cap;
    this.#items[tail] = item;
    this.#times[tail] = time;
    this.#length++;
    return false;
  }

  /** Removes and returns up to `max` of the oldest entries. */
  take(max: number): Batch<T> {
    const n = Math.min(max, this.#length);
    const items: T[] = [];
    const times: number[] = [];
    for (let i = 0; i < n; i++) {
      items.push(this.#items[this.#head] as T);
      times.push(this.#times[this.#head] ?? 0);
      this.#items[this.#head] = undefined;
      this.#head = this.#head + 1 === this.capacity ? 0 : this.#head + 1;
    }
    this.#length -= n;
    return { items, times };
  }

  /**
   * Puts a taken batch back in front (a failed write retries it), newest first
   * while there is room; returns how many of its oldest did not fit (dropped).
   */
  restore(batch: Batch<T>): number {
    let i = batch.items.length - 1;
    for (; i >= 0 && this.#length < this.capacity; i--) {
      this.#head = this.#head === 0 ? this.capacity - 1 : this.#head - 1;
      this.#items[this.#head] = batch.items[i];
      this.#times[this.#head] = batch.times[i] ?? 0;
      this.#length++;
    }
    return i + 1;
  }
}
