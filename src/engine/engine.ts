/**
 * Where a pack's engine lives. A local engine (wasm.ts) is evaluated on the
 * thread that holds it, synchronously. A pooled engine lives in every decision
 * worker (src/workers/) and is asked through messages: asynchronous, and never
 * held up by another pack's activation on the primary thread.
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

/** Either kind. */
export type Engine = WasmEngine | PooledEngine;

/** The engine as a local one, or undefined when it lives in the workers. */
export function localEngine(engine: Engine): WasmEngine | undefined {
  return engine.kind === 'pooled' ? undefined : engine;
}

/** The engine as a local one; DECISION_ASYNC_ONLY when it lives in the workers (a synchronous caller cannot wait). */
export function requireLocal(engine: Engine, pack: string): WasmEngine {
  if (engine.kind === 'local') return engine;
  throw new WardenError('DECISION_ASYNC_ONLY', `pack ${pack} is answered by decision workers, not on this thread`, {
    details: { pack },
  });
}

/** Lets go of an engine that stopped being active: a pooled one is unloaded from the workers; a local one is left to the GC. */
export function releaseEngine(engine: Engine): void {
  if (engine.kind === 'pooled') engine.release();
}
