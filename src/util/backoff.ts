/**
 * Delays for the polling loop, as pure arithmetic: no timers, no clock. The
 * caller passes `random` (Math.random in production, a fixed sequence in tests),
 * so every delay is deterministic given its random draws.
 */

/** A draw in [0, 1); out-of-range values from a faulty `random` are clamped. */
function draw(random: () => number): number {
  const r = random();
  return Number.isFinite(r) ? Math.min(Math.max(r, 0), 1) : 0;
}

/**
 * The wait before the next poll after a successful fetch: uniform between
 * `minSeconds` and `maxSeconds` (in ms), so a fleet of agents started together
 * spreads its requests instead of hitting the pack server in step.
 */
export function nextPollDelayMs(minSeconds: number, maxSeconds: number, random: () => number = Math.random): number {
  const lo = Math.max(0, Math.min(minSeconds, maxSeconds)) * 1000;
  const hi = Math.max(0, Math.max(minSeconds, maxSeconds)) * 1000;
  return Math.round(lo + (hi - lo) * draw(random));
}

/**
 * How the exponential ceiling is randomised:
 * - `full`: uniform in [0, ceiling] (AWS "full jitter": least contention, may retry at once);
 * - `equal`: uniform in [ceiling/2, ceiling] (never retries sooner than half the ceiling).
 */
export type Jitter = 'full' | 'equal';

/** Options of a {@link Backoff}. */
export interface BackoffOptions {
  /** Ceiling of the first retry, in ms. */
  readonly baseMs: number;
  /** Cap on every delay, in ms. */
  readonly maxMs: number;
  /** Default `equal`. */
  readonly jitter?: Jitter;
  readonly random?: () => number;
}

/**
 * Exponential backoff with jitter for consecutive failures: the n-th failure in
 * a row (n from 0) waits a jittered share of `min(maxMs, baseMs · 2^n)`;
 * `reset()` after a success starts again from `baseMs`.
 */
export class Backoff {
  readonly #baseMs: number;
  readonly #maxMs: number;
  readonly #jitter: Jitter;
  readonly #random: () => number;
  #failures = 0;

  constructor(opts: BackoffOptions) {
    this.#baseMs = Math.max(0, opts.baseMs);
    this.#maxMs = Math.max(this.#baseMs, opts.maxMs);
    this.#jitter = opts.jitter ?? 'equal';
    this.#random = opts.random ?? Math.random;
  }

  /** The un-jittered ceiling for the next delay (before `next()` counts the failure). */
  get ceilingMs(): number {
    // 2^52 already exceeds any sane cap; the bound keeps the arithmetic finite.
    return Math.min(this.#maxMs, this.#baseMs * 2 ** Math.min(this.#failures, 52));
  }

  /** Failures since the last reset. */
  get failures(): number {
    return this.#failures;
  }

  /** Records one more failure and returns the delay (ms) before the next attempt. */
  next(): number {
    const ceiling = this.ceilingMs;
    this.#failures += 1;
    const r = draw(this.#random);
    const delay = this.#jitter === 'full' ? ceiling * r : ceiling / 2 + (ceiling / 2) * r;
    return Math.round(delay);
  }

  /** A success: the next failure starts from `baseMs` again. */
  reset(): void {
    this.#failures = 0;
  }
}
