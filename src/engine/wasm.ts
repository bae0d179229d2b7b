/**
 * The embedded engine: a pack's policy.wasm loaded with @open-policy-agent/opa-wasm
 * and its data document set once. Evaluation is synchronous and does no I/O.
 *
 * Decisions go through OPA's wasm ABI (1.2+, `opa_eval`) as JSON text both ways
 * (wasm-eval.ts): the input's text is written into the module's memory and the
 * result is read back as the engine's own JSON text, so integers of any size
 * and decimals reach the policy and the client exactly as OPA would have them,
 * with no JavaScript number in between. instantiate.ts instantiates the module
 * with the host builtins (host-builtins/: opa-wasm's and Warden's) and sets the data. The data reaches it as JSON
 * text too: given as text by the caller (pack/data.ts's assembleDataText), so that
 * a big data document is parsed once, by the engine, not parsed and stringified first.
 */
import { WardenError, messageOf } from '../errors.js';
import { engineJson, engineJsonText } from './json-text.js';
import { openEvaluator, type LoadedPolicyFields } from './wasm-eval.js';
import { importedBuiltins, requireHostBuiltins } from './builtins.js';
import { hostBuiltins, resetContext, type EvaluationContext } from './host-builtins/index.js';
import {
  adoptPolicy,
  compileModule,
  instantiateModule,
  instantiatePolicy,
  newMemory,
  type HeapState,
  type PolicyInstance,
  type WasmMemory,
  type WasmModule,
} from './instantiate.js';
import { shareImportedMemory } from './share-memory.js';

/** A JSON object (pack/data.ts's JsonObject, declared here so that engine/ imports nothing from pack/, which imports engine/). */
type JsonObject = { [key: string]: unknown };

/** What evaluating one entrypoint gives: OPA's "undefined" is `defined: false`. */
export type Evaluation = { readonly defined: true; readonly result: unknown } | { readonly defined: false };

/** A loaded policy, ready to answer decisions. */
export interface WasmEngine {
  readonly kind: 'local';
  /** Every compiled entrypoint: the declared ones and the package and root ones (pack/path-entrypoints.ts). */
  readonly entrypoints: readonly string[];
  /**
   * True for an engine that evaluates any data path itself (`evaluateJson('a/b/c', …)`), as an
   * engine holding the Rego can: the decider then hands it the path as is. The wasm engine
   * answers only its compiled entrypoints (absent: false), and the decider walks the rest.
   */
  readonly answersAnyPath?: boolean;
  /** Evaluates on a JavaScript value; the result is parsed (numbers become doubles). */
  evaluate(entrypoint: string, input: unknown): Evaluation;
  /**
   * Evaluates on input given as JSON text (undefined: no input; the text must be
   * valid JSON and pass through engineText first) and gives the result's JSON text
   * exactly as the engine wrote it, or undefined when the decision is undefined.
   */
  evaluateJson(entrypoint: string, inputJson: string | undefined): string | undefined;
}

const EMPTY_OBJECT = new TextEncoder().encode('{}').buffer;

const PAGE = 64 * 1024;
// opa-wasm's default initial memory, in pages.
const MIN_PAGES = 5;
// opa's malloc fails at 65536 pages (4 GiB: its size arithmetic is 32-bit).
const MAX_PAGES = 65_535;
// The engine's heap after parsing a data document, per byte of its text: 12.7 for a document
// of 100,000 small objects (a users directory), near 1 for long strings; rounded up.
const HEAP_PER_DATA_BYTE = 16;

/**
 * The wasm memory to start with, sized for the data document. Growing it as the engine's
 * parser allocates, a page at a time, made parsing that 7.9 MB users document take 5–13 s
 * instead of 0.5–1 s (bench/activation.bench.ts). Pages never touched cost no resident
 * memory (the reservation is virtual), so over-estimating is cheap.
 */
export function initialPages(dataBytes: number): number {
  return Math.min(MAX_PAGES, Math.max(MIN_PAGES, Math.ceil((dataBytes * HEAP_PER_DATA_BYTE) / PAGE) + MIN_PAGES));
}

// An ArrayBuffer holding exactly the view's bytes (opa-wasm reads the whole buffer): the
// view's own when it spans it, else a copy.
function exactBuffer(view: Uint8Array): ArrayBuffer {
  const { buffer } = view;
  if (buffer instanceof ArrayBuffer && view.byteOffset === 0 && view.byteLength === buffer.byteLength) return buffer;
  return Uint8Array.from(view).buffer;
}

/**
 * An engine prepared on one thread for another (workers/preparer-thread.ts): the compiled module,
 * the shared memory holding the parsed data, and where the data and heap are. The thread that
 * prepared it must not touch the memory after handing it over.
 */
export interface EngineHandover extends HeapState {
  readonly module: WasmModule;
  readonly memory: WasmMemory;
}

