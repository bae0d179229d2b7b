/**
 * A shadow's queue of sampled decisions: a fixed ring of slot objects, all
 * allocated when the shadow starts, whose fields a push overwrites. A push is
 * O(1) and allocates nothing; a full ring overwrites its oldest slot (a drop,
 * counted by the caller). Taking copies the slots out, off the request path.
 */

/** One sampled decision, as the active version answered it. */
export interface SampledDecision {
  readonly path: string;
  readonly decisionId: string;
  /** true: inputJson/resultJson hold the decision's text; false: input/result hold its values. */
  readonly text: boolean;
  readonly inputJson: string | undefined;
  readonly resultJson: string | undefined;
  readonly input: unknown;
  readonly result: unknown;
  readonly defined: boolean;
}

/** A ring slot: a sampled decision's fields, overwritten in place. */
export class Slot implements SampledDecision {
  path = '';
  decisionId = '';
  text = true;
  inputJson: string | undefined = undefined;
  resultJson: string | undefined = undefined;
  input: unknown = undefined;
  result: unknown = undefined;
  defined = false;
}

/** A bounded FIFO of sampled decisions that drops its oldest when full. */
export class SampleRing {
  readonly #slots: Slot[];
  #head = 0;
  #length = 0;

  constructor(readonly capacity: number) {
    if (!Number.isSafeInteger(capacity) || capacity < 1)
      throw new RangeError(`queue capacity must be a positive integer, got ${capacity}`);
    this.#slots = Array.from({ length: capacity }, () => new Slot());
  }

  get length(): number {
    return this.#length;
  }

  /** The slot to fill next: a free one, or (full: counted in `dropped`) the oldest waiting. */
  claim(): Slot {
    const cap = this.capacity;
    if (this.#length === cap) {
      const slot = this.#slots[this.#head] as Slot;
      this.#head = this.#head + 1 === cap ? 0 : this.#head + 1;
      this.dropped++;
      return slot;
    }
    const slot = this.#slots[(this.#head + this.#length) % cap] as Slot;
    this.#length++;
    return slot;
  }

  /** Decisions dropped from the full ring since the shadow started. */
  dropped = 0;

  /** Removes and copies out up to `max` of the oldest decisions. */
  take(max: number): SampledDecision[] {
    const n = Math.min(max, this.#length);
    const out: SampledDecision[] = [];
    for (let i = 0; i < n; i++) {
      const s = this.#slots[this.#head] as Slot;
      out.push({
        path: s.path,
        decisionId: s.decisionId,
        text: s.text,
        inputJson: s.inputJson,
        resultJson: s.resultJson,
        input: s.input,
        result: s.result,
        defined: s.defined,
      });
      s.input = undefined;
      s.result = undefined;
      s.inputJson = undefined;
      s.resultJson = undefined;
      this.#head = this.#head + 1 === this.capacity ? 0 : this.#head + 1;
    }
    this.#length -= n;
    return out;
  }

  /** Empties the ring (the shadow ended). */
  clear(): void {
    this.take(this.#length);
  }
}
