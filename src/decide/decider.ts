/**
 * The decision hot path, shared by the HTTP data API and in-process callers:
 * route the path to its pack, read that pack's active reference once, evaluate
 * synchronously, observe the latency. No I/O, no label hashing: the latency
 * series is looked up once per pack version (FastHistogram), and decision ids
 * come from a counter (decision-id.ts). A path no pack declares misses the
 * router's Map and only then is planned over the active packs (path-plan.ts).
 *
 * With a budget (budget.ts) every evaluation's time is checked against it: on
 * this thread after the fact (one comparison), in a decision worker or OPA
 * under a deadline. With tracing (observe/decision-tracing.ts) a sampled share
 * of data-API decisions (decideJson, decideAsync) gets a `warden.decision`
 * span; `decide` is the verdict's primitive and the verdict traces itself.
 */
import { context } from '@opentelemetry/api';
import type { ActivePack } from '../activate/activator.js';
import type { ShadowRun } from '../activate/shadow.js';
import { requireLocal, type EvaluateOptions, type RemoteEngine } from '../engine/engine.js';
import { engineJsonText } from '../engine/json-text.js';
import { WardenError, messageOf } from '../errors.js';
import type { WardenMetrics } from '../observe/metrics.js';
import { booleanResult, type DecisionTracing } from '../observe/decision-tracing.js';
import { failed } from '../observe/tracing.js';
import type { DecisionBudget } from './budget.js';
import type { HistogramSeries } from '../observe/fast-histogram.js';
import { nextDecisionId } from './decision-id.js';
import { isObject, mergeJsonObjects, walkJson } from './json-walk.js';
import { planPath, type PathPart } from './path-plan.js';
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
  /** How long the engine evaluated, in nanoseconds (a decision worker's own time). */
  readonly evalNs?: number;
}

/** What a Decider may add to the evaluation itself. */
export interface DeciderOptions {
  /** `governance.budget`: the time per evaluation, and what happens past it. */
  readonly budget?: DecisionBudget | undefined;
  /** `tracing`: sampled decision spans. */
  readonly tracing?: DecisionTracing | undefined;
}

/** Answers decisions against whatever packs are active at the moment of each call. */
export class Decider {
  readonly #series = new WeakMap<ActivePack, HistogramSeries>();
  readonly #budget: DecisionBudget | undefined;
  readonly #tracing: DecisionTracing | undefined;

  constructor(
    private readonly router: DecisionRouter,
    private readonly metrics: WardenMetrics,
    options: DeciderOptions = {},
  ) {
    this.#budget = options.budget;
    this.#tracing = options.tracing;
  }

  /**
   * Evaluates `path` (an entrypoint like `authz/allow`) on input, on this thread; throws a coded
   * error (DECISION_ASYNC_ONLY when the pack is answered by decision workers: use decideAsync).
   */
  decide(path: string, input: unknown): Decision {
    const owner = this.router.route(path);
    const active = this.#active(path, owner?.current);
    const shadow = owner?.shadow;
    const engine = requireLocal(active.engine, active.name);
    const evaluation = this.#timed(path, active, () => engine.evaluate(path, input));
    const base = sourceOf(active);
    if (shadow !== undefined)
      shadow.offerValue(
        path,
        input,
        evaluation.defined,
        evaluation.defined ? evaluation.result : undefined,
        base.decisionId,
      );
    return evaluation.defined ? { defined: true, result: evaluation.result, ...base } : { defined: false, ...base };
  }

