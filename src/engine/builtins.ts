/**
 * Which builtins a policy.wasm needs from its host, and whether the embedded
 * engine has them. OPA compiles most builtins into the module itself; the rest
 * (time.*, io.jwt.*, semver.*, units.*, crypto.*, http.send …) are imported and
 * must be provided in JavaScript: host-builtins/ provides opa-wasm's few and
 * Warden's own (time.*, io.jwt.*, semver.*, units.*). Without this check a rule calling
 * another fails only when a decision reaches it, as a 500; with it the pack is
 * refused at build and at activation, naming each builtin and pointing to
 * `engine: opa`, where the real OPA evaluates the policy.
 */
import { WardenError } from '../errors.js';
import { HOST_BUILTIN_NAMES } from './host-builtins/index.js';

/** The builtins the embedded engine provides in JavaScript (host-builtins/). */
export const HOST_BUILTINS: ReadonlySet<string> = new Set(HOST_BUILTIN_NAMES);

/** The parts of a loaded module this reads. */
interface ModuleFields {
  readonly wasmInstance: { readonly exports: Readonly<Record<string, unknown>> };
  readonly mem: { readonly buffer: ArrayBuffer | SharedArrayBuffer };
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
    `the embedded engine does not provide ${missing.length === 1 ? 'the builtin' : 'the builtins'} ${missing.join(', ')}, which the policy calls; write the rule without ${missing.length === 1 ? 'it' : 'them'}, or run the pack with \`engine: opa\`, where the real OPA evaluates it`,
    { details: { builtins: missing, provided: [...HOST_BUILTINS].sort() } },
  );
}
