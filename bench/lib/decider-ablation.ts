/**
 * Copies of the decision path (src/decide/decider.ts) with one piece removed
 * or replaced at a time, for the decide benchmark's profile: the difference
 * between the full copy and a variant is what that piece costs in place
 * (pieces timed alone in a tight loop look cheaper than they are in the path).
 * The full copy is checked against the real decider in the same run. Nothing
 * here is used by Warden itself.
 */
import { requireLocal } from '../../src/engine/engine.js';
import { randomUUID } from 'node:crypto';
import { Histogram } from 'prom-client';
import { performance } from 'node:perf_hooks';
import type { ActivePack, Activator } from '../../src/activate/activator.js';
import type { Decision } from '../../src/decide/decider.js';
import type { WardenMetrics } from '../../src/observe/metrics.js';

/** A decision function like `Decider.decide`. */
export type DecideFn = (path: string, input: unknown) => Decision;

/** Which pieces a variant keeps. */
interface Pieces {
  /** 'prom' = prom-client child observe (as now), 'array' = bucket counts in a Float64Array, 'none' = no latency metric. */
  readonly metric: 'prom' | 'array' | 'none';
  /** How the duration is taken: two hrtime.bigint() (as now) or two performance.now(). */
  readonly clock: 'hrtime' | 'performance';
  /** 'uuid' = randomUUID() per decision (as now), 'counter' = a random per-process prefix + a counter, 'none' = a constant. */
  readonly id: 'uuid' | 'counter' | 'none';
}

// Unique decision ids without a UUID per call: 8 random bytes per process, then a counter.
const ID_PREFIX = randomUUID().slice(0, 24);
let idCounter = 0;
function counterId(): string {
  idCounter++;
  return ID_PREFIX + idCounter.toString(16).padStart(12, '0');
}

/** The decision-duration buckets of src/observe/metrics.ts, in seconds. */
const BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1];

// A histogram kept as plain numbers: what a scrape-time export would read.
// prom-client's own Histogram, as src/ used before FastHistogram: kept here as the ablation's reference.
const PROM_HISTOGRAM = new Histogram({
  name: 'ablation_decision_seconds',
  help: 'ablation',
  labelNames: ['pack', 'engine'],
  buckets: [...BUCKETS],
  registers: [],
});

class ArrayHistogram {
  readonly counts = new Float64Array(BUCKETS.length + 1);
  sum = 0;

  observe(seconds: number): void {
    let i = 0;
    while (i < BUCKETS.length && seconds > (BUCKETS[i] as number)) i++;
    this.counts[i] = (this.counts[i] ?? 0) + 1;
    this.sum += seconds;
  }
}

// One variant of Decider.decide over one activator (the example has one pack; routing is a Map read).
function variant(routes: ReadonlyMap<string, Activator>, metrics: WardenMetrics, pieces: Pieces): DecideFn {
  const observers = new WeakMap<ActivePack, { observe(seconds: number): void }>();
  const observer = (active: ActivePack): { observe(seconds: number): void } => {
    let o = observers.get(active);
    if (!o) {
      o =
        pieces.metric === 'array' ? new ArrayHistogram() : PROM_HISTOGRAM.labels({ pack: active.name, engine: 'wasm' });
      observers.set(active, o);
    }
    return o;
  };
  return (path, input) => {
    const active = routes.get(path)?.current;
    if (!active) throw new Error(`no active pack for ${path}`);
    const engine = requireLocal(active.engine, active.name);
    let evaluation;
    if (pieces.metric === 'none') {
      evaluation = engine.evaluate(path, input);
    } else if (pieces.clock === 'hrtime') {
      const started = process.hrtime.bigint();
      evaluation = engine.evaluate(path, input);
      observer(active).observe(Number(process.hrtime.bigint() - started) / 1e9);
    } else {
      const started = performance.now();
      evaluation = engine.evaluate(path, input);
      observer(active).observe((performance.now() - started) / 1e3);
    }
    const base = {
      decisionId: pieces.id === 'uuid' ? randomUUID() : pieces.id === 'counter' ? counterId() : 'bench',
      pack: active.name,
      revision: active.revision,
      digest: active.digest,
    };
    return evaluation.defined ? { defined: true, result: evaluation.result, ...base } : { defined: false, ...base };
  };
}

/** The variants, by label; the first is the full copy of today's path. */
export function ablationVariants(
  activator: Activator,
  metrics: WardenMetrics,
): ReadonlyArray<readonly [string, DecideFn]> {
  const routes = new Map((activator.current?.entrypoints ?? []).map((e) => [e, activator] as const));
  const v = (p: Pieces): DecideFn => variant(routes, metrics, p);
  return [
    ['copy of decide (as in src/)', v({ metric: 'prom', clock: 'hrtime', id: 'uuid' })],
    ['  without randomUUID (constant id)', v({ metric: 'prom', clock: 'hrtime', id: 'none' })],
    ['  without latency metric (no clock, no observe)', v({ metric: 'none', clock: 'hrtime', id: 'uuid' })],
    ['  prom observe → array histogram', v({ metric: 'array', clock: 'hrtime', id: 'uuid' })],
    ['  array histogram + performance.now()', v({ metric: 'array', clock: 'performance', id: 'uuid' })],
    ['  proposal: array histogram + counter id', v({ metric: 'array', clock: 'hrtime', id: 'counter' })],
  ];
}
