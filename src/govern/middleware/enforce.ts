/**
 * The governance step of a service's own request pipeline, framework-free
 * (the Fastify plugin and the Express middleware are thin shells over it).
 * Per request, by the rules of POST /v1/verdict (http/verdict-route.ts):
 *   1. the service says what the request does (`context(req)`: module, action…);
 *   2. who calls, for which tenant: with `governance.tenants` configured, the
 *      verified JWT (its tenant, its `sub`; an X-Tenant-ID naming another
 *      tenant is TENANT_MISMATCH); otherwise X-Tenant-ID, which must be sent
 *      once — there is never a default tenant. X-Purpose fills a missing purpose;
 *   3. the verdict: allow passes, deny is 403 POLICY_DENIED, a kill switch 503.
 * Refusals are data (`{ok: false, status, body, headers}`); only a bug, such
 * as a `context` that throws something other than a WardenError, rejects.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { JWTPayload } from 'jose';
import { WardenError } from '../../errors.js';
import type { CredentialHeaders } from '../../util/credential-headers.js';
import type { WardenMetrics } from '../../observe/metrics.js';
import { callerOf, singleHeader } from '../verdict/caller.js';
import type { Governance, Verdict } from '../verdict/governance.js';
import { DECISION_ID_HEADER, errorRefusal, verdictRefusal, type Refusal } from './refusal.js';

/** What the enforcer reads of a request: Node's IncomingMessage, Express's and Fastify's requests all fit. */
export interface RequestLike {
  readonly headers: IncomingHttpHeaders;
  readonly method?: string | undefined;
  readonly socket?: { readonly remoteAddress?: string | undefined } | undefined;
}

/** What a request does, as the service sees it. The tenant is not the service's to say. */
export interface RequestAction {
  readonly module: string;
  readonly action: string;
  readonly resource?: string | undefined;
  /** Else the X-Purpose header, if sent. */
  readonly purpose?: string | undefined;
  /** Used when the verified token has no `sub` (or tenants are not verified); must equal `sub` when both are given. */
  readonly subject?: string | undefined;
}

export interface EnforcerOptions<Req extends RequestLike = RequestLike> {
  /** The verdict service (`RunningAgent.governance`). */
  readonly governance: Governance;
  /** Called once per request, before any I/O. */
  readonly context: (req: Req) => RequestAction;
  /** Where to observe the step's duration: http_request_duration_seconds{middleware="governance"}. */
  readonly metrics?: WardenMetrics | undefined;
  /** The `route` label of that histogram (keep it low-cardinality: a route template). Default `governance`. */
  readonly route?: ((req: Req) => string) | undefined;
}

/** What the governance step established about a request it let through. */
export interface RequestGovernance {
  readonly tenant: string;
  readonly subject: string;
  /** The verified token's claims; undefined when tenants are not verified. */
  readonly claims: Readonly<JWTPayload> | undefined;
  readonly verdict: Verdict;
}

/** A request let through, with the headers to add to its response (the decision id). */
export interface Pass {
  readonly ok: true;
  readonly governance: RequestGovernance;
  readonly headers: Readonly<Record<string, string>>;
}

/** The outcome of the governance step for one request. */
export type Enforcement = Pass | Refusal;

/** Runs the governance step for a request (its headers, and the request `context` is called with). */
export type Enforcer<Req extends RequestLike = RequestLike> = (
  headers: CredentialHeaders,
  req: Req,
) => Promise<Enforcement>;

/** Builds the governance step; throws CONFIG_INVALID listing every bad option. */
export function createEnforcer<Req extends RequestLike>(options: EnforcerOptions<Req>): Enforcer<Req> {
  checkOptions(options);
  const { governance, context, metrics, route } = options;
  if (!metrics) return (headers, req) => enforce(governance, context, headers, req);
  const histogram = metrics.httpDuration;
  return async (headers, req) => {
    const started = process.hrtime.bigint();
    let status = 500; // what a rejection (a bug) becomes at the framework's error handler
    try {
      const outcome = await enforce(governance, context, headers, req);
      status = outcome.ok ? 200 : outcome.status;
      return outcome;
    } finally {
      const labels = {
        route: route ? route(req) : 'governance',
        method: req.method ?? 'UNKNOWN',
        status_code: String(status),
        middleware: 'governance',
      };
      histogram.observe(labels, Number(process.hrtime.bigint() - started) / 1e9);
    }
  };
}

// The three steps; a WardenError on the way becomes its refusal.
async function enforce<Req extends RequestLike>(
  governance: Governance,
  context: (req: Req) => RequestAction,
  headers: CredentialHeaders,
  req: Req,
): Promise<Enforcement> {
  let verdict: Verdict;
  let tenant: string;
  let subject: string;
  let claims: Readonly<JWTPayload> | undefined;
  try {
    const action = context(req);
    const caller = await callerOf(governance, headers, { subject: action.subject });
    if (caller.tenant === undefined)
      throw new WardenError('TENANT_MISSING', 'the request has no X-Tenant-ID header; there is no default tenant', {
        details: { reason: 'tenant_header_missing' },
      });
    const purpose = action.purpose ?? singleHeader(headers['x-purpose'], 'DECISION_INPUT_INVALID');
    const asked = {
      tenant: caller.tenant,
      subject: caller.subject,
      module: action.module,
      action: action.action,
      resource: action.resource,
      purpose,
    };
    verdict = governance.verdict(asked, { requestedBy: req.socket?.remoteAddress });
    // verdict() validated both: a tenant id and a non-empty subject.
    tenant = caller.tenant as string;
    subject = caller.subject as string;
    claims = caller.claims;
  } catch (err) {
    if (err instanceof WardenError) return errorRefusal(err);
    throw err;
  }
  if (!verdict.allow) return verdictRefusal(verdict);
  return {
    ok: true,
    governance: { tenant, subject, claims, verdict },
    headers: { [DECISION_ID_HEADER]: verdict.decisionId },
  };
}

// Every problem with the options at once, as one CONFIG_INVALID.
function checkOptions(o: EnforcerOptions<never>): void {
  const problems: string[] = [];
  if (typeof o?.governance?.verdict !== 'function')
    problems.push('governance: must be a Governance (RunningAgent.governance)');
  if (typeof o?.context !== 'function')
    problems.push('context: must be a function (req) => {module, action, resource?, purpose?, subject?}');
  if (o?.route !== undefined && typeof o.route !== 'function')
    problems.push('route: must be a function (req) => string');
  if (o?.metrics !== undefined && typeof o.metrics?.httpDuration?.observe !== 'function')
    problems.push('metrics: must be WardenMetrics (RunningAgent.metrics)');
  if (problems.length > 0)
    throw new WardenError('CONFIG_INVALID', `governance middleware: ${problems.join('; ')}`, { details: { problems } });
}
