/**
 * OPA's query parameters on the data API, read as OPA reads them: `?name` alone or
 * `?name=true` (any case, any of several values) is on; absent, `=false`, `=1` or
 * anything else is off. Which parameters Warden honours, and how:
 *  - `pretty`: indented JSON (pretty-json.ts), on every data route, as OPA.
 *  - `metrics` (and `instrument`, which implies it in OPA): OPA's metric names that
 *    Warden measures (opa-metrics.ts), on `/v1/data` only, as OPA.
 *  - `strict-builtin-errors`: on `/v1/data`, passed to OPA for a path a pack with
 *    `engine: opa` answers; refused with 400 STRICT_BUILTIN_ERRORS_UNSUPPORTED where the
 *    wasm engine answers (it cannot tell a failed builtin from an undefined one);
 *    `/v0/data` and `POST /` ignore it, as OPA does.
 *  - `explain`, `provenance`: ignored (the answer has no `explanation`/`provenance`).
 */
import { WardenError } from '../errors.js';

/** A request's query as Fastify parses it. */
export type Query = Readonly<Record<string, string | string[] | undefined>>;

/** The options one data request asked for. */
export interface OpaQueryOptions {
  readonly pretty: boolean;
  readonly metrics: boolean;
}

/** True when OPA would read the boolean parameter `name` as on. */
export function opaFlag(query: Query, name: string): boolean {
  const given = query[name];
  if (given === undefined) return false;
  const values = Array.isArray(given) ? given : [given];
  if (values.length === 1 && values[0] === '') return true;
  return values.some((v) => v.toLowerCase() === 'true');
}

/** The options of a data request (`query` undefined: none). */
export function opaQueryOptions(query: Query | undefined): OpaQueryOptions {
  if (query === undefined) return { pretty: false, metrics: false };
  return { pretty: opaFlag(query, 'pretty'), metrics: opaFlag(query, 'metrics') || opaFlag(query, 'instrument') };
}

/** Throws STRICT_BUILTIN_ERRORS_UNSUPPORTED: a `/v1/data` request asked for strict builtin errors where the wasm engine answers. */
export function refuseStrictBuiltinErrors(): never {
  throw new WardenError(
    'STRICT_BUILTIN_ERRORS_UNSUPPORTED',
    'strict-builtin-errors cannot be honoured on this path: the embedded wasm engine evaluates a failing builtin (to_number("x"), 1/0 …) as undefined and cannot tell it from an undefined result; ask without the parameter (or with strict-builtin-errors=false) for OPA\'s default semantics, or run the pack with `engine: opa`, which passes the parameter to OPA',
  );
}
