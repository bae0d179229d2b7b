/**
 * One evaluation through OPA's wasm ABI 1.2 (`opa_eval`), JSON text in and out.
 * This is what opa-wasm's own `evaluate` does on its fast path, minus the
 * JSON.parse of the result and the copy of the input: the input's UTF-8 is
 * encoded straight into the module's memory above the data, and the result set
 * (`[{"result":…}]`, or `[]` when undefined) is read back as text.
 *
 * The fields read from opa-wasm's LoadedPolicy (instance, memory, data address,
 * heap pointer, entrypoint ids) are the ones its own evaluate uses.
 */
import { WardenError } from '../errors.js';
import { valueNotationToJson } from './rego-value.js';

/** The parts of opa-wasm's LoadedPolicy this evaluator drives. */
export interface LoadedPolicyFields {
  readonly wasmInstance: { readonly exports: Readonly<Record<string, unknown>> };
  readonly mem: { readonly buffer: ArrayBuffer | SharedArrayBuffer; grow(pages: number): number };
  readonly dataAddr: number;
  readonly dataHeapPtr: number;
  readonly minorVersion: number | undefined;
  readonly entrypoints: Readonly<Record<string, number>>;
}

type OpaEval = (
  reserved: number,
  entrypoint: number,
  data: number,
  input: number,
  inputLen: number,
  heap: number,
  format: number,
) => number;

const PAGE = 64 * 1024;
const HEAD = '[{"result":';
const TAIL = '}]';
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * An evaluator over `policy`: (entrypoint, input JSON text) → result JSON text, or undefined.
 * `beforeEach` runs once before each evaluation (which may run the module twice, see below).
 */
export function openEvaluator(
  policy: LoadedPolicyFields,
  beforeEach?: () => void,
): (entrypoint: string, inputJson: string | undefined) => string | undefined {
  if ((policy.minorVersion ?? 0) < 2) {
    throw new WardenError(
      'PACK_MANIFEST_INVALID',
      'policy.wasm is built for wasm ABI 1.0/1.1; rebuild it with opa 0.30 or newer',
    );
  }
  const opaEval = policy.wasmInstance.exports.opa_eval as OpaEval;
  const { mem, dataAddr, dataHeapPtr, entrypoints } = policy;
  let view = new Uint8Array(mem.buffer);
  // Entrypoints that answered with an array or an object: asked in value notation from then on,
  // so that sets and object keys come out in OPA's order (rego-value.ts).
  const structured = new Set<number>();
  const run = (id: number, inputJson: string | undefined, format: 0 | 1): string => {
    let inputLen = 0;
    if (inputJson !== undefined) {
      // UTF-8 takes at most three bytes per UTF-16 unit.
      const room = dataHeapPtr + inputJson.length * 3 - mem.buffer.byteLength;
      if (room > 0) mem.grow(Math.ceil(room / PAGE));
      if (view.buffer !== mem.buffer) view = new Uint8Array(mem.buffer);
      inputLen = encoder.encodeInto(inputJson, view.subarray(dataHeapPtr)).written;
    }
    const at = opaEval(
      0,
      id,
      dataAddr,
      inputJson === undefined ? 0 : dataHeapPtr,
      inputLen,
      dataHeapPtr + inputLen,
      format,
    );
    if (view.buffer !== mem.buffer) view = new Uint8Array(mem.buffer);
    return decoder.decode(view.subarray(at, view.indexOf(0, at)));
  };
  return (entrypoint, inputJson) => {
    const id = entrypoints[entrypoint];
    if (id === undefined) throw new Error(`entrypoint ${entrypoint} is not in this policy`);
    beforeEach?.();
    let text: string;
    if (structured.has(id)) {
      text = inOpaOrder(run(id, inputJson, 1)) ?? run(id, inputJson, 0);
    } else {
      text = run(id, inputJson, 0);
      if (text.length > HEAD.length + TAIL.length + 1 && /[[{]/.test(text.slice(HEAD.length))) {
        structured.add(id);
        text = inOpaOrder(run(id, inputJson, 1)) ?? text;
      }
    }
    if (text === '[]') return undefined;
    if (text.startsWith(HEAD) && text.endsWith(TAIL)) return text.slice(HEAD.length, -TAIL.length);
    // Any other shape of result set: take its first result the slow way.
    const set = JSON.parse(text) as Array<{ result?: unknown }>;
    const first = set[0];
    return first === undefined || !('result' in first) ? undefined : JSON.stringify(first.result);
  };
}

// The result set in value notation rewritten as JSON in OPA's order; undefined if it cannot be
// read (then the caller keeps the engine's JSON, whose only difference is the order).
function inOpaOrder(notation: string): string | undefined {
  try {
    return valueNotationToJson(notation);
  } catch {
    return undefined;
  }
}
