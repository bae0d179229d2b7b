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
/** A WebAssembly.Memory; `shared` ones have a SharedArrayBuffer and can be posted to another thread. */
export interface WasmMemory {
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
  grow(pages: number): number;
}
/** A compiled WebAssembly.Module (structured-cloneable: it can be posted to another thread). */
export type WasmModule = object & { readonly __wasmModule?: never };
type Imports = Record<string, Record<string, unknown>>;
interface WasmApi {
  Memory: new (descriptor: { initial: number; maximum?: number; shared?: boolean }) => WasmMemory;
  Global: abstract new (...args: never[]) => { value: unknown };
  Instance: new (module: WasmModule, imports: Imports) => { exports: Exports };
  compile(bytes: Uint8Array): Promise<WasmModule>;
  instantiate(bytes: ArrayBuffer, imports: Imports): Promise<{ instance: { exports: Exports } }>;
}
const wasmApi = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

/** A fresh memory of `initial` pages: shared (up to `maximum` pages) when `maximum` is given. */
export function newMemory(initial: number, maximum?: number): WasmMemory {
  return maximum === undefined
    ? new wasmApi.Memory({ initial })
    : new wasmApi.Memory({ initial, maximum, shared: true });
}

/** Compiles a module (off the caller's thread's hot path: the preparer thread does this). */
export function compileModule(bytes: Uint8Array): Promise<WasmModule> {
  return wasmApi.compile(bytes);
}

/** Where a prepared engine's data lives in its memory: what adoption needs besides the module and memory. */
export interface HeapState {
  readonly baseHeapPtr: number;
  readonly dataHeapPtr: number;
  readonly dataAddr: number;
}

/** A module ready to take its data and evaluate. */
export interface PolicyInstance extends LoadedPolicyFields {
  /** The heap pointer before any data: where setData starts again. */
  readonly baseHeapPtr: number;
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
  return instantiateModule(await compileModule(new Uint8Array(wasm)), newMemory(initial), table);
}

/** Instantiates a compiled module on `mem` (a fresh memory, shared or not) with the builtins of `table`. */
export function instantiateModule(
  module: WasmModule,
  mem: WasmMemory,
  table: ReadonlyMap<string, HostBuiltin>,
): PolicyInstance {
  return bindPolicy(mem, table, (imports) => new wasmApi.Instance(module, imports).exports);
}

/**
 * Adopts an engine prepared on another thread: a new instance of `module` on the memory that
 * already holds the parsed data (`state`), with this thread's builtins. Instantiation re-applies
 * the module's data segments (its C statics); the engine's heap is re-established by
 * opa_heap_ptr_set, which also clears its free lists. No data is copied or parsed: O(1) in the
 * data's size.
 */
export function adoptPolicy(
  module: WasmModule,
  mem: WasmMemory,
  table: ReadonlyMap<string, HostBuiltin>,
  state: HeapState,
): PolicyInstance {
  return bindPolicy(
    mem,
    table,
    (imports) => {
      const exports = new wasmApi.Instance(module, imports).exports;
      const heapSet = exports.opa_heap_ptr_set as (p: number) => void;
      heapSet(state.dataHeapPtr);
      // The engine's allocator must carry on above the data: one whose state instantiation had
      // reset would hand out memory over the data document.
      const probe = (exports.opa_malloc as (n: number) => number)(1);
      if (probe < state.dataHeapPtr) {
        throw new Error(`the adopted engine allocates at ${probe}, below its data (heap at ${state.dataHeapPtr})`);
      }
      heapSet(state.dataHeapPtr);
      return exports;
    },
    state,
  );
}

// The policy over the instance `instantiate` makes with the imports given: a fresh one (its data
// is `{}` until setData), or an adopted one (`adopted`: its data is already in memory).
function bindPolicy(
  mem: WasmMemory,
  table: ReadonlyMap<string, HostBuiltin>,
  instantiate: (imports: Imports) => Exports,
  adopted?: HeapState,
): PolicyInstance {
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
  exports = instantiate(imports);
  const abi = globalValue(exports.opa_wasm_abi_version);
  if (abi !== undefined && abi !== 1) throw new Error(`unsupported ABI version ${abi}`);
  const minorVersion = globalValue(exports.opa_wasm_abi_minor_version);
  const builtinIds = JSON.parse(dump((exports.builtins as () => number)())) as Record<string, number>;
  names = Object.fromEntries(Object.entries(builtinIds).map(([name, id]) => [id, name]));

  const heapGet = exports.opa_heap_ptr_get as () => number;
  const heapSet = exports.opa_heap_ptr_set as (p: number) => void;
  const policy = {
    wasmInstance: { exports },
    mem,
    minorVersion,
    dataAddr: adopted ? adopted.dataAddr : load('{}'),
    baseHeapPtr: 0,
    dataHeapPtr: 0,
    entrypoints: JSON.parse(dump((exports.entrypoints as () => number)())) as Record<string, number>,
    setData(text: ArrayBuffer): void {
      heapSet(policy.baseHeapPtr);
      policy.dataAddr = load(text);
      policy.dataHeapPtr = heapGet();
    },
  };
  if (adopted) {
    // What the dumps above allocated is given back: the heap starts right above the data again.
    heapSet(adopted.dataHeapPtr);
    policy.baseHeapPtr = adopted.baseHeapPtr;
    policy.dataHeapPtr = adopted.dataHeapPtr;
    return policy;
  }
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
