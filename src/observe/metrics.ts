/**
 * The agent's metrics, in a registry per agent so tests and several agents in
 * one process never share counters. The fields are the pack pipeline's and the
 * HTTP server's metrics, taken from the catalogue (catalogue.ts, documented in
 * docs/metrics.md); the other modules take theirs from the same catalogue on
 * this registry (register.ts).
 */
import { Registry, collectDefaultMetrics } from 'prom-client';
import { counter, fastHistogram, gauge, histogram } from './register.js';

/** All metrics of one agent. */
export class WardenMetrics {
  readonly registry = new Registry();

  readonly fetchDuration = histogram(this.registry, 'policy_fetch_duration_seconds');
  readonly fetchFailures = counter(this.registry, 'policy_fetch_failure_total');
  readonly digestAge = gauge(this.registry, 'policy_digest_age_seconds');
  readonly refusedUnchanged = counter(this.registry, 'policy_refused_unchanged_total');
  readonly reloadSuccess = counter(this.registry, 'policy_reload_success_total');
  readonly reloadFailure = counter(this.registry, 'policy_reload_failure_total');
  readonly reloadDuration = histogram(this.registry, 'policy_reload_duration_seconds');
  readonly validationFailure = counter(this.registry, 'policy_validation_failure_total');
  readonly activeInfo = gauge(this.registry, 'policy_active_info');
  readonly activeSequence = gauge(this.registry, 'policy_active_sequence');
  readonly activeVersion = gauge(this.registry, 'policy_active_version');
  readonly rollbacks = counter(this.registry, 'policy_rollback_total');
  readonly pinned = gauge(this.registry, 'policy_pinned');
  readonly policyCount = gauge(this.registry, 'policy_count');
  readonly stale = gauge(this.registry, 'policy_stale');
  readonly onLastKnownGood = gauge(this.registry, 'policy_last_known_good_active');
  readonly shadowActive = gauge(this.registry, 'policy_shadow_active');
  /** Counted by the shadow evaluator (src/shadow/), which takes them from this registry. */
  readonly shadowDecisions = counter(this.registry, 'policy_shadow_decisions_total');
  readonly shadowDropped = counter(this.registry, 'policy_shadow_dropped_total');
  readonly shadowPromoted = counter(this.registry, 'policy_shadow_promoted_total');
  readonly shadowRefused = counter(this.registry, 'policy_shadow_refused_total');
  /** Labels pack, engine. A FastHistogram: observed on every decision. */
  readonly decisionDuration = fastHistogram(this.registry, 'opa_client_latency_seconds');
  readonly httpDuration = histogram(this.registry, 'http_request_duration_seconds');
  readonly serverErrors = counter(this.registry, 'http_server_errors_total');
  readonly serverErrorLogsSuppressed = counter(this.registry, 'http_server_error_logs_suppressed_total');

  constructor(options: { defaultMetrics?: boolean } = {}) {
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry });
  }
}
