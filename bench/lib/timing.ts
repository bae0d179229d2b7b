/**
 * Wall-clock timing with named laps, and an interleaved runner that spreads
 * machine noise (other tenants, CPU frequency, GC) evenly over the cases
 * being compared instead of letting it land on whichever ran last.
 */
import { performance } from 'node:perf_hooks';

/** Durations of one iteration in milliseconds, by phase; always has `total`. */
export type Laps = Readonly<Record<string, number>> & { readonly total: number };

/** Times consecutive phases of one iteration. */
export class Stopwatch {
  readonly #start = performance.now();
  #last = this.#start;
  readonly #laps: Record<string, number> = {};

  /** Ends the phase running since the previous lap (or the start) and records it under `name`. */
  lap(name: string): void {
    const now = performance.now();
    this.#laps[name] = (this.#laps[name] ?? 0) + (now - this.#last);
    this.#last = now;
  }

  /** The phases recorded so far, plus `total` from the start to the last lap. */
  laps(): Laps {
    return { ...this.#laps, total: this.#last - this.#start };
  }
}

/** Times one call; returns its result and the milliseconds it took. */
export async function timed<T>(fn: () => Promise<T> | T): Promise<{ value: T; ms: number }> {
  const start = performance.now();
  const value = await fn();
  return { value, ms: performance.now() - start };
}

/** One thing to measure: each call runs one iteration and returns its laps. */
export interface BenchCase {
  readonly name: string;
  run(): Promise<Laps> | Laps;
}

/** How many untimed and timed iterations to run. */
export interface RunPlan {
  readonly warmup: number;
  readonly iterations: number;
}

/**
 * Runs every case once per iteration, rotating which goes first (A B, B A, …
 * for two cases) so neither always follows the other. Warm-up iterations run
 * the same way and are discarded. Returns each case's laps in iteration order,
 * so results of the same index were taken under the same conditions.
 */
export async function interleave(cases: readonly BenchCase[], plan: RunPlan): Promise<Map<string, Laps[]>> {
  const results = new Map<string, Laps[]>(cases.map((c) => [c.name, []]));
  for (let i = 0; i < plan.warmup + plan.iterations; i++) {
    for (let k = 0; k < cases.length; k++) {
      const c = cases[(i + k) % cases.length] as BenchCase;
      const laps = await c.run();
      if (i >= plan.warmup) results.get(c.name)?.push(laps);
    }
  }
  return results;
}

/** One phase's samples out of a list of laps (e.g. every iteration's `total`). */
export function phase(laps: readonly Laps[], name: string): number[] {
  return laps.map((l) => {
    const v = l[name];
    if (v === undefined) throw new RangeError(`no lap named ${JSON.stringify(name)}`);
    return v;
  });
}
