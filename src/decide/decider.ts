/**
 * The decision hot path, shared by the HTTP data API and in-process callers:
 * route the path to its pack, read that pack's active reference once, evaluate
 * synchronously, observe the latency. No I/O, no label hashing: the latency
 * series is looked up once per pack version (FastHistogram), and decision ids
 * come from a counter (decision-id.ts).
 */
import type { ActivePack } from '../activate/activator.js';
import type { WasmEngine } from '../engine/wasm.js';
import { WardenError, messageOf } from '../errors.js';
import type { WardenMetrics } from '../observe/metrics.js';
import type { HistogramSeries } from '../observe/fast-histogram.js';
import { nextDecisionId } from './decision-id.js';
import type { DecisionRouter } from './router.js';

/** Which decision this was and which pack version gave it. */
export interface DecisionSource {
  readonly decisionId: string;
  readonly pack: string;
  readonly revision: string;
  readonly digest: string;
}

/** One decision: OPA's result (absent when undefined) and which pack gave it. */
export interface Decision extends DecisionSource {
  readonly defined: boolean;
  readonly result?: unknown;
}

/** One decision with its result as the engine's JSON text (absent when undefined). */
export interface JsonDecision extends DecisionSource {
  readonly defined: boolean;
  readonly resultJson?: string;
}

/** Answers decisions against whatever packs are active at the moment of each call. */
export class Decider {
  readonly #series = new WeakMap<ActivePack, HistogramSeries>();

  constructor(
    private readonly router: DecisionRouter,
    private readonly metrics: WardenMetrics,
  ) {}

  /** Evaluates `path` (an entrypoint like `authz/allow`) on input; throws a coded error. */
  decide(path: string, input: unknown): Decision {
    const { evaluation, base } = this.#run(path, (engine) => engine.evaluate(path, input));
    return evaluation.defined ? { defined: true, result: evaluation.result, ...base } : { defined: false, ...base };
  }

  /**
   * Evaluates `path` on input given as JSON text (undefined: no input) and gives
   * the result as the engine's JSON text: integers of any size and decimals
   * come back exactly as the policy made them. Throws a coded error.
   */
  decideJson(path: string, inputJson: string | undefined): JsonDecision {
    const { evaluation, base } = this.#run(path, (engine) => engine.evaluateJson(path, inputJson));
    return evaluation === undefined ? { defined: false, ...base } : { defined: true, resultJson: evaluation, ...base };
  }

  // Routes, evaluates with `evaluate`, observes the latency and names the pack version.
  #run<T>(path: string, evaluate: (engine: WasmEngine) => T): { evaluation: T; base: DecisionSource } {
    const active = this.router.route(path)?.current;
    if (!active)
      throw new WardenError('DECISION_PATH_UNKNOWN', `no active pack declares the entrypoint "${path}"`, {
        details: { known: this.router.paths() },
      });
    const started = process.hrtime.bigint();
    let evaluation: T;
    try {
      evaluation = evaluate(active.engine);
    } catch (err) {
      throw evaluationError(path, active, err);
    }
    this.#observer(active).observe(Number(process.hrtime.bigint() - started) / 1e9);
    const base = { decisionId: nextDecisionId(), pack: active.name, revision: active.revision, digest: active.digest };
    return { evaluation, base };
  }

  // The latency series for this pack version, found on its first decision.
  #observer(active: ActivePack): HistogramSeries {
    let s = this.#series.get(active);
    if (!s) {
      s = this.metrics.decisionDuration.series({ pack: active.name, engine: 'wasm' });
      this.#series.set(active, s);
    }
    return s;
  }
}

// What a failed evaluation means: the engine's stack ran out on a deeply nested input
// (the caller's input, a 4xx: INPUT_TOO_DEEP), or the policy failed (DECISION_FAILED).
// Both name the entrypoint and the pack version, for the log line of a 5xx.
function evaluationError(path: string, active: ActivePack, err: unknown): WardenError {
  const details = { entrypoint: path, pack: active.name, revision: active.revision, digest: active.digest };
  if (err instanceof RangeError && /call stack/i.test(err.message)) {
    return new WardenError('INPUT_TOO_DEEP', `evaluating ${path}: the input is nested too deeply for the engine`, {
      cause: err,
      details,
    });
  }
  return new WardenError('DECISION_FAILED', `evaluating ${path}: ${messageOf(err)}`, { cause: err, details });
}