  /** Evaluates `path` on input wherever its pack is answered (this thread or a decision worker). */
  decideAsync(path: string, input: unknown): Promise<Decision> {
    if (this.#tracing?.sampled() !== true) return this.#decideAsync(path, input);
    const tracing = this.#tracing;
    const { span, ctx } = tracing.start('warden.decision', path);
    return context
      .with(ctx, () => this.#decideAsync(path, input))
      .then(
        (d) => {
          tracing.finish(span, d, typeof d.result === 'boolean' ? d.result : undefined, () => input);
          return d;
        },
        (err: unknown) => {
          failed(span, err);
          tracing.finish(span, undefined, undefined, () => input);
          throw err;
        },
      );
  }

  async #decideAsync(path: string, input: unknown): Promise<Decision> {
    const active = this.router.route(path)?.current;
    if (active === undefined) {
      const d = await this.#decideJson(path, inputText(path, input));
      const { resultJson, evalNs, ...base } = d;
      void evalNs; // not part of a Decision
      return resultJson === undefined ? base : { ...base, result: JSON.parse(resultJson) as unknown };
    }
    if (active.engine.kind === 'local') return this.decide(path, input);
    const shadow = this.router.route(path)?.shadow;
    const decision = await this.#remote(path, active, active.engine, inputText(path, input, active), shadow);
    const { resultJson, evalNs, ...base } = decision;
    void evalNs; // not part of a Decision
    return resultJson === undefined
      ? { ...base, defined: false }
      : { ...base, defined: true, result: JSON.parse(resultJson) as unknown };
  }

  /** True when the pack answering `path` runs on a real OPA (engine: opa), which honours strict builtin errors. */
  answersStrictBuiltinErrors(path: string): boolean {
    return this.router.route(path)?.current?.engine.kind === 'opa';
  }

  /**
   * Evaluates `path` on input given as JSON text (undefined: no input) and gives
   * the result as the engine's JSON text: integers of any size and decimals
   * come back exactly as the policy made them. Synchronous for a pack answered
   * on this thread, a promise for one answered by the decision workers.
   */
  decideJson(
    path: string,
    inputJson: string | undefined,
    options?: EvaluateOptions,
  ): JsonDecision | Promise<JsonDecision> {
    if (this.#tracing?.sampled() !== true) return this.#decideJson(path, inputJson, options);
    return this.#tracedJson(this.#tracing, path, inputJson, options);
  }

  // decideJson in a `warden.decision` span (a sampled one).
  #tracedJson(
    tracing: DecisionTracing,
    path: string,
    inputJson: string | undefined,
    options?: EvaluateOptions,
  ): JsonDecision | Promise<JsonDecision> {
    const { span, ctx } = tracing.start('warden.decision', path);
    const done = (d: JsonDecision): JsonDecision => {
      tracing.finish(span, d, booleanResult(d.resultJson), () => inputJson);
      return d;
    };
    const fail = (err: unknown): never => {
      failed(span, err);
      tracing.finish(span, undefined, undefined, () => inputJson);
      throw err;
    };
    let d: JsonDecision | Promise<JsonDecision>;
    try {
      d = context.with(ctx, () => this.#decideJson(path, inputJson, options));
    } catch (err) {
      return fail(err);
    }
    return d instanceof Promise ? d.then(done, fail) : done(d);
  }

  #decideJson(
    path: string,
    inputJson: string | undefined,
    options?: EvaluateOptions,
  ): JsonDecision | Promise<JsonDecision> {
    const owner = this.router.route(path);
    const active = owner?.current;
    if (active === undefined) return this.#anyPath(path, inputJson);
    // Read with the active version: a decision answered by it is offered to the shadow running beside it.
    const shadow = owner?.shadow;
    const engine = active.engine;
    if (engine.kind !== 'local') return this.#remote(path, active, engine, inputJson, shadow, options);
    const started = process.hrtime.bigint();
    const resultJson = this.#timed(path, active, () => engine.evaluateJson(path, inputJson));
    const base = { ...sourceOf(active), evalNs: Number(process.hrtime.bigint() - started) };
    shadow?.offerJson(path, inputJson, resultJson, base.decisionId);
    return resultJson === undefined ? { defined: false, ...base } : { defined: true, resultJson, ...base };
  }

  /**
   * A path no pack declares (path-plan.ts): each part's entrypoint evaluated where its pack is
   * answered, the rest of the path walked in the result's text, several parts' objects merged.
   * Synchronous when every part is answered on this thread.
   */
  #anyPath(path: string, inputJson: string | undefined): JsonDecision | Promise<JsonDecision> {
    const plan = planPath(path, this.router.actives());
    const texts = plan.parts.map((part) => this.#evaluatePart(path, part, inputJson));
    const finish = (results: ReadonlyArray<string | undefined>): JsonDecision => {
      const values: string[] = [];
      results.forEach((text, i) => {
        const value = text === undefined ? undefined : walkJson(text, plan.parts[i]?.rest ?? []);
        // Merged parts are objects (the path lies above their roots); anything else is not there.
        if (value !== undefined && (!plan.merge || isObject(value))) values.push(value);
      });
      const base = sourceOfParts(plan.parts.map((p) => p.active));
      if (values.length === 0) return { defined: false, ...base };
      return { defined: true, resultJson: plan.merge ? mergeJsonObjects(values) : (values[0] ?? ''), ...base };
    };
    if (texts.some((t) => t instanceof Promise)) return Promise.all(texts.map(async (t) => t)).then(finish);
    return finish(texts as Array<string | undefined>);
  }

  // One part of a plan: its pack's entrypoint evaluated on this thread or in a decision worker.
  #evaluatePart(
    path: string,
    part: PathPart,
    inputJson: string | undefined,
  ): string | undefined | Promise<string | undefined> {
    const { active, entrypoint } = part;
    const engine = active.engine;
    if (engine.kind === 'local') return this.#timed(path, active, () => engine.evaluateJson(entrypoint, inputJson));
    const asked = engine.evaluateJsonAsync(entrypoint, inputJson);
    return (this.#budget === undefined ? asked : this.#budget.bound(entrypoint, active, asked)).then(
      (answer) => {
        this.#observer(active).observe(answer.ns / 1e9);
        return answer.resultJson;
      },
      (err: unknown) => {
        throw evaluationError(path, active, err);
      },
    );
  }

