/**
 * Instantiates a policy.wasm with Warden's host builtins (host-builtins/), in place
 * of opa-wasm's loadPolicy, and gives the fields opa-wasm's LoadedPolicy has that
 * the evaluator (wasm-eval.ts) and the builtin check (builtins.ts) read.
 *
 * Builtin calls cross as JSON text both ways: each argument is dumped by the
 * engine (opa_json_dump) and handed over with its text, so that integers beyond
 * 2^53 (nanosecond timestamps) are exact; the result's text is parsed by the
 * engine (opa_json_parse). A builtin that throws or has no result leaves the call
 * undefined (address 0), which is what OPA does with a builtin error outside
 * strict-builtin-errors mode, instead of aborting the whole evaluation. A builtin
 * whose result is a set returns it in value notation (ValueNotation), parsed by
 * opa_value_parse.
 */
import type { LoadedPolicyFields } from './wasm-eval.js';
import { ValueNotation, type HostArg, type HostBuiltin } from './host-builtins/index.js';

type Exports = Readonly<Record<string, unknown>>;

// The parts of the WebAssembly global this uses (the project's TypeScript libs do not declare it).
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface WasmApi {
  Memory: new (descriptor: { initial: number }) => WasmMemory;
  Global: abstract new (...args: never[]) => { value: unknown };
  instantiate(
    bytes: ArrayBuffer,
    imports: Record<string, Record<string, unknown>>,
  ): Promise<{ instance: { exports: Exports } }>;
}
const wasmApi = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

/** A module ready to take its data and evaluate. */
export interface PolicyInstance extends LoadedPolicyFields {
  /** Sets the data document from its UTF-8 JSON text (engine-ready, see json-text.ts). */
  setData(text: ArrayBuffer): void;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Instantiates `wasm` with `initial` pages of memory and the builtins of `table`. */
export async function instantiatePolicy(
  wasm: ArrayBuffer,
  initial: number,
  table: ReadonlyMap<string, HostBuiltin>,
): Promise<PolicyInstance> {
  const mem = new wasmApi.Memory({ initial });
  let exports: Exports = {};
  let names: Record<number, string> = {};

  const cString = (addr: number): string => {
    const bytes = new Uint8Array(mem.buffer);
    return decoder.decode(bytes.subarray(addr, bytes.indexOf(0, addr)));
  };
  const dump = (addr: number): string => cString((exports.opa_json_dump as (a: number) => number)(addr));
  const valueDump = (addr: number): string => cString((exports.opa_value_dump as (a: number) => number)(addr));
  const load = (text: string | ArrayBuffer | ValueNotation): number => {
    const notation = text instanceof ValueNotation;
    const source = notation ? text.text : text;
    const bytes = typeof source === 'string' ? encoder.encode(source) : new Uint8Array(source);
    const at = (exports.opa_malloc as (n: number) => number)(bytes.byteLength);
    new Uint8Array(mem.buffer).set(bytes, at);
    const parse = (notation ? exports.opa_value_parse : exports.opa_json_parse) as (a: number, n: number) => number;
    const parsed = parse(at, bytes.byteLength);
    if (parsed === 0) throw new Error(`the engine could not parse a ${notation ? 'value' : 'JSON value'}`);
    return parsed;
  };
  const call = (id: number, ...addrs: number[]): number => {
    const name = names[id] ?? String(id);
    const impl = table.get(name);
    if (impl === undefined) throw new Error(`not implemented: built-in function ${name}`);
    let out: string | ValueNotation | undefined;
    try {
      const args: HostArg[] = addrs.map((addr) => {
        const text = dump(addr);
        return { text, value: JSON.parse(text) as unknown, notation: () => valueDump(addr) };
      });
      out = impl(args);
    } catch {
      return 0;
    }
    return out === undefined ? 0 : load(out);
  };

  const imports = {
    env: {
      memory: mem,
      opa_abort: (addr: number): never => {
        throw new Error(cString(addr));
      },
      opa_println: (addr: number): void => {
        process.stdout.write(`${cString(addr)}\n`);
      },
      opa_builtin0: (id: number) => call(id),
      opa_builtin1: (id: number, _ctx: number, a: number) => call(id, a),
      opa_builtin2: (id: number, _ctx: number, a: number, b: number) => call(id, a, b),
      opa_builtin3: (id: number, _ctx: number, a: number, b: number, c: number) => call(id, a, b, c),
      opa_builtin4: (id: number, _ctx: number, a: number, b: number, c: number, d: number) => call(id, a, b, c, d),
    },
  };
  const { instance } = await wasmApi.instantiate(wasm, imports);
  exports = instance.exports;
  const abi = globalValue(exports.opa_wasm_abi_version);
  if (abi !== undefined && abi !== 1) throw new Error(`unsupported ABI version ${abi}`);
  const minorVersion = globalValue(exports.opa_wasm_abi_minor_version);
  const builtinIds = JSON.parse(dump((exports.builtins as () => number)())) as Record<string, number>;
  names = Object.fromEntries(Object.entries(builtinIds).map(([name, id]) => [id, name]));

  const heapGet = exports.opa_heap_ptr_get as () => number;
  const heapSet = exports.opa_heap_ptr_set as (p: number) => void;
  const policy = {
    wasmInstance: instance,
    mem,
    minorVersion,
    dataAddr: load('{}'),
    baseHeapPtr: 0,
    dataHeapPtr: 0,
    entrypoints: JSON.parse(dump((exports.entrypoints as () => number)())) as Record<string, number>,
    setData(text: ArrayBuffer): void {
      heapSet(policy.baseHeapPtr);
      policy.dataAddr = load(text);
      policy.dataHeapPtr = heapGet();
    },
  };
  policy.baseHeapPtr = heapGet();
  policy.dataHeapPtr = policy.baseHeapPtr;
  return policy;
}

// A wasm global's value (or a plain number), undefined when the module lacks it.
function globalValue(g: unknown): number | undefined {
  if (typeof g === 'number') return g;
  if (g instanceof wasmApi.Global && typeof g.value === 'number') return g.value;
  return undefined;
}
