/**
 * Where a pack's engine lives. A local engine (wasm.ts) is evaluated on the
 * thread that holds it, synchronously. A pooled engine lives in every decision
 * worker (src/workers/) and is asked through messages: asynchronous, and never
 * held up by another pack's activation on the primary thread. An OPA engine is
 * a real OPA process (src/opa-engine/), asked over HTTP: asynchronous too.
 */
import { WardenError } from '../errors.js';
import type { WasmEngine } from './wasm.js';

/** What a decision worker answers: the result's JSON text (absent: undefined) and the evaluation time. */
export interface RemoteEvaluation {
  readonly resultJson: string | undefined;
  /** Nanoseconds the evaluation took inside the worker. */
  readonly ns: number;
}

/** A pack loaded into the decision workers. */
export interface PooledEngine {
  readonly kind: 'pooled';
  readonly entrypoints: readonly string[];
  /** See WasmEngine.answersAnyPath. */
  readonly answersAnyPath?: boolean;
  /** Evaluates on input JSON text (undefined: no input) in a worker. Rejects with a coded error. */
  evaluateJsonAsync(entrypoint: string, inputJson: string | undefined): Promise<RemoteEvaluation>;
  /** Unloads the pack from every worker (after it stopped being active, or was never activated). */
  release(): void;
}

/** How one remote evaluation is asked for. */
export interface EvaluateOptions {
  /** OPA's `strict-builtin-errors`: a failing builtin fails the decision instead of leaving it undefined (engine: opa only). */
  readonly strictBuiltinErrors?: boolean;
}

/** A pack delivered to a real OPA process (engine: opa). */
export interface OpaEngine {
  readonly kind: 'opa';
  readonly entrypoints: readonly string[];
  /** OPA answers any path under the pack's roots itself: nothing to plan or walk. */
  readonly answersAnyPath: true;
  /** Evaluates any path under the pack's roots in OPA; rejects with a coded error (OPA_UNAVAILABLE, OPA_DECISION_TIMEOUT …). */
  evaluateJsonAsync(path: string, inputJson: string | undefined, options?: EvaluateOptions): Promise<RemoteEvaluation>;
  /** Called when the pack stops being active or was never activated: OPA is given back the active pack's bundle if it holds this one. */
  release(): void;
}

/** An engine asked asynchronously: in the decision workers or in OPA. */
export type RemoteEngine = PooledEngine | OpaEngine;

/** Any kind. */
export type Engine = WasmEngine | RemoteEngine;

/** The engine as a local one, or undefined when it lives in the workers. */
export function localEngine(engine: Engine): WasmEngine | undefined {
  return engine.kind === 'local' ? engine : undefined;
}

/** The engine as a local one; DECISION_ASYNC_ONLY when it lives in the workers (a synchronous caller cannot wait). */
export function requireLocal(engine: Engine, pack: string): WasmEngine {
  if (engine.kind === 'local') return engine;
  const where = engine.kind === 'opa' ? 'OPA' : 'decision workers';
  throw new WardenError('DECISION_ASYNC_ONLY', `pack ${pack} is answered by ${where}, not on this thread`, {
    details: { pack },
  });
}

// What else holds a copy of an engine (the serving processes, src/serve/): told when it is released.
const releaseHooks = new WeakMap<Engine, () => void>();

/** Calls `hook` once when `engine` is released (releaseEngine): for copies of a local engine held elsewhere. */
export function onEngineRelease(engine: Engine, hook: () => void): void {
  releaseHooks.set(engine, hook);
}

/** Lets go of an engine that stopped being active: a pooled one is unloaded from the workers, an OPA one may give OPA back the active bundle; a local one is left to the GC (its copies elsewhere are dropped). */
export function releaseEngine(engine: Engine): void {
  const hook = releaseHooks.get(engine);
  if (hook) {
    releaseHooks.delete(engine);
    hook();
  }
  if (engine.kind !== 'local') engine.release();
}
