/**
 * Per-call latency: every call timed on its own with `process.hrtime.bigint()`
 * (so tails are real calls, not batch means), cases interleaved in rounds that
 * rotate their order, with an event-loop turn between one case's calls and the
 * next case's so background work (the decision log's writer, timers, jose's
 * thread-pool callbacks) runs outside the timed calls. Percentiles are
 * nearest-rank (bench/lib/stats.ts): every figure is a measured call.
 */
import { setImmediate as turn } from 'node:timers/promises';
import { percentile } from './stats.js';

/** Percentiles of per-call samples, in the samples' unit (here ns). */
export interface CallPercentiles {
  readonly n: number;
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly max: number;
  readonly mean: number;
}

/** p50, p95, p99, max and mean of samples (any order). */
export function callPercentiles(samples: readonly number[]): CallPercentiles {
  const sorted = Array.from(Float64Array.from(samples).sort()); // typed-array sort is numeric
  let sum = 0;
  for (const x of sorted) sum += x;
  return {
    n: sorted.length,
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
    max: percentile(sorted, 100),
    mean: sum / sorted.length,
  };
}

/**
 * One thing timed per call. `call(i)` is the timed part; `ok(result, i)` runs
 * after the clock stops and says whether the answer was the expected one
 * (a wrong answer fails the benchmark; it also keeps the call from being dead code).
 */
export interface CallCase<R = unknown> {
  readonly name: string;
  call(i: number): R;
  ok(result: Awaited<R>, i: number): boolean;
  /** True when call returns a promise to await inside the timed part. */
  readonly async?: boolean;
  /** Calls per round; default the plan's. */
  readonly callsPerRound?: number;
  /** Runs untimed after the case's calls of each round (e.g. wait for background work it started). */
  after?(): Promise<void>;
}

/** Rounds of calls: the first `warmupRounds` are discarded. */
export interface CallPlan {
  readonly warmupRounds: number;
  readonly rounds: number;
  readonly callsPerRound: number;
  /** An event-loop turn after every this many calls within a round, as a server gets between requests; default none. */
  readonly callsPerTurn?: number;
}

/** Per-call samples (ns) of every case, in round order, plus which round each block came from. */
export type CallSamples = Map<string, { readonly ns: number[]; readonly roundEnds: number[] }>;

// Times `n` synchronous calls, appending ns to out; returns the number of wrong answers.
function timeSync(c: CallCase, start: number, n: number, out: number[] | undefined): number {
  let wrong = 0;
  for (let k = 0; k < n; k++) {
    const i = start + k;
    const t0 = process.hrtime.bigint();
    const r = c.call(i);
    const dt = Number(process.hrtime.bigint() - t0);
    if (!c.ok(r, i)) wrong++;
    out?.push(dt);
  }
  return wrong;
}

// Times `n` awaited calls one after the other.
async function timeAsync(c: CallCase, start: number, n: number, out: number[] | undefined): Promise<number> {
  let wrong = 0;
  for (let k = 0; k < n; k++) {
    const i = start + k;
    const t0 = process.hrtime.bigint();
    const r: unknown = await c.call(i);
    const dt = Number(process.hrtime.bigint() - t0);
    if (!c.ok(r, i)) wrong++;
    out?.push(dt);
  }
  return wrong;
}

/** Runs the plan over the cases, rotating their order each round; throws on any wrong answer. */
export async function sampleCalls(cases: readonly CallCase[], plan: CallPlan): Promise<CallSamples> {
  const out: CallSamples = new Map(cases.map((c) => [c.name, { ns: [], roundEnds: [] }]));
  const counters = new Map(cases.map((c) => [c.name, 0]));
  for (let round = 0; round < plan.warmupRounds + plan.rounds; round++) {
    for (let k = 0; k < cases.length; k++) {
      const c = cases[(round + k) % cases.length] as CallCase;
      const n = c.callsPerRound ?? plan.callsPerRound;
      const start = counters.get(c.name) ?? 0;
      const slot = out.get(c.name);
      const keep = round >= plan.warmupRounds ? slot?.ns : undefined;
      const step = plan.callsPerTurn ?? n;
      let wrong = 0;
      for (let done = 0; done < n; done += step) {
        const m = Math.min(step, n - done);
        wrong += c.async ? await timeAsync(c, start + done, m, keep) : timeSync(c, start + done, m, keep);
        await turn();
      }
      if (wrong > 0) throw new Error(`${c.name}: ${wrong} of ${n} calls answered wrong`);
      counters.set(c.name, start + n);
      if (keep) slot?.roundEnds.push(keep.length);
      await c.after?.();
    }
  }
  return out;
}

/** The samples of each block of `blocks` consecutive rounds (for the spread of a percentile across the run). */
export function blocksOf(
  s: { readonly ns: readonly number[]; readonly roundEnds: readonly number[] },
  blocks: number,
): number[][] {
  const per = Math.max(1, Math.floor(s.roundEnds.length / blocks));
  const out: number[][] = [];
  let from = 0;
  for (let b = 0; b < blocks; b++) {
    const lastRound = b === blocks - 1 ? s.roundEnds.length - 1 : Math.min(s.roundEnds.length - 1, (b + 1) * per - 1);
    const to = s.roundEnds[lastRound] ?? s.ns.length;
    out.push(s.ns.slice(from, to));
    from = to;
  }
  return out;
}
