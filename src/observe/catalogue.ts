/**
 * Every metric Warden exposes, as data: name, type, help, label names and (for
 * histograms) buckets. Nothing registers a metric this table lacks: every
 * module takes its metric from here through src/observe/register.ts, so the
 * names and labels that alerts, dashboards and docs/metrics.md depend on are
 * in one place (test/observe/metrics-docs.test.ts keeps the page equal to it).
 */

export type MetricType = 'counter' | 'gauge' | 'histogram';

/** One metric family's definition. */
export interface MetricDefinition {
  readonly type: MetricType;
  readonly help: string;
  readonly labels: readonly string[];
  /** Histogram bucket upper bounds, in seconds. */
  readonly buckets?: readonly number[];
}

const FETCH_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30] as const;
const RELOAD_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30] as const;
const DECISION_BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1] as const;

export const CATALOGUE = {
  // ---------------------------------------------------------------- packs: fetch, reload, activation
  policy_fetch_duration_seconds: {
    type: 'histogram',
    help: 'Time to fetch a pack (and its signature) from its source, by result: changed, unchanged or error.',
    labels: ['pack', 'source', 'result'],
    buckets: FETCH_BUCKETS,
  },
  policy_fetch_failure_total: {
    type: 'counter',
    help: 'Fetches that failed, by error code.',
    labels: ['pack', 'source', 'code'],
  },
  policy_digest_age_seconds: {
    type: 'gauge',
    help: "Seconds since the source last confirmed the active pack's digest is current (grows while the source is down).",
    labels: ['pack', 'source'],
  },
  policy_refused_unchanged_total: {
    type: 'counter',
    help: 'Polls that found the pack refused last still served, unchanged, and skipped it: not downloaded again (304 for its ETag) or not verified again (same pack and signature digests).',
    labels: ['pack', 'source'],
  },
  policy_reload_success_total: { type: 'counter', help: 'Packs activated.', labels: ['pack', 'source'] },
  policy_reload_failure_total: {
    type: 'counter',
    help: 'Packs refused at verify, store or activate, by error code; the active pack stayed.',
    labels: ['pack', 'source', 'code'],
  },
  policy_reload_duration_seconds: {
    type: 'histogram',
    help: 'Time from receiving a pack to its activation (verify, store, engine build, golden, swap).',
    labels: ['pack', 'source'],
    buckets: RELOAD_BUCKETS,
  },
  policy_validation_failure_total: {
    type: 'counter',
    help: 'Packs refused by a validation step (signature, digest, downgrade, golden decisions), by error code.',
    labels: ['pack', 'code'],
  },
  policy_active_info: {
    type: 'gauge',
    help: 'The active pack (value 1) with its revision and digest as labels.',
    labels: ['pack', 'source', 'revision', 'digest'],
  },
  policy_active_sequence: {
    type: 'gauge',
    help: "The active pack's signed monotonic marker (sequence).",
    labels: ['pack'],
  },
  policy_active_version: {
    type: 'gauge',
    help: "The active pack's version number in Warden's history (1, 2, 3 …).",
    labels: ['pack'],
  },
  policy_rollback_total: { type: 'counter', help: 'Operator rollbacks.', labels: ['pack'] },
  policy_pinned: {
    type: 'gauge',
    help: '1 while the pack is pinned (after a rollback or an explicit pin): new packs are recorded, not activated.',
    labels: ['pack'],
  },
  policy_count: { type: 'gauge', help: 'Packs with an active verified policy.', labels: [] },
  policy_stale: {
    type: 'gauge',
    help: '1 while the active pack could not be confirmed by its source (source down, or started from the store without it).',
    labels: ['pack'],
  },
  policy_last_known_good_active: {
    type: 'gauge',
    help: '1 while the pack runs on its last-known-good version because a newer stored one failed to load.',
    labels: ['pack'],
  },
  policy_shadow_active: {
    type: 'gauge',
    help: '1 while a version of the pack runs as its shadow (rollout mode shadow).',
    labels: ['pack'],
  },
  policy_shadow_decisions_total: {
    type: 'counter',
    help: "Sampled decisions evaluated against the pack's shadow and compared with the active answer, by outcome: unchanged, allow_to_deny, deny_to_allow, value_changed, became_undefined, became_defined, error.",
    labels: ['pack', 'outcome'],
  },
  policy_shadow_dropped_total: {
    type: 'counter',
    help: 'Sampled decisions dropped, oldest first, from the full shadow queue before evaluation (rollout.queue_limit).',
    labels: ['pack'],
  },
  policy_shadow_promoted_total: {
    type: 'counter',
    help: 'Shadows promoted to active: by their gate (auto_promote) or by an operator.',
    labels: ['pack'],
  },
  policy_shadow_refused_total: {
    type: 'counter',
    help: 'Shadows refused by their gate (deny → allow, too many changed decisions, or too few decisions in max_duration).',
    labels: ['pack'],
  },

  // ---------------------------------------------------------------- decisions and the agent's HTTP server
  /** Observed on every decision: registered as a FastHistogram. */
  opa_client_latency_seconds: {
    type: 'histogram',
    help: 'Time spent evaluating a decision in the policy engine.',
    labels: ['pack', 'engine'],
    buckets: DECISION_BUCKETS,
  },
  decision_workers: {
    type: 'gauge',
    help: 'Decision worker threads by state: ready (answering), loading (taking a pack in: asked only when no worker is ready) or down (died, being replaced).',
    labels: ['state'],
  },
  decision_worker_restarts_total: {
    type: 'counter',
    help: 'Decision workers that died and were replaced.',
    labels: [],
  },
  http_processes: {
    type: 'gauge',
    help: 'Serving processes (http_processes above 1) by state: ready (taking connections), starting (loading the active packs before it listens) or down (died, being replaced).',
    labels: ['state'],
  },
  http_process_restarts_total: {
    type: 'counter',
    help: 'Serving processes that died and were started again.',
    labels: [],
  },
  engine_preparer_exits_total: {
    type: 'counter',
    help: 'Engine preparer threads that ended while the agent ran (each refused its loads in flight with ENGINE_PREPARER_LOST; the next load starts a new thread).',
    labels: [],
  },
  decision_worker_lost_total: {
    type: 'counter',
    help: 'Decisions in flight on a worker that died: retried on another worker (outcome retried) or answered 503 DECISION_WORKER_LOST (outcome lost).',
    labels: ['outcome'],
  },
  opa_engine_up: {
    type: 'gauge',
    help: 'engine: opa — 1 while the OPA process answers and holds the active bundles, 0 while it is down or restarting.',
    labels: [],
  },
  opa_engine_restarts_total: {
    type: 'counter',
    help: 'engine: opa — OPA processes that exited unexpectedly and were restarted.',
    labels: [],
  },
  opa_engine_decision_timeouts_total: {
    type: 'counter',
    help: 'engine: opa — decisions OPA did not answer within opa.decision_timeout_ms, by the action taken: fail_closed (503) or fail_open (the configured answer).',
    labels: ['pack', 'action'],
  },
  opa_engine_activation_failures_total: {
    type: 'counter',
    help: 'engine: opa — packs OPA refused or did not report active in time, by error code.',
    labels: ['pack', 'code'],
  },
  http_request_duration_seconds: {
    type: 'histogram',
    help: "Agent HTTP request time by route, status and middleware ('data' for the decision API, 'governance' for verdicts).",
    labels: ['route', 'method', 'status_code', 'middleware'],
    buckets: DECISION_BUCKETS,
  },
  http_server_errors_total: {
    type: 'counter',
    help: 'Agent HTTP answers with a 5xx status, by route and error code (each is also logged, at a bounded rate).',
    labels: ['route', 'code'],
  },
  http_server_error_logs_suppressed_total: {
    type: 'counter',
    help: '5xx answers not logged because their code passed its log-rate limit (counted in http_server_errors_total all the same).',
    labels: ['code'],
  },

  // ---------------------------------------------------------------- events and webhooks (src/notify)
  warden_event_delivered_total: {
    type: 'counter',
    help: 'Events a subscriber handled without error.',
    labels: ['subscriber'],
  },
  warden_event_handler_failure_total: {
    type: 'counter',
    help: 'Events whose handler threw or rejected.',
    labels: ['subscriber'],
  },
  warden_event_dropped_total: {
    type: 'counter',
    help: "Events dropped (oldest first) from a subscriber's full queue.",
    labels: ['subscriber'],
  },
  warden_webhook_delivery_total: {
    type: 'counter',
    help: 'Webhook attempts by outcome: delivered, retry (an attempt failed, another follows) or dead_letter (given up).',
    labels: ['url', 'result'],
  },

  // ---------------------------------------------------------------- governance (src/govern, src/decision-log)
  /** Counted on every verdict: registered as a scraped counter. */
  governance_decision_count: {
    type: 'counter',
    help: 'Verdicts by result: allow, deny, blocked (kill switch) or error (the policy answered in the wrong shape; denied).',
    labels: ['result'],
  },
  governance_kill_switch_active: {
    type: 'gauge',
    help: '1 while the kill switch of a module blocks it; source is "pack" (the kill-switch pack) or "cold_start" (no state loaded yet, the risk default).',
    labels: ['module', 'source'],
  },
  governance_kill_switch_state_loaded: {
    type: 'gauge',
    help: '1 once a kill-switch state has loaded; 0 while cold-start defaults apply (high-risk modules blocked).',
    labels: [],
  },
  governance_budget_exceeded_total: {
    type: 'counter',
    help: 'Decisions over governance.budget.verdict_ms, by the action taken: warn (answered anyway; always so for a synchronous evaluation, which a timer cannot preempt), fail_open (the configured answer) or fail_closed (503 DECISION_BUDGET_EXCEEDED).',
    labels: ['pack', 'action'],
  },
  governance_evidence_write_failure_total: {
    type: 'counter',
    help: 'Boot evidence (boot.json) writes that failed; in strict mode the agent does not start.',
    labels: [],
  },
  security_tenant_missing_context_total: {
    type: 'counter',
    help: 'Requests refused by tenant isolation (security.tenant.missing_context), by reason.',
    labels: ['reason'],
  },
  governance_revocation_last_refresh_timestamp_seconds: {
    type: 'gauge',
    help: 'Unix time of the last full read of the token revocation list from Redis that succeeded (0: never since start).',
    labels: [],
  },
  governance_revocation_stale: {
    type: 'gauge',
    help: '1 while the token revocation list has not been read from Redis within stale_after_seconds (or never since start): on_stale decides.',
    labels: [],
  },
  governance_revocation_refresh_failures_total: {
    type: 'counter',
    help: 'Full reads of the token revocation list from Redis, and connection attempts to it, that failed (the last known list stayed).',
    labels: [],
  },
  governance_revocation_entries: {
    type: 'gauge',
    help: 'Revoked values held in memory, by kind: jti or sid.',
    labels: ['kind'],
  },
  governance_token_cache_forgotten_total: {
    type: 'counter',
    help: 'Verified tokens dropped from the token cache because what they were verified with changed, by reason: jwks_change or tenant_change.',
    labels: ['reason'],
  },
  /** Counted on every cached verdict: registered as a scraped counter. */
  warden_decision_cache_total: {
    type: 'counter',
    help: 'Decision cache lookups, by result: hit or miss (absent or expired).',
    labels: ['result'],
  },
  warden_decision_cache_flush_total: {
    type: 'counter',
    help: 'Times the decision cache was emptied, by reason.',
    labels: ['reason'],
  },
  /** Counted on every logged decision: registered as a scraped counter. */
  warden_decision_log_dropped_total: {
    type: 'counter',
    help: 'Decision-log events dropped: oldest first from a full queue (overflow), enqueued after close, not JSON (invalid), or held by a writer thread that ended twice in a row (writer_exit).',
    labels: ['reason'],
  },
  warden_decision_log_written_total: { type: 'counter', help: 'Decision-log events written to disk.', labels: [] },
  warden_decision_log_write_failure_total: {
    type: 'counter',
    help: 'Decision-log batch writes that failed (the batch is retried).',
    labels: [],
  },
  warden_decision_log_writer_exit_total: {
    type: 'counter',
    help: "Times the decision log's writer thread ended unexpectedly (a new one is started after a backoff).",
    labels: [],
  },
  warden_decision_log_shipped_total: {
    type: 'counter',
    help: 'Decision-log events the collector acknowledged (decision_log.service; a 2xx answer to their batch).',
    labels: [],
  },
  warden_decision_log_ship_dropped_bytes_total: {
    type: 'counter',
    help: 'Bytes of unshipped decision-log data given up, by reason: backlog (over queue_max_bytes, oldest first), retention (its file was deleted before it was shipped), refused (a 4xx answer), too_large (one event over batch_max_bytes), torn (an incomplete or malformed line).',
    labels: ['reason'],
  },
  warden_decision_log_ship_failure_total: {
    type: 'counter',
    help: 'Decision-log uploads that failed, by error code: DECISION_LOG_SHIP_FAILED (retried) or DECISION_LOG_SHIP_REFUSED (skipped).',
    labels: ['code'],
  },
  warden_decision_log_ship_backlog_bytes: {
    type: 'gauge',
    help: 'Bytes of decision-log files written but not yet acknowledged by the collector.',
    labels: [],
  },
} as const satisfies Record<string, MetricDefinition>;

type Catalogue = typeof CATALOGUE;

/** The name of a catalogued metric. */
export type MetricName = keyof Catalogue;

/** The names of the catalogued metrics of type `T`. */
export type NameOf<T extends MetricType> = {
  [N in MetricName]: Catalogue[N]['type'] extends T ? N : never;
}[MetricName];

/** The label names of metric `N`, as a union (never for an unlabelled one). */
export type LabelOf<N extends MetricName> = Catalogue[N]['labels'][number];

/** The catalogued metric names whose label list is at most one name long (the shape a scraped counter supports). */
export type SingleLabelCounter = {
  [N in NameOf<'counter'>]: Catalogue[N]['labels'] extends readonly [] | readonly [string] ? N : never;
}[NameOf<'counter'>];

/** The definition of `name`. */
export function definitionOf(name: MetricName): MetricDefinition {
  return CATALOGUE[name];
}

/** Every catalogued metric name, in table order. */
export const METRIC_NAMES = Object.keys(CATALOGUE) as MetricName[];
