/**
 * Warden's one metric family (docs/metrics.md), in a registry per agent so tests and
 * several agents in one process never share counters. Labels: `pack`, `source`
 * (http | file | directory), and `code` (an error code) on failures.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { FastHistogram } from './fast-histogram.js';

const FETCH_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const RELOAD_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const DECISION_BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1];

/** All metrics of one agent. */
export class WardenMetrics {
  readonly registry = new Registry();

  readonly fetchDuration = new Histogram({
    name: 'policy_fetch_duration_seconds',
    help: 'Time to fetch a pack (and its signature) from its source, by result: changed, unchanged or error.',
    labelNames: ['pack', 'source', 'result'] as const,
    buckets: FETCH_BUCKETS,
    registers: [this.registry],
  });
  readonly fetchFailures = new Counter({
    name: 'policy_fetch_failure_total',
    help: 'Fetches that failed, by error code.',
    labelNames: ['pack', 'source', 'code'] as const,
    registers: [this.registry],
  });
  readonly digestAge = new Gauge({
    name: 'policy_digest_age_seconds',
    help: "Seconds since the source last confirmed the active pack's digest is current (grows while the source is down).",
    labelNames: ['pack', 'source'] as const,
    registers: [this.registry],
  });
  readonly refusedUnchanged = new Counter({
    name: 'policy_refused_unchanged_total',
    help: 'Polls that found the pack refused last still served, unchanged, and skipped it: not downloaded again (304 for its ETag) or not verified again (same pack and signature digests).',
    labelNames: ['pack', 'source'] as const,
    registers: [this.registry],
  });
  readonly reloadSuccess = new Counter({
    name: 'policy_reload_success_total',
    help: 'Packs activated.',
    labelNames: ['pack', 'source'] as const,
    registers: [this.registry],
  });
  readonly reloadFailure = new Counter({
    name: 'policy_reload_failure_total',
    help: 'Packs refused at verify, store or activate, by error code; the active pack stayed.',
    labelNames: ['pack', 'source', 'code'] as const,
    registers: [this.registry],
  });
  readonly reloadDuration = new Histogram({
    name: 'policy_reload_duration_seconds',
    help: 'Time from receiving a pack to its activation (verify, store, engine build, golden, swap).',
    labelNames: ['pack', 'source'] as const,
    buckets: RELOAD_BUCKETS,
    registers: [this.registry],
  });
  readonly validationFailure = new Counter({
    name: 'policy_validation_failure_total',
    help: 'Packs refused by a validation step (signature, digest, downgrade, golden decisions), by error code.',
    labelNames: ['pack', 'code'] as const,
    registers: [this.registry],
  });
  readonly activeInfo = new Gauge({
    name: 'policy_active_info',
    help: 'The active pack (value 1) with its revision and digest as labels.',
    labelNames: ['pack', 'source', 'revision', 'digest'] as const,
    registers: [this.registry],
  });
  readonly activeSequence = new Gauge({
    name: 'policy_active_sequence',
    help: "The active pack's signed monotonic marker (sequence).",
    labelNames: ['pack'] as const,
    registers: [this.registry],
  });
  readonly activeVersion = new Gauge({
    name: 'policy_active_version',
    help: "The active pack's version number in Warden's history (1, 2, 3 …).",
    labelNames: ['pack'] as const,
    registers: [this.registry],
  });
  readonly rollbacks = new Counter({
    name: 'policy_rollback_total',
    help: 'Operator rollbacks.',
    labelNames: ['pack'] as const,
    registers: [this.registry],
  });
  readonly pinned = new Gauge({
    name: 'policy_pinned',
    help: '1 while the pack is pinned (after a rollback or an explicit pin): new packs are recorded, not activated.',
    labelNames: ['pack'] as const,
    registers: [this.registry],
  });
  readonly policyCount = new Gauge({
    name: 'policy_count',
    help: 'Packs with an active verified policy.',
    registers: [this.registry],
  });
  readonly stale = new Gauge({
    name: 'policy_stale',
    help: '1 while the active pack could not be confirmed by its source (source down, or started from the store without it).',
    labelNames: ['pack'] as const,
    registers: [this.registry],
  });
  readonly onLastKnownGood = new Gauge({
    name: 'policy_last_known_good_active',
    help: '1 while the pack runs on its last-known-good version because a newer stored one failed to load.',
    labelNames: ['pack'] as const,
    registers: [this.registry],
  });
  /** Labels pack, engine. A FastHistogram: observed on every decision. */
  readonly decisionDuration = new FastHistogram('opa_client_latency_seconds', 'Time spent evaluating a decision in the policy engine.', DECISION_BUCKETS, this.registry);
  readonly httpDuration = new Histogram({
    name: 'http_request_duration_seconds',
    help: "Agent HTTP request time by route, status and middleware ('data' for the decision API, 'governance' for verdicts).",
    labelNames: ['route', 'method', 'status_code', 'middleware'] as const,
    buckets: DECISION_BUCKETS,
    registers: [this.registry],
  });
  readonly serverErrors = new Counter({
    name: 'http_server_errors_total',
    help: 'Agent HTTP answers with a 5xx status, by route and error code (each is also logged, at a bounded rate).',
    labelNames: ['route', 'code'] as const,
    registers: [this.registry],
  });
  readonly serverErrorLogsSuppressed = new Counter({
    name: 'http_server_error_logs_suppressed_total',
    help: '5xx answers not logged because their code passed its log-rate limit (counted in http_server_errors_total all the same).',
    labelNames: ['code'] as const,
    registers: [this.registry],
  });

  constructor(options: { defaultMetrics?: boolean } = {}) {
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry });
  }
}
