/**
 * `POST /v1/data/{path}`: OPA's data API over the active wasm engine. Input in,
 * `{result, decision_id}` out; an undefined result is `{decision_id}` alone, as
 * in OPA. The hot path does no I/O: one route lookup, one synchronous
 * evaluation, one histogram observation.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { WardenError } from '../errors.js';
import type { WardenMetrics } from '../observe/metrics.js';
import type { DecisionRouter } from './router.js';

/** Registers the data API on app. */
export function registerDataApi(app: FastifyInstance, router: DecisionRouter, metrics: WardenMetrics): void {
  app.post<{ Params: { '*': string }; Body: unknown }>('/v1/data/*', (request, reply) => {
    const path = request.params['*'].replace(/^\/+|\/+$/g, '');
    const activator = router.route(path);
    const active = activator?.current;
    if (!activator || !active) {
      throw new WardenError('DECISION_PATH_UNKNOWN', `no active pack declares the entrypoint "${path}"`, { details: { known: router.paths() } });
    }
    const body = request.body;
    if (body !== undefined && body !== null && (typeof body !== 'object' || Array.isArray(body))) {
      throw new WardenError('DECISION_INPUT_INVALID', 'the body must be a JSON object like {"input": …}');
    }
    const input = (body as { input?: unknown } | null | undefined)?.input;
    const started = process.hrtime.bigint();
    let evaluation;
    try {
      evaluation = active.engine.evaluate(path, input);
    } catch (err) {
      throw new WardenError('DECISION_FAILED', `evaluating ${path}: ${(err as Error).message}`, { cause: err });
    }
    metrics.decisionDuration.observe({ pack: active.name, engine: 'wasm' }, Number(process.hrtime.bigint() - started) / 1e9);
    // Which pack answered: lets clients (and the zero-failed-decisions test) tie a decision to a version.
    void reply.header('x-warden-pack', active.name).header('x-warden-revision', active.revision).header('x-warden-digest', active.digest);
    const decisionId = randomUUID();
    return evaluation.defined ? { result: evaluation.result, decision_id: decisionId } : { decision_id: decisionId };
  });
}
