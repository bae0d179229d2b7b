/**
 * `POST /v1/data/{path}`: OPA's data API over the Decider. Input in,
 * `{result, decision_id}` out; an undefined result is `{decision_id}` alone, as
 * in OPA. Response headers name the pack version that answered. With a
 * decision log, each decision is enqueued to it (never written here).
 *
 * The input reaches the engine as the client's own JSON text and the result
 * leaves as the engine's: integers beyond 2^53 and decimals like `1.0` are
 * decided and answered exactly as OPA would, never through a JavaScript number.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { WardenError } from '../errors.js';
import { jsonDecisionEvent, type DecisionLog } from '../decision-log/decision-log.js';
import type { Decider, JsonDecision } from '../decide/decider.js';
import { engineText } from '../engine/json-text.js';
import { bodyTextOf } from './body-text.js';
import { memberText } from './json-member.js';

/** Registers the data API on app. */
export function registerDataApi(app: FastifyInstance, decider: Decider, decisionLog?: DecisionLog): void {
  app.post<{ Params: { '*': string }; Body: unknown }>('/v1/data/*', (request, reply) => {
    const path = request.params['*'].replace(/^\/+|\/+$/g, '');
    const body = request.body;
    if (body !== undefined && body !== null && (typeof body !== 'object' || Array.isArray(body))) {
      throw new WardenError('DECISION_INPUT_INVALID', 'the body must be a JSON object like {"input": …}');
    }
    const text = body === undefined || body === null ? undefined : bodyTextOf(request);
    const raw = text === undefined ? undefined : memberText(text, 'input');
    const inputJson = raw === undefined ? undefined : engineText(raw);
    const decision = decider.decideJson(path, inputJson);
    if (!(decision instanceof Promise)) return answer(reply, path, raw, decision);
    return decision.then((d) => answer(reply, path, raw, d));
  });

  // Logs the decision and sends it: the result's JSON text spliced into OPA's answer.
  function answer(reply: FastifyReply, path: string, raw: string | undefined, decision: JsonDecision): FastifyReply {
    decisionLog?.enqueue(jsonDecisionEvent(path, raw, decision, { requested_by: reply.request.ip }));
    // Which pack answered: lets clients (and the zero-failed-decisions test) tie a decision to a version.
    const id = JSON.stringify(decision.decisionId);
    return reply
      .header('x-warden-pack', decision.pack)
      .header('x-warden-revision', decision.revision)
      .header('x-warden-digest', decision.digest)
      .type('application/json; charset=utf-8')
      .send(decision.defined ? `{"result":${decision.resultJson},"decision_id":${id}}` : `{"decision_id":${id}}`);
  }
}
