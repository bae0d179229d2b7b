/**
 * `POST /v1/data/{path}`: OPA's data API over the Decider. Input in,
 * `{result, decision_id}` out; an undefined result is `{decision_id}` alone, as
 * in OPA. Response headers name the pack version that answered. With a
 * decision log, each decision is enqueued to it (never written here).
 */
import type { FastifyInstance } from 'fastify';
import { WardenError } from '../errors.js';
import { decisionEvent, type DecisionLog } from '../decision-log/decision-log.js';
import type { Decider } from '../decide/decider.js';

/** Registers the data API on app. */
export function registerDataApi(app: FastifyInstance, decider: Decider, decisionLog?: DecisionLog): void {
  app.post<{ Params: { '*': string }; Body: unknown }>('/v1/data/*', (request, reply) => {
    const path = request.params['*'].replace(/^\/+|\/+$/g, '');
    const body = request.body;
    if (body !== undefined && body !== null && (typeof body !== 'object' || Array.isArray(body))) {
      throw new WardenError('DECISION_INPUT_INVALID', 'the body must be a JSON object like {"input": …}');
    }
    const input = (body as { input?: unknown } | null | undefined)?.input;
    const decision = decider.decide(path, input);
    decisionLog?.enqueue(decisionEvent(path, input, decision, { requested_by: request.ip }));
    // Which pack answered: lets clients (and the zero-failed-decisions test) tie a decision to a version.
    void reply
      .header('x-warden-pack', decision.pack)
      .header('x-warden-revision', decision.revision)
      .header('x-warden-digest', decision.digest);
    return decision.defined
      ? { result: decision.result, decision_id: decision.decisionId }
      : { decision_id: decision.decisionId };
  });
}
