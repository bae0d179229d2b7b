/**
 * A refused request as data: the HTTP status, the `{code, message, details}`
 * body the agent's own API answers with, and the headers to send. A deny or a
 * block is a verdict (it carries the decision id); anything else is a coded
 * WardenError from tenant validation or the context check.
 */
import { httpStatusOf, type WardenError, type ErrorCode } from '../../errors.js';
import type { Verdict } from '../verdict/governance.js';

/** The JSON body of a refusal, shaped like the agent API's errors. */
export interface RefusalBody {
  readonly code: ErrorCode;
  readonly message: string;
  readonly details: Readonly<Record<string, unknown>>;
}

/** A request the governance step refused; send `body` as JSON with `status` and `headers`. */
export interface Refusal {
  readonly ok: false;
  readonly status: number;
  readonly body: RefusalBody;
  readonly headers: Readonly<Record<string, string>>;
}

/** The header naming the verdict's decision id (find it in the decision log). */
export const DECISION_ID_HEADER = 'x-warden-decision-id';

/**
 * The HTTP status of a WardenError met on the governance step: the registry's,
 * except that a governance pack that is not (yet) active is the service's
 * trouble, not the caller's: 503, where the agent's data API says 404 for an unknown path.
 */
export function statusOf(err: WardenError): number {
  return err.code === 'DECISION_PATH_UNKNOWN' ? 503 : httpStatusOf(err.code);
}

/** The refusal for a deny (403 POLICY_DENIED) or a block (503 KILL_SWITCH_ACTIVE). */
export function verdictRefusal(v: Verdict): Refusal {
  const headers = { [DECISION_ID_HEADER]: v.decisionId };
  const ks = v.killSwitch;
  if (v.result === 'blocked' && ks) {
    return {
      ok: false,
      status: 503,
      body: {
        code: 'KILL_SWITCH_ACTIVE',
        message: `module ${ks.module} is blocked by its kill switch: ${ks.reason}`,
        details: { module: ks.module, reason: ks.reason, source: ks.source, decision_id: v.decisionId },
      },
      headers,
    };
  }
  return {
    ok: false,
    status: 403,
    body: {
      code: 'POLICY_DENIED',
      message: `the governance policy denied the request (${v.reasons.join(', ') || 'no reason given'})`,
      details: { reasons: v.reasons, decision_id: v.decisionId },
    },
    headers,
  };
}

/** The refusal for a coded error; a 401 carries its WWW-Authenticate challenge. */
export function errorRefusal(err: WardenError): Refusal {
  const challenge = err.details['wwwAuthenticate'];
  return {
    ok: false,
    status: statusOf(err),
    body: { code: err.code, message: err.message, details: err.details },
    headers: typeof challenge === 'string' ? { 'www-authenticate': challenge } : {},
  };
}
