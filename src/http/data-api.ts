/**
 * OPA's data API over the Decider:
 *  - `POST /v1/data/{path}`: `{"input": …}` in, `{result, decision_id}` out; an
 *    undefined result is `{decision_id}` alone, as in OPA.
 *  - `GET /v1/data/{path}?input=…`: the same, the input as a query parameter
 *    (the last one when repeated, as OPA takes it).
 *  - Any path, `/v1/data` itself included: a declared entrypoint, an undeclared
 *    rule, a package, a data document (the Decider plans the paths no pack
 *    declares, decide/path-plan.ts); a path no pack owns is undefined.
 *  - `POST /v0/data/{path}` and `POST /` (the configured default decision): the
 *    body is the input itself and the answer is the bare result; undefined is
 *    404 DECISION_UNDEFINED.
 * Response headers name the pack version that answered. With a decision log,
 * each decision is enqueued to it (never written here). OPA's query parameters
 * (`?pretty`, `?metrics`, `?strict-builtin-errors` …) are read as query-options.ts
 * says, and errors leave in OPA's shape (opa-errors.ts, from the server's handler).
 *
 * The input reaches the engine as the client's own JSON text and the result
 * leaves as the engine's: integers beyond 2^53 and decimals like `1.0` are
 * decided and answered exactly as OPA would, never through a JavaScript number.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { WardenError, messageOf } from '../errors.js';
import { jsonDecisionEvent, type DecisionLog } from '../decision-log/decision-log.js';
import type { Decider, JsonDecision } from '../decide/decider.js';
import { engineText } from '../engine/json-text.js';
import { bodyTextOf } from './body-text.js';
import { jsonDeeperThan } from './json-depth.js';
import { memberText } from '../engine/json-member.js';
import { metricsMember, noteInputParse } from './opa-metrics.js';
import { indentJson } from './pretty-json.js';
import { opaFlag, opaQueryOptions, refuseStrictBuiltinErrors, type Query } from './query-options.js';

/** How the data API is set up. */
export interface DataApiOptions {
  readonly decisionLog?: Pick<DecisionLog, 'enqueue'> | undefined;
  /** The path `POST /` answers (OPA's default_decision), e.g. `system/main`. */
  readonly defaultDecision: string;
  /** Deepest nesting an input in a query parameter may have (limits.max_json_depth). */
  readonly maxJsonDepth: number;
}

type Shape = 'v1' | 'v1-no-input' | 'bare';

// What OPA adds to a `POST /v1/data` answer when the body has no `input` member.
const NO_INPUT_WARNING = `"warning":{"code":"api_usage_warning","message":"'input' key missing from the request"}`;

