/**
 * `POST /v1/verdict`: the verdict over HTTP. The body is the request context
 * `{tenant, subject, module, action, resource?, purpose?}`; `X-Tenant-ID` and
 * `X-Purpose` may carry the tenant and purpose instead (the load plan's
 * headers). With `governance.tenants` configured the caller's JWT is verified
 * first and its tenant (and `sub`) are the ones that count: a body or header
 * naming another tenant is TENANT_MISMATCH. Answers:
 *   200 `{decision_id, allow, result, reasons, pack, revision, digest, cached}` — allow and deny alike;
 *   503 KILL_SWITCH_ACTIVE with the same fields and the switch (blocked);
 *   401/403/503 from tenant validation; 400 for a malformed context.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { WardenError } from '../errors.js';
import { explain } from '../observe/server-error-log.js';
import { credentialHeaders } from '../util/credential-headers.js';
import { callerOf, singleHeader } from '../govern/verdict/caller.js';
import type { Governance, Verdict } from '../govern/verdict/governance.js';

/** Registers the verdict route; without governance it answers GOVERNANCE_DISABLED (404). */
export function registerVerdictRoute(app: FastifyInstance, governance: Governance | undefined): void {
  app.post<{ Body: unknown }>('/v1/verdict', async (request, reply) => {
    if (!governance)
      throw new WardenError('GOVERNANCE_DISABLED', 'this agent has no governance: block, so it answers no verdicts');
    const body = request.body;
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new WardenError(
        'DECISION_INPUT_INVALID',
        'the body must be a JSON object: {"tenant", "subject", "module", "action", "resource"?, "purpose"?}',
      );
    }
    const context: Record<string, unknown> = { ...(body as Record<string, unknown>) };
    const headerPurpose = singleHeader(request.headers['x-purpose'], 'DECISION_INPUT_INVALID');
    if (headerPurpose !== undefined && context.purpose === undefined) context.purpose = headerPurpose;
    const caller = await callerOf(governance, credentialHeaders(request.raw), context);
    context.tenant = caller.tenant;
    context.subject = caller.subject;
    const verdict = governance.verdict(context, { requestedBy: request.ip });
    return send(request, reply, verdict);
  });
}

// The verdict as JSON; a blocked one as a 503 error body that still carries it.
function send(request: FastifyRequest, reply: FastifyReply, v: Verdict): Record<string, unknown> {
  void reply
    .header('x-warden-pack', v.pack)
    .header('x-warden-revision', v.revision)
    .header('x-warden-decision-id', v.decisionId);
  const body = {
    decision_id: v.decisionId,
    allow: v.allow,
    result: v.result,
    reasons: v.reasons,
    pack: v.pack,
    revision: v.revision,
    digest: v.digest,
    cached: v.cached,
  };
  if (v.result !== 'blocked' || !v.killSwitch) return body;
  void reply.code(503);
  const ks = v.killSwitch;
  const message = `module ${ks.module} is blocked by its kill switch: ${ks.reason}`;
  explain(request, {
    code: 'KILL_SWITCH_ACTIVE',
    message,
    details: { module: ks.module, pack: v.pack, digest: v.digest },
  });
  return { code: 'KILL_SWITCH_ACTIVE', message, details: { ...ks }, ...body };
}
