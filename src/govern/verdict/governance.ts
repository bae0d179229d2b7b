/**
 * The verdict (docs/design.md#governance): one synchronous call answers allow, deny or blocked
 * for a request context, with reasons, the pack revision and a fresh decision
 * id. In order, all in one turn and with no I/O:
 *   1. the context is validated into a fixed shape (the policy input);
 *   2. the module's kill switch is read from memory (blocked → no evaluation);
 *   3. the decision cache is asked (key → get), else the verdict entrypoint is
 *      evaluated and cached (set) — one turn, so no activation (hence no flush)
 *      can fall in between; a hit from another pack digest is not used;
 *   4. the answer is counted and enqueued to the decision log.
 * HTTP (http/verdict-route.ts), the Fastify plugin and the Express middleware all
 * call verdict(). A sampled share of verdicts (`tracing.decisions.sample`) is
 * traced as a `warden.verdict` span with the outcome (allow, deny, blocked).
 */
import { context as otelContext } from '@opentelemetry/api';
import type { Registry } from 'prom-client';
import type { Decider, Decision } from '../../decide/decider.js';
import { nextDecisionId } from '../../decide/decision-id.js';
import type { DecisionRouter } from '../../decide/router.js';
import { WardenError } from '../../errors.js';
import type { Logger } from '../../observe/logger.js';
import type { DecisionTracing } from '../../observe/decision-tracing.js';
import { ATTR, failed } from '../../observe/tracing.js';
import type { DecisionCache } from '../cache/decision-cache.js';
import { scrapedCounter } from '../../observe/scraped-counter.js';
import { decisionEvent, type DecisionLog } from '../../decision-log/decision-log.js';
import type { KillSwitches, SwitchState } from './kill-switch.js';
import type { TenantContext, TenantHeaders, TenantValidator } from '../tenant/tenant.js';
import {
  FAIL_CLOSED_ANSWER,
  parsePolicyAnswer,
  parseVerdictContext,
  type PolicyAnswer,
  type VerdictContext,
} from './verdict-shape.js';

export type { VerdictContext } from './verdict-shape.js';

/** One verdict. `allow` is the only field a caller needs to enforce. */
export interface Verdict {
  readonly allow: boolean;
  /** `blocked`: a kill switch stopped the request before the policy was asked (HTTP 503). */
  readonly result: 'allow' | 'deny' | 'blocked';
  readonly reasons: readonly string[];
  readonly decisionId: string;
  /** The pack that answered (the kill-switch pack for a blocked verdict). */
  readonly pack: string;
  readonly revision: string;
  readonly digest: string;
  /** True when the answer came from the decision cache. */
  readonly cached: boolean;
  /** The switch, for a blocked verdict. */
  readonly killSwitch?: { readonly module: string; readonly reason: string; readonly source: SwitchState['source'] };
}

/** What a Governance needs; everything but decider and entrypoint is optional. */
export interface GovernanceOptions {
  readonly decider: Decider;
  readonly router: DecisionRouter;
  /** The entrypoint answering `{allow, reasons}`, e.g. `governance/verdict`. */
  readonly entrypoint: string;
  readonly killSwitches: KillSwitches;
  readonly cache?: DecisionCache | undefined;
  readonly decisionLog?: Pick<DecisionLog, 'enqueue'> | undefined;
  /** Verifies callers' JWTs; absent: the context's tenant is trusted as given (an in-process caller). */
  readonly tenants?: TenantValidator | undefined;
  readonly registry?: Registry | undefined;
  readonly log: Logger;
  /** Sampled `warden.verdict` spans. */
  readonly tracing?: DecisionTracing | undefined;
}

type Result = 'allow' | 'deny' | 'blocked' | 'error';

/** Verdicts over the active governance pack. */
export class Governance {
  readonly entrypoint: string;
  readonly #o: GovernanceOptions;
  readonly #counts: Record<Result, number>;
  readonly #warnedDigests = new Set<string>();

  constructor(options: GovernanceOptions) {
    this.#o = options;
    this.entrypoint = options.entrypoint;
    this.#counts = scrapedCounter(options.registry, 'governance_decision_count', ['allow', 'deny', 'blocked', 'error']);
  }

  /** True when callers must present a JWT (governance.tenants is configured). */
  get verifiesTenants(): boolean {
    return this.#o.tenants !== undefined;
  }

  /**
   * The tenant context of a request's headers (JWT, X-Tenant-ID); a coded
   * error (401/403/503) otherwise. Without a configured validator: GOVERNANCE_DISABLED.
   */
  authenticate(headers: TenantHeaders): Promise<TenantContext> {
    const tenants = this.#o.tenants;
    if (!tenants)
      return Promise.reject(
        new WardenError('GOVERNANCE_DISABLED', 'no tenant validation is configured (governance.tenants)'),
      );
    return tenants.validate(headers);
  }