/**
 * Compiles policy.wasm, sets the data document and returns the engine. `data` is the
 * document, or its UTF-8 JSON text already checked and engine-ready (assembleDataText:
 * valid JSON, an object, no lone surrogate escape, valid UTF-8); the engine's parser
 * accepts some invalid JSON, so unchecked text must not come here. A module that does not
 * load is PACK_MANIFEST_INVALID; data the engine cannot take (out of its 4 GiB memory) is
 * PACK_DATA_INVALID.
 */
export async function loadWasmEngine(wasm: Uint8Array, data: JsonObject | Uint8Array): Promise<WasmEngine> {
  return (await loadEngine(wasm, data, false)).engine;
}

/**
 * loadWasmEngine on a shared memory: the engine, and what another thread needs to adopt it
 * (adoptWasmEngine). The module's memory import is rewritten to a shared one (share-memory.ts).
 */
export async function loadSharedWasmEngine(
  wasm: Uint8Array,
  data: JsonObject | Uint8Array,
): Promise<{ readonly engine: WasmEngine; readonly handover: EngineHandover }> {
  const { engine, handover } = await loadEngine(wasm, data, true);
  if (!handover) throw new Error('a shared load gives a handover');
  return { engine, handover };
}

/**
 * The engine of a handover, on this thread: a new instance of the module over the shared memory,
 * with this thread's host builtins. Synchronous, and O(1) in the data's size.
 */
export function adoptWasmEngine(handover: EngineHandover): WasmEngine {
  const host = hostBuiltins();
  const policy = adoptPolicy(handover.module, handover.memory, host.table, handover);
  const engine = engineOf(policy, host.context);
  // V8 counts an unshared wasm memory as its thread's external memory, which makes a released
  // engine's memory collected soon; a shared memory made on another thread is not counted here,
  // so released engines piled up (+60–70 MiB resident per activation of a 10 MB pack, until a
  // collection happened for other reasons). An ArrayBuffer of the memory's size, held by the
  // engine and never touched (no resident pages), is counted in its place.
  try {
    Object.defineProperty(engine, 'externalMemoryHint', { value: new ArrayBuffer(handover.memory.buffer.byteLength) });
  } catch {
    // Out of address space for the hint: the engine works without it.
  }
  return engine;
}

async function loadEngine(
  wasm: Uint8Array,
  data: JsonObject | Uint8Array,
  shared: boolean,
): Promise<{ readonly engine: WasmEngine; readonly handover: EngineHandover | undefined }> {
  const text = data instanceof Uint8Array ? exactBuffer(data) : (engineJson(data) ?? EMPTY_OBJECT);
  const host = hostBuiltins();
  const initial = initialPages(text.byteLength);
  let policy: PolicyInstance;
  let module: WasmModule | undefined;
  let memory: WasmMemory | undefined;
  try {
    if (shared) {
      module = await compileModule(shareImportedMemory(wasm, MAX_PAGES));
      memory = newMemory(initial, MAX_PAGES);
      policy = instantiateModule(module, memory, host.table);
    } else {
      policy = await instantiatePolicy(Uint8Array.from(wasm).buffer, initial, host.table);
    }
  } catch (err) {
    if (err instanceof WardenError) throw err;
    throw new WardenError('PACK_MANIFEST_INVALID', `policy.wasm does not load: ${messageOf(err)}`, { cause: err });
  }
  // Refused here (build and activation both load the engine), not at the first decision that calls
  // it; and before the data is parsed, which for a large document is the costly part.
  requireHostBuiltins(importedBuiltins(policy));
  try {
    policy.setData(text);
  } catch (err) {
    throw new WardenError(
      'PACK_DATA_INVALID',
      `the data document (${text.byteLength} bytes of JSON) does not load into the engine: ${messageOf(err)}`,
      { cause: err, details: { bytes: text.byteLength } },
    );
  }
  const engine = engineOf(policy, host.context);
  const handover =
    module && memory
      ? {
          module,
          memory,
          baseHeapPtr: policy.baseHeapPtr,
          dataHeapPtr: policy.dataHeapPtr,
          dataAddr: policy.dataAddr,
        }
      : undefined;
  return { engine, handover };
}

function engineOf(policy: LoadedPolicyFields, context: EvaluationContext): WasmEngine {
  // Each decision is one OPA query: time.now_ns is fixed at its first call within it, and
  // uuid.rfc4122 gives one answer per key within it.
  const evaluateJson = openEvaluator(policy, () => resetContext(context));
  const entrypoints = Object.keys(policy.entrypoints);
  return {
    kind: 'local',
    entrypoints,
    evaluateJson,
    evaluate(entrypoint: string, input: unknown): Evaluation {
      const out = evaluateJson(entrypoint, engineJsonText(input));
      return out === undefined ? { defined: false } : { defined: true, result: JSON.parse(out) as unknown };
    },
  };
}
