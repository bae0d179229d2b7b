/**
 * The builtins Warden provides to policy.wasm modules from JavaScript, beyond
 * those OPA compiles into the module: opa-wasm's own (json.is_valid, regex.split,
 * yaml.*) and Warden's (sprintf with Go's fmt, time.*, io.jwt.*, semver.*, units.*, uuid.*,
 * urlquery.*, crypto hashes and HMACs, hex.*, base64url.encode_no_pad,
 * net.cidr_is_valid, net.cidr_merge, net.cidr_expand). Each engine gets
 * its own table, sharing one EvaluationContext that the evaluator resets before
 * each decision.
 */
import { createRequire } from 'node:module';
import { cidrBuiltins } from './cidr.js';
import { cryptoBuiltins } from './crypto.js';
import { jwtBuiltins } from './jwt.js';
import { jwtSignBuiltins } from './jwt-sign.js';
import { semverBuiltins } from './semver.js';
import { sprintf } from './sprintf.js';
import { timeBuiltins } from './time.js';
import { timeParseBuiltins } from './time-parse.js';
import { unitsBuiltins } from './units.js';
import { urlqueryBuiltins } from './urlquery.js';
import { uuidBuiltins } from './uuid.js';
import type { EvaluationContext, HostBuiltin } from './types.js';

export type { EvaluationContext, HostArg, HostBuiltin } from './types.js';
export { ValueNotation } from './types.js';
export { resetContext } from './types.js';

const require = createRequire(import.meta.url);

/** opa-wasm's builtins table (its src/builtins), read from the installed package: parsed values in, a value out. */
const OPA_WASM_BUILTINS = createRequire(require.resolve('@open-policy-agent/opa-wasm'))(
  './builtins/index.js',
) as Record<string, (...args: unknown[]) => unknown>;

/** A host table and the context its builtins share. */
export interface HostBuiltins {
  readonly table: ReadonlyMap<string, HostBuiltin>;
  readonly context: EvaluationContext;
}

/** A fresh table of every host builtin, with its own evaluation context. */
export function hostBuiltins(): HostBuiltins {
  const context: EvaluationContext = { nowNs: undefined, uuids: new Map() };
  const table = new Map<string, HostBuiltin>();
  for (const [name, fn] of Object.entries(OPA_WASM_BUILTINS)) {
    table.set(name, (args) => JSON.stringify(fn(...args.map((a) => a.value))));
  }
  for (const [name, fn] of Object.entries({
    ...timeBuiltins(context),
    ...timeParseBuiltins,
    ...jwtBuiltins(context),
    ...jwtSignBuiltins,
    ...semverBuiltins,
    ...unitsBuiltins,
    ...uuidBuiltins(context),
    ...urlqueryBuiltins,
    ...cryptoBuiltins,
    ...cidrBuiltins,
    sprintf,
  })) {
    table.set(name, fn);
  }
  return { table, context };
}

/** The names of every builtin the host provides, sorted. */
export const HOST_BUILTIN_NAMES: readonly string[] = [...hostBuiltins().table.keys()].sort();
