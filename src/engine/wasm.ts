/**
 * The embedded engine: a pack's policy.wasm loaded with @open-policy-agent/opa-wasm
 * and its data document set once. Evaluation is synchronous and does no I/O.
 * Input and data reach it as JSON text made by engineJson (json-text.ts).
 */
import { loadPolicy } from '@open-policy-agent/opa-wasm';
import { WardenError, messageOf } from '../errors.js';
import { engineJson } from './json-text.js';

/** A JSON object (pack/data.ts's JsonObject, declared here so that engine/ imports nothing from pack/, which imports engine/). */
type JsonObject = { [key: string]: unknown };

/** What evaluating one entrypoint gives: OPA's "undefined" is `defined: false`. */
export type Evaluation = { readonly defined: true; readonly result: unknown } | { readonly defined: false };

/** A loaded policy, ready to answer decisions. */
export interface WasmEngine {
  readonly entrypoints: readonly string[];
  evaluate(entrypoint: string, input: unknown): Evaluation;
}

interface ResultSet {
  result: unknown;
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
  const entrypoints = Object.keys(policy.entrypoints as Record<string, number>);
  return {
    entrypoints,
    evaluate(entrypoint: string, input: unknown): Evaluation {
      const set = policy.evaluate(engineJson(input), entrypoint) as ResultSet[];
      const first = set[0];
      return first === undefined || !('result' in first) ? { defined: false } : { defined: true, result: first.result };
    },
  };
}
