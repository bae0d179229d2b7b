/**
 * Golden decisions: cases a pack carries (entrypoint, input, expected result),
 * run against a freshly built engine before it may be written or promoted:
 * synchronously on a wasm engine, or through any asynchronous evaluator (OPA).
 */
import { isDeepStrictEqual } from 'node:util';
import type { Evaluation, WasmEngine } from '../engine/wasm.js';
import { WardenError, messageOf } from '../errors.js';
import type { GoldenCase } from './spec.js';

/** Evaluates one entrypoint on an input, asynchronously. */
export type AsyncEvaluator = (entrypoint: string, input: unknown) => Promise<Evaluation>;

/** Runs every case; the first mismatch throws PACK_GOLDEN_FAILED naming it. */
export function runGolden(engine: WasmEngine, cases: readonly GoldenCase[]): void {
  for (const c of cases) {
    let got: Evaluation;
    try {
      got = engine.evaluate(c.entrypoint, c.input ?? null);
    } catch (err) {
      throw evaluationFailed(c, err);
    }
    judge(c, got);
  }
}

/** runGolden through an asynchronous evaluator, one case at a time, in order. */
export async function runGoldenAsync(evaluate: AsyncEvaluator, cases: readonly GoldenCase[]): Promise<void> {
  for (const c of cases) {
    let got: Evaluation;
    try {
      got = await evaluate(c.entrypoint, c.input ?? null);
    } catch (err) {
      throw evaluationFailed(c, err);
    }
    judge(c, got);
  }
}

function evaluationFailed(c: GoldenCase, err: unknown): WardenError {
  return new WardenError('PACK_GOLDEN_FAILED', `golden case "${c.name}": evaluation failed: ${messageOf(err)}`, {
    cause: err,
  });
}

// Throws PACK_GOLDEN_FAILED when the evaluation is not what the case expects.
function judge(c: GoldenCase, got: Evaluation): void {
  const wantUndefined = c.undefined === true || !('expect' in c);
  const ok = wantUndefined ? !got.defined : got.defined && isDeepStrictEqual(got.result, c.expect);
  if (ok) return;
  const want = wantUndefined ? 'undefined' : JSON.stringify(c.expect);
  const have = got.defined ? JSON.stringify(got.result) : 'undefined';
  throw new WardenError(
    'PACK_GOLDEN_FAILED',
    `golden case "${c.name}" (${c.entrypoint}): expected ${want}, got ${have}`,
    {
      details: { case: c.name, entrypoint: c.entrypoint },
    },
  );
}