  // The active pack answering `path`; DECISION_PATH_UNKNOWN when none declares it.
  #active(path: string, active: ActivePack | undefined): ActivePack {
    if (!active)
      throw new WardenError('DECISION_PATH_UNKNOWN', `no active pack declares the entrypoint "${path}"`, {
        details: { known: this.router.paths() },
      });
    return active;
  }

  // Runs a local evaluation, observes its latency and codes its failure.
  #timed<T>(path: string, active: ActivePack, evaluate: () => T): T {
    const started = process.hrtime.bigint();
    let evaluation: T;
    try {
      evaluation = evaluate();
    } catch (err) {
      throw evaluationError(path, active, err);
    }
    const ns = Number(process.hrtime.bigint() - started);
    this.#observer(active).observe(ns / 1e9);
    this.#budget?.checkSync(path, active, ns);
    return evaluation;
  }

  // Asks the decision workers or OPA; the latency observed is the worker's own evaluation time, or OPA's round trip.
  async #remote(
    path: string,
    active: ActivePack,
    engine: RemoteEngine,
    inputJson: string | undefined,
    shadow?: ShadowRun,
    options?: EvaluateOptions,
  ): Promise<JsonDecision> {
    let answer;
    try {
      const asked =
        engine.kind === 'opa' && options !== undefined
          ? engine.evaluateJsonAsync(path, inputJson, options)
          : engine.evaluateJsonAsync(path, inputJson);
      answer = await (this.#budget === undefined ? asked : this.#budget.bound(path, active, asked));
    } catch (err) {
      throw evaluationError(path, active, err);
    }
    this.#observer(active).observe(answer.ns / 1e9);
    const base = { ...sourceOf(active), evalNs: answer.ns };
    shadow?.offerJson(path, inputJson, answer.resultJson, base.decisionId);
    return answer.resultJson === undefined
      ? { defined: false, ...base }
      : { defined: true, resultJson: answer.resultJson, ...base };
  }

  // The latency series for this pack version, found on its first decision.
  #observer(active: ActivePack): HistogramSeries {
    let s = this.#series.get(active);
    if (!s) {
      s = this.metrics.decisionDuration.series({
        pack: active.name,
        engine: active.engine.kind === 'opa' ? 'opa' : 'wasm',
      });
      this.#series.set(active, s);
    }
    return s;
  }
}

// A fresh decision id and the pack version that answers.
function sourceOf(active: ActivePack): DecisionSource {
  return { decisionId: nextDecisionId(), pack: active.name, revision: active.revision, digest: active.digest };
}

// The pack versions that answered a path no pack declares: joined by commas when several did,
// empty when none owns the path (the data API then names no pack in its headers).
function sourceOfParts(actives: readonly ActivePack[]): DecisionSource {
  if (actives.length === 1 && actives[0]) return sourceOf(actives[0]);
  return {
    decisionId: nextDecisionId(),
    pack: actives.map((a) => a.name).join(','),
    revision: actives.map((a) => a.revision).join(','),
    digest: actives.map((a) => a.digest).join(','),
  };
}

// A JavaScript input as the engine's JSON text (undefined: no input).
function inputText(path: string, input: unknown, active?: ActivePack): string | undefined {
  try {
    return engineJsonText(input);
  } catch (err) {
    // Too deep to stringify is too deep for the engine too (INPUT_TOO_DEEP); a BigInt or a cycle is the caller's.
    if (err instanceof RangeError && active) throw evaluationError(path, active, err);
    if (err instanceof RangeError)
      throw new WardenError('INPUT_TOO_DEEP', `evaluating ${path}: the input is nested too deeply`, { cause: err });
    throw new WardenError('DECISION_INPUT_INVALID', `the input is not JSON: ${messageOf(err)}`, { cause: err });
  }
}

// What a failed evaluation means: the engine's stack ran out on a deeply nested input
// (the caller's input, a 4xx: INPUT_TOO_DEEP), or the policy failed (DECISION_FAILED).
// Both name the entrypoint and the pack version, for the log line of a 5xx.
function evaluationError(path: string, active: ActivePack, err: unknown): WardenError {
  if (err instanceof WardenError) return err;
  const details = { entrypoint: path, pack: active.name, revision: active.revision, digest: active.digest };
  if (err instanceof RangeError && /call stack/i.test(err.message)) {
    return new WardenError('INPUT_TOO_DEEP', `evaluating ${path}: the input is nested too deeply for the engine`, {
      cause: err,
      details,
    });
  }
  return new WardenError('DECISION_FAILED', `evaluating ${path}: ${messageOf(err)}`, { cause: err, details });
}
