/**
 * `?metrics` on `/v1/data`: OPA's metric names for what Warden measures on each
 * request, in nanoseconds, as measured (never estimated):
 *  - `timer_server_handler_ns`: from the request's arrival (Fastify's onRequest,
 *    before the body is read) to the moment the answer is written;
 *  - `timer_rego_input_parse_ns`: reading the input's JSON (the body parse and depth
 *    check for POST, the `input` parameter's for GET); absent when there was none;
 *  - `timer_rego_query_eval_ns`: the engine's evaluation (the worker's own time when a
 *    decision worker answered).
 * OPA's others (`counter_server_query_cache_hit`, `timer_rego_external_resolve_ns`, the
 * `?instrument` per-operation timers) have no counterpart in Warden and are left out.
 */

const starts = new WeakMap<object, bigint>();
const parses = new WeakMap<object, number>();

/** Notes that `request` arrived now. */
export function markRequestStart(request: object): void {
  starts.set(request, process.hrtime.bigint());
}

/** When `request` arrived (process.hrtime.bigint()), if it was noted. */
export function requestStart(request: object): bigint | undefined {
  return starts.get(request);
}

/** Notes that reading the input of `request` took from `since` (process.hrtime.bigint()) until now. */
export function noteInputParse(request: object, since: bigint): void {
  parses.set(request, Number(process.hrtime.bigint() - since));
}

/** The `"metrics":{…}` member of an answer to `request`, whose evaluation took `evalNs`. */
export function metricsMember(request: object, evalNs: number | undefined): string {
  const m: Record<string, number> = {};
  const parse = parses.get(request);
  if (parse !== undefined) m.timer_rego_input_parse_ns = parse;
  if (evalNs !== undefined) m.timer_rego_query_eval_ns = Math.round(evalNs);
  const start = starts.get(request);
  if (start !== undefined) m.timer_server_handler_ns = Number(process.hrtime.bigint() - start);
  return `"metrics":${JSON.stringify(m)}`;
}