  /**
   * Drops the verified-token cache entries of these tenants, for a host whose
   * tenant configuration changed (their next request is verified again); returns how many.
   */
  forgetTenants(tenants: Iterable<string>): number {
    return this.#o.tenants?.forgetTenants(tenants) ?? 0;
  }

  /**
   * The verdict for `context` (validated here: a missing or malformed tenant
   * is TENANT_MISSING / TENANT_MALFORMED, other bad fields DECISION_INPUT_INVALID).
   * Never throws for a deny or a block: those are verdicts.
   */
  verdict(context: unknown, meta?: { readonly requestedBy?: string | undefined }): Verdict {
    const tracing = this.#o.tracing;
    if (tracing?.sampled() !== true) return this.#verdict(context, meta);
    const { span, ctx } = tracing.start('warden.verdict', this.entrypoint);
    let v: Verdict;
    try {
      v = otelContext.with(ctx, () => this.#verdict(context, meta));
    } catch (err) {
      failed(span, err);
      tracing.finish(span, undefined, undefined, () => context);
      throw err;
    }
    span.setAttribute(ATTR.cached, v.cached);
    tracing.finish(span, v, v.result, () => context);
    return v;
  }

  #verdict(context: unknown, meta: { readonly requestedBy?: string | undefined } | undefined): Verdict {
    const input = parseVerdictContext(context);
    const o = this.#o;
    const sw = o.killSwitches.check(input.module);
    if (sw.active) return this.#blocked(input, sw, meta?.requestedBy);

    const cache = o.cache;
    let decision: Decision | undefined;
    let cached = false;
    let key: string | undefined;
    if (cache) {
      key = cache.key(o.entrypoint, input);
      const hit = cache.get(key);
      // A hit is good only from the pack digest active now (flush covers this; the check makes it independent of timing).
      if (hit !== undefined && hit.digest === o.router.route(o.entrypoint)?.current?.digest) {
        decision = { ...hit, decisionId: nextDecisionId() };
        cached = true;
      }
    }
    if (decision === undefined) {
      decision = o.decider.decide(o.entrypoint, input);
      if (key !== undefined) cache?.set(key, decision);
    }

    let answer: PolicyAnswer | undefined = decision.defined ? parsePolicyAnswer(decision.result) : undefined;
    if (answer === undefined) {
      this.#counts.error++;
      this.#warnInvalid(decision);
      answer = FAIL_CLOSED_ANSWER;
    } else {
      this.#counts[answer.allow ? 'allow' : 'deny']++;
    }
    o.decisionLog?.enqueue(
      decisionEvent(
        o.entrypoint,
        input,
        decision,
        meta?.requestedBy === undefined ? undefined : { requested_by: meta.requestedBy },
      ),
    );
    return {
      allow: answer.allow,
      result: answer.allow ? 'allow' : 'deny',
      reasons: answer.reasons,
      decisionId: decision.decisionId,
      pack: decision.pack,
      revision: decision.revision,
      digest: decision.digest,
      cached,
    };
  }

  // A kill switch stopped the request: counted and logged like any verdict.
  #blocked(input: VerdictContext, sw: SwitchState, requestedBy: string | undefined): Verdict {
    this.#counts.blocked++;
    const active = this.#o.router.route(this.#o.entrypoint)?.current;
    const decision: Decision = {
      defined: true,
      result: { allow: false, reasons: ['kill_switch_active'] },
      decisionId: nextDecisionId(),
      pack: active?.name ?? '',
      revision: active?.revision ?? '',
      digest: active?.digest ?? '',
    };
    this.#o.decisionLog?.enqueue(
      decisionEvent(
        this.#o.entrypoint,
        input,
        decision,
        requestedBy === undefined ? undefined : { requested_by: requestedBy },
      ),
    );
    return {
      allow: false,
      result: 'blocked',
      reasons: ['kill_switch_active'],
      decisionId: decision.decisionId,
      pack: decision.pack,
      revision: decision.revision,
      digest: decision.digest,
      cached: false,
      killSwitch: { module: input.module, reason: sw.reason, source: sw.source },
    };
  }

  // One log line per pack digest whose verdict entrypoint answers in the wrong shape (not one per request).
  #warnInvalid(decision: Decision): void {
    if (this.#warnedDigests.has(decision.digest)) return;
    this.#warnedDigests.add(decision.digest);
    const e = new WardenError(
      'VERDICT_INVALID',
      `${this.#o.entrypoint} of pack ${decision.pack} (${decision.digest}) did not answer {"allow": boolean, "reasons": [string]}: denied`,
    );
    setImmediate(() =>
      this.#o.log.error(
        { code: e.code, pack: decision.pack, digest: decision.digest, err: e.message },
        'verdict entrypoint answered in the wrong shape; denying',
      ),
    );
  }
}
