/**
 * One running shadow: the request-path side (sample, then claim a ring slot
 * and fill it: no I/O, no allocation, never throws) and its counts, which the
 * evaluator (evaluator.ts) adds to off the request path before asking the gate
 * (gate.ts). Sampling is stratified: the decisions the active version answers
 * are cut into windows of 1/sample, and one decision at a random place in each
 * window is taken. So 10 % is exactly one decision in every ten (counts stay
 * exact), yet no periodic pattern in the traffic can hide from it (a fixed
 * every-tenth pick would never see a request that comes back every eighth
 * call at the other offsets); a sample of 1 asks the shadow everything. One
 * Math.random() per sampled decision, none for the others.
 */
import type { GateVerdict, ShadowProgress, ShadowRun } from '../activate/shadow.js';
import type { ActivePack } from '../activate/types.js';
import { OUTCOMES, type Outcome } from '../replay/compare.js';
import { judgeGate } from './gate.js';
import type { ShadowSettings } from './settings.js';
import { SampleRing } from './slots.js';

/** A shadow as the evaluator drives it. */
export class LiveShadow implements ShadowRun {
  readonly ring: SampleRing;
  readonly outcomes: Record<Outcome, number> = Object.fromEntries(OUTCOMES.map((o) => [o, 0])) as Record<
    Outcome,
    number
  >;
  decisions = 0;
  sampled = 0;
  /** Drops already added to the metric. */
  droppedReported = 0;
  /** Decisions seen; the next one taken is number #nextAt (0-based). */
  #seen = 0;
  #window = 0;
  #nextAt = -1;
  #ended = false;
  #verdict: GateVerdict = { state: 'collecting' };
  #told = false;
  readonly #startedAt = performance.now();
  readonly #timer: NodeJS.Timeout | undefined;

  constructor(
    readonly pack: ActivePack,
    readonly settings: ShadowSettings,
    private readonly onVerdict: (run: ShadowRun, verdict: GateVerdict) => void,
    private readonly onEnd: (run: LiveShadow) => void,
  ) {
    this.ring = new SampleRing(settings.queueLimit);
    const max = settings.maxDurationMs;
    // max_duration: judged when it elapses, even with no traffic at all.
    if (max !== undefined) {
      this.#timer = setTimeout(() => this.judge(), max);
      this.#timer.unref();
    }
  }

  get ended(): boolean {
    return this.#ended;
  }

  offerJson(path: string, inputJson: string | undefined, resultJson: string | undefined, decisionId: string): void {
    if (this.#ended || !this.#take()) return;
    const s = this.ring.claim();
    s.path = path;
    s.decisionId = decisionId;
    s.text = true;
    s.inputJson = inputJson;
    s.resultJson = resultJson;
    s.input = undefined;
    s.result = undefined;
    s.defined = resultJson !== undefined;
  }

  offerValue(path: string, input: unknown, defined: boolean, result: unknown, decisionId: string): void {
    if (this.#ended || !this.#take()) return;
    const s = this.ring.claim();
    s.path = path;
    s.decisionId = decisionId;
    s.text = false;
    s.inputJson = undefined;
    s.resultJson = undefined;
    s.input = input;
    s.result = result;
    s.defined = defined;
  }

  /** Counts one evaluated decision (the evaluator; off the request path). */
  record(outcome: Outcome): void {
    this.decisions++;
    this.outcomes[outcome]++;
  }

  /** Asks the gate; tells the activator (once) when it failed, or held with auto-promotion. */
  judge(): GateVerdict {
    if (this.#ended) return this.#verdict;
    const changed = this.decisions - this.outcomes.unchanged;
    const elapsed = performance.now() - this.#startedAt;
    const counts = { decisions: this.decisions, changed, denyToAllow: this.outcomes.deny_to_allow };
    this.#verdict = judgeGate(counts, this.settings.gate, elapsed, this.settings.maxDurationMs);
    const act =
      this.#verdict.state === 'failed' || (this.#verdict.state === 'passed' && this.settings.gate.autoPromote);
    if (act && !this.#told) {
      this.#told = true;
      const verdict = this.#verdict;
      setImmediate(() => this.onVerdict(this, verdict));
    }
    return this.#verdict;
  }

  progress(): ShadowProgress {
    return {
      sample: this.settings.sample,
      sampled: this.sampled,
      decisions: this.decisions,
      dropped: this.ring.dropped,
      outcomes: { ...this.outcomes },
      changed: this.decisions - this.outcomes.unchanged,
      gate: this.#verdict,
    };
  }

  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    clearTimeout(this.#timer);
    this.ring.clear();
    this.onEnd(this);
  }

  // Stratified sampling: true for one decision at a random place in each window of 1/sample.
  #take(): boolean {
    if (this.#nextAt < 0) this.#nextAt = this.#placeIn(0, -1);
    const n = this.#seen++;
    if (n !== this.#nextAt) return false;
    this.#window++;
    this.#nextAt = this.#placeIn(this.#window, n);
    this.sampled++;
    return true;
  }

  // Where window k's decision is: floor((k + u) / sample), after the previous one taken.
  #placeIn(k: number, previous: number): number {
    const size = 1 / this.settings.sample;
    return Math.max(Math.floor((k + Math.random()) * size), previous + 1);
  }
}
