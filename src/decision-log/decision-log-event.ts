/**
 * The decision-log event, in OPA's decision-log shape (docs: "Decision Logs",
 * management-decision-logs): one JSON object per decision with `labels`,
 * `decision_id`, `bundles` (`{<name>: {revision}}`), `path`, `input`,
 * `result` (absent when undefined), `requested_by`, `timestamp` (RFC 3339)
 * and optional `metrics`, `req_id`, `error`. A tool that reads OPA's logs
 * reads Warden's; a Warden pack plays the part of an OPA bundle.
 *
 * The request path builds the event (decisionEvent) and enqueues it; labels
 * and, unless given, the timestamp are added by the writer thread, so the
 * hot path formats no date.
 */
import type { Decision, JsonDecision } from '../decide/decider.js';

/** Labels on every line: OPA's instance `id` and `version`, plus any configured. */
export interface DecisionLogLabels {
  readonly id: string;
  readonly version: string;
  readonly [label: string]: string;
}

/**
 * What the request path enqueues. Must not be mutated after enqueue: it is handed to the
 * writer thread later, by structured clone, and written there as JSON. So the line holds
 * the event's data: a value with its own `toJSON` (other than a Date's) is written as the
 * plain data it clones to; an event structured clone refuses (a function in it) is sent
 * as its JSON (writer-thread.ts).
 */
export interface DecisionLogEvent {
  readonly decision_id: string;
  /** The queried entrypoint, as OPA writes it: `authz/allow`. */
  readonly path: string;
  readonly input?: unknown;
  /** The decision's result; absent when the decision was undefined. */
  readonly result?: unknown;
  /** The pack that decided, as OPA names bundles: `{ authz: { revision: "42" } }`. */
  readonly bundles: Readonly<Record<string, { readonly revision: string }>>;
  /** RFC 3339; absent: the time of enqueue. */
  readonly timestamp?: string;
  /** The client address, for decisions made over HTTP. */
  readonly requested_by?: string;
  readonly req_id?: number;
  /** Timers and counters of the evaluation, OPA style: `{ timer_rego_query_eval_ns: 5100 }`. */
  readonly metrics?: Readonly<Record<string, number>>;
  /** Why the decision failed, as data (a WardenError's toJSON()). */
  readonly error?: unknown;
  /**
   * The input and result as exact JSON text, when the decision was made on text
   * (the HTTP data API): written as they are, in place of `input` and `result`,
   * so the log holds what the client sent and what the engine answered.
   */
  readonly raw?: { readonly input?: string | undefined; readonly result?: string | undefined };
}

/** One line on disk: the event with its labels and a timestamp. */
export interface DecisionLogLine extends DecisionLogEvent {
  readonly labels: DecisionLogLabels;
  readonly timestamp: string;
}

/**
 * The event for `decision`, answered on `path` with `input`. One fixed-shape
 * literal (absent fields left undefined, which JSON omits), and the `bundles`
 * object of the last pack revision reused: spreads and a computed key cost
 * ~0.7 µs a call here (bench/decision-log.bench.ts).
 */
export function decisionEvent(
  path: string,
  input: unknown,
  decision: Decision,
  extra?: Pick<DecisionLogEvent, 'requested_by' | 'req_id' | 'metrics'>,
): DecisionLogEvent {
  return {
    decision_id: decision.decisionId,
    path,
    input,
    result: decision.defined ? decision.result : undefined,
    bundles: bundlesOf(decision.pack, decision.revision),
    timestamp: undefined,
    requested_by: extra?.requested_by,
    req_id: extra?.req_id,
    metrics: extra?.metrics,
    raw: undefined,
  };
}

/** The event for a decision made on JSON text (Decider.decideJson): input and result logged as exact text. */
export function jsonDecisionEvent(
  path: string,
  inputJson: string | undefined,
  decision: JsonDecision,
  extra?: Pick<DecisionLogEvent, 'requested_by' | 'req_id' | 'metrics'>,
): DecisionLogEvent {
  return {
    decision_id: decision.decisionId,
    path,
    input: undefined,
    result: undefined,
    bundles: bundlesOf(decision.pack, decision.revision),
    timestamp: undefined,
    requested_by: extra?.requested_by,
    req_id: extra?.req_id,
    metrics: extra?.metrics,
    raw: { input: inputJson, result: decision.resultJson },
  };
}

let lastBundles: { pack: string; revision: string; bundles: DecisionLogEvent['bundles'] } | undefined;

// `{ <pack>: { revision } }`, the same frozen object while the pack revision stays.
function bundlesOf(pack: string, revision: string): DecisionLogEvent['bundles'] {
  if (lastBundles?.pack !== pack || lastBundles.revision !== revision) {
    const bundles: Record<string, { readonly revision: string }> = {};
    bundles[pack] = Object.freeze({ revision });
    lastBundles = { pack, revision, bundles: Object.freeze(bundles) };
  }
  return lastBundles.bundles;
}

/**
 * The NDJSON line of one event enqueued at `enqueuedAt` (ms since the epoch);
 * throws if the event is not JSON (a BigInt, a cycle). The labels' JSON is made
 * once, the event is stringified as it is (no spread into a new object), and
 * the timestamp is formatted once per millisecond. Runs on the writer thread
 * (decision-log-writer.ts), not on the one answering decisions.
 */
export function lineFormatter(labels: DecisionLogLabels): (event: DecisionLogEvent, enqueuedAt: number) => string {
  const head = `{"labels":${JSON.stringify(labels)},`;
  let lastMs = Number.NaN;
  let lastStamp = '';
  return (event, enqueuedAt) => {
    const body = event.raw === undefined ? JSON.stringify(event) : withRawText(event, event.raw);
    // An event always has decision_id, path and bundles; a user-built empty one still gives valid JSON.
    const fields = body.length > 2 ? `${body.slice(1, -1)},` : '';
    if (event.timestamp !== undefined) return `${head}${fields.slice(0, -1)}}\n`;
    if (enqueuedAt !== lastMs) {
      lastMs = enqueuedAt;
      lastStamp = JSON.stringify(new Date(enqueuedAt).toISOString());
    }
    return `${head}${fields}"timestamp":${lastStamp}}\n`;
  };
}

// The event's JSON with its raw input and result text spliced in as members. A line break in
// JSON text can only be whitespace between tokens (strings cannot hold one), so it becomes a space.
function withRawText(event: DecisionLogEvent, raw: NonNullable<DecisionLogEvent['raw']>): string {
  const rest = JSON.stringify({ ...event, raw: undefined, input: undefined, result: undefined });
  const members =
    (raw.input === undefined ? '' : `"input":${oneLine(raw.input)},`) +
    (raw.result === undefined ? '' : `"result":${oneLine(raw.result)},`);
  return `{${members}${rest.slice(1)}`;
}

function oneLine(json: string): string {
  return json.includes('\n') || json.includes('\r') ? json.replace(/[\r\n]/g, ' ') : json;
}
