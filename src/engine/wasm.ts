/**
 * The embedded engine: a pack's policy.wasm loaded with @open-policy-agent/opa-wasm
 * and its data document set once. Evaluation is synchronous and does no I/O.
 *
 * Decisions go through OPA's wasm ABI (1.2+, `opa_eval`) as JSON text both ways
 * (wasm-eval.ts): the input's text is written into the module's memory and the
 * result is read back as the engine's own JSON text, so integers of any size
 * and decimals reach the policy and the client exactly as OPA would have them,
 * with no JavaScript number in between. opa-wasm itself is used to instantiate
 * the module, provide the builtins and set the data.
 */
import { loadPolicy } from '@open-policy-agent/opa-wasm';
import { WardenError, messageOf } from '../errors.js';
import { engineJson, engineJsonText } from './json-text.js';
import { openEvaluator } from './wasm-eval.js';
import { importedBuiltins, requireHostBuiltins } from './builtins.js';

/** A JSON object (pack/data.ts's JsonObject, declared here so that engine/ imports nothing from pack/, which imports engine/). */
type JsonObject = { [key: string]: unknown };

/** What evaluating one entrypoint gives: OPA's "undefined" is `defined: false`. */
export type Evaluation = { readonly defined: true; readonly result: unknown } | { readonly defined: false };

/** A loaded policy, ready to answer decisions. */
export interface WasmEngine {
  readonly kind: 'local';
  readonly entrypoints: readonly string[];
  /** Evaluates on a JavaScript value; the result is parsed (numbers become doubles). */
  evaluate(entrypoint: string, input: unknown): Evaluation;
  /**
   * Evaluates on input given as JSON text (undefined: no input; the text must be
   * valid JSON and pass through engineText first) and gives the result's JSON text
   * exactly as the engine wrote it, or undefined when the decision is undefined.
   */
  evaluateJson(entrypoint: string, inputJson: string | undefined): string | undefined;
}

/** Compiles policy.wasm, sets the data document and returns the engine. */
export async function loadWasmEngine(wasm: Uint8Array, data: JsonObject): Promise<WasmEngine> {
  let policy: Awaited<ReturnType<typeof loadPolicy>>;
  try {
    // opa-wasm wants an ArrayBuffer-backed view of exactly the module bytes.
    policy = await loadPolicy(Uint8Array.from(wasm).buffer);
    policy.setData(engineJson(data) ?? {});
  } catch (err) {
    throw new WardenError('PACK_MANIFEST_INVALID', `policy.wasm does not load: ${messageOf(err)}`, { cause: err });
  }
  // Refused here (build and activation both load the engine), not at the first decision that calls it.
  requireHostBuiltins(importedBuiltins(policy));
  const evaluateJson = openEvaluator(policy);
  const entrypoints = Object.keys(policy.entrypoints as Record<string, number>);
  return {
    kind: 'local',
    entrypoints,
    evaluateJson,
    evaluate(entrypoint: string, input: unknown): Evaluation {
      const text = evaluateJson(entrypoint, engineJsonText(input));
      return text === undefined ? { defined: false } : { defined: true, result: JSON.parse(text) as unknown };
    },
  };
}