/** Registers the data API on app. */
export function registerDataApi(app: FastifyInstance, decider: Decider, opts: DataApiOptions): void {
  const { decisionLog } = opts;

  // `/v1/data/{path}`, and `/v1/data` itself (the whole data document) as the empty path.
  type V1Post = FastifyRequest<{ Params: { '*'?: string }; Body: unknown; Querystring: Query }>;
  type V1Get = FastifyRequest<{ Params: { '*'?: string }; Querystring: Query }>;
  const postV1 = (request: V1Post, reply: FastifyReply): FastifyReply | Promise<FastifyReply> => {
    const path = pathOf(request.params['*'] ?? '');
    const strict = strictBuiltinErrors(request.query, path);
    const body = request.body;
    if (body !== undefined && body !== null && (typeof body !== 'object' || Array.isArray(body))) {
      throw new WardenError('DECISION_INPUT_INVALID', 'the body must be a JSON object like {"input": …}');
    }
    const text = body === undefined || body === null ? undefined : bodyTextOf(request);
    const input = text === undefined ? undefined : memberText(text, 'input');
    // OPA warns a POST without an `input` member (it evaluates without input all the same).
    return decide(request, reply, path, input, input === undefined ? 'v1-no-input' : 'v1', strict);
  };
  const getV1 = (request: V1Get, reply: FastifyReply): FastifyReply | Promise<FastifyReply> => {
    const path = pathOf(request.params['*'] ?? '');
    const strict = strictBuiltinErrors(request.query, path);
    const given = request.query.input;
    const raw = Array.isArray(given) ? given.at(-1) : given;
    if (raw !== undefined) {
      const started = process.hrtime.bigint();
      checkQueryInput(raw, opts.maxJsonDepth);
      noteInputParse(request, started);
    }
    return decide(request, reply, path, raw, 'v1', strict);
  };
  for (const url of ['/v1/data/*', '/v1/data']) {
    app.post(url, postV1);
    app.get(url, getV1);
  }

  app.post<{ Params: { '*': string }; Body: unknown }>('/v0/data/*', (request, reply) =>
    decide(request, reply, pathOf(request.params['*']), bodyTextOf(request), 'bare'),
  );

  app.post<{ Body: unknown }>('/', (request, reply) =>
    decide(request, reply, pathOf(opts.defaultDecision), bodyTextOf(request), 'bare'),
  );

  // OPA's strict-builtin-errors asked for: passed to a real OPA (engine: opa); refused where the wasm engine answers.
  function strictBuiltinErrors(query: Query, path: string): boolean {
    if (!opaFlag(query, 'strict-builtin-errors')) return false;
    if (!decider.answersStrictBuiltinErrors(path)) refuseStrictBuiltinErrors();
    return true;
  }

  // Decides `path` on the raw input text and answers in the route's shape.
  function decide(
    request: FastifyRequest,
    reply: FastifyReply,
    path: string,
    raw: string | undefined,
    shape: Shape,
    strict = false,
  ): FastifyReply | Promise<FastifyReply> {
    const input = raw === undefined ? undefined : engineText(raw);
    const decision = strict
      ? decider.decideJson(path, input, { strictBuiltinErrors: true })
      : decider.decideJson(path, input);
    if (!(decision instanceof Promise)) return answer(request, reply, path, raw, decision, shape);
    return decision.then((d) => answer(request, reply, path, raw, d, shape));
  }

  // Logs the decision and sends it: the result's JSON text spliced into OPA's answer.
  function answer(
    request: FastifyRequest,
    reply: FastifyReply,
    path: string,
    raw: string | undefined,
    decision: JsonDecision,
    shape: Shape,
  ): FastifyReply {
    decisionLog?.enqueue(jsonDecisionEvent(path, raw, decision, { requested_by: request.ip }));
    // Which pack answered: lets clients (and the zero-failed-decisions test) tie a decision to a version.
    // A path no pack owns names none (several, comma-separated, when a parent path merged packs' documents).
    if (decision.pack !== '') {
      void reply
        .header('x-warden-pack', decision.pack)
        .header('x-warden-revision', decision.revision)
        .header('x-warden-digest', decision.digest);
    }
    void reply.header('x-warden-decision-id', decision.decisionId);
    const options = opaQueryOptions(request.query as Query | undefined);
    const text = (json: string): string => (options.pretty ? indentJson(json) : json);
    if (shape === 'bare') {
      if (!decision.defined || decision.resultJson === undefined) {
        throw new WardenError('DECISION_UNDEFINED', `document undefined: data.${path.replaceAll('/', '.')}`, {
          details: { path, decision_id: decision.decisionId },
        });
      }
      return reply.type('application/json; charset=utf-8').send(text(decision.resultJson));
    }
    const id = JSON.stringify(decision.decisionId);
    const metrics = options.metrics ? `,${metricsMember(request, decision.evalNs)}` : '';
    return reply
      .type('application/json; charset=utf-8')
      .send(
        text(
          `{${decision.defined ? `"result":${decision.resultJson},` : ''}"decision_id":${id}${metrics}${shape === 'v1-no-input' ? `,${NO_INPUT_WARNING}` : ''}}`,
        ),
      );
  }
}

// `a/b` from a route's wildcard (or a configured path), without surrounding slashes.
function pathOf(wildcard: string): string {
  return wildcard.replace(/^\/+|\/+$/g, '');
}

// A query parameter's input must be JSON and no deeper than the body limit allows.
function checkQueryInput(raw: string, maxDepth: number): void {
  try {
    JSON.parse(raw);
  } catch (err) {
    throw new WardenError('DECISION_INPUT_INVALID', `the input parameter is not JSON: ${messageOf(err)}`);
  }
  if (jsonDeeperThan(raw, maxDepth)) {
    throw new WardenError(
      'INPUT_TOO_DEEP',
      `the input parameter nests arrays and objects more than ${maxDepth} levels deep (limits.max_json_depth)`,
      { details: { limit: maxDepth } },
    );
  }
}
