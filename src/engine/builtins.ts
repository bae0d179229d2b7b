/**
 * Which builtins a policy.wasm needs from its host, and whether the embedded
 * engine has them. OPA compiles most builtins into the module itself; the rest
 * (time.now_ns, io.jwt.*, semver.*, units.*, http.send …) are imported and
 * must be provided in JavaScript, and opa-wasm provides only a few. Without
 * this check such a rule fails only when a decision reaches it, as a 500; with
 * it the pack is refused at build and at activation, naming each builtin.
 */
import { createRequire } from 'node:module';
import { WardenError } from '../errors.js';

const require = createRequire(import.meta.url);

/** The builtins opa-wasm implements in JavaScript (its builtins table, read from the installed package). */
export const HOST_BUILTINS: ReadonlySet<string> = new Set(
  Object.keys(
    createRequire(require.resolve('@open-policy-agent/opa-wasm'))('./builtins/index.js') as Record<string, unknown>,
  ),
);

/** The parts of a loaded module this reads. */
interface ModuleFields {
  readonly wasmInstance: { readonly exports: Readonly<Record<string, unknown>> };
  readonly mem: { readonly buffer: ArrayBuffer };
}

/** The builtins the module imports from its host, sorted (its `builtins()` export: name → id). */
export function importedBuiltins(policy: ModuleFields): string[] {
  const exports = policy.wasmInstance.exports;
  const builtins = exports.builtins as () => number;
  const dump = exports.opa_json_dump as (addr: number) => number;
  const at = dump(builtins());
  const bytes = new Uint8Array(policy.mem.buffer);
  const text = Buffer.from(bytes.subarray(at, bytes.indexOf(0, at))).toString('utf8');
  return Object.keys(JSON.parse(text) as Record<string, number>).sort();
}

/** Throws PACK_BUILTIN_UNSUPPORTED naming every builtin the module imports that the engine lacks. */
export function requireHostBuiltins(imported: readonly string[]): void {
  const missing = imported.filter((b) => !HOST_BUILTINS.has(b));
  if (missing.length === 0) return;
  throw new WardenError(
    'PACK_BUILTIN_UNSUPPORTED',
    `the embedded engine does not provide ${missing.length === 1 ? 'the builtin' : 'the builtins'} ${missing.join(', ')}, which the policy calls`,
    { details: { builtins: missing, provided: [...HOST_BUILTINS].sort() } },
  );
}
