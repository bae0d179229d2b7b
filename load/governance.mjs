// k6 load test of POST /v1/verdict: the four scenarios of Warden's governance load plan
// (docs/design.md#targets), one per run, chosen by -e SCENARIO:
//
//   baseline         100 RPS, allowed requests only, no kill-switched module (0 % kill switch)
//   stress          1000 RPS, 50 % kill-switched module (503 expected) / 50 % policy checks
//   denial_storm    5000 RPS, 100 % denied by the policy (200, allow === false)
//   reconfiguration  200 RPS, allow/deny mix while the runner rewrites the governance pack every second
//   allow_storm     5000 RPS, 100 % allowed: the denial storm's CPU reference (opt-in, not in the plan)
//
// Usually started by scripts/load.mjs (`npm run load`), which runs the agent and passes:
//   BASE_URL      agent URL, e.g. http://127.0.0.1:18181
//   TOKENS        JSON {"<tenant>": {"token": "<JWT>", "sub": "<token subject>"}} for acme and globex
//   SUMMARY_OUT   where handleSummary writes k6's summary JSON (default load/results/k6-<scenario>.json)
// Optional: RATE (requests/s), DURATION (e.g. 20s), PRE_VUS, MAX_VUS,
//   RESOURCE_POOL (0, the default: every request names a new resource, so the decision cache
//   never answers and each verdict evaluates the policy; n > 0: resources cycle through n ids).
//
// Every request carries X-Tenant-ID, X-Purpose and Authorization: Bearer <JWT>. The expected
// outcome of each request is known (see CASES), so checks verify the verdict, not just the status.
// A .mjs file because eslint.config.js ignores **/*.mjs: as .js it would be linted through the
// TypeScript project service, which does not include load/, and `npm run lint` would fail.
import { check } from 'k6';
import exec from 'k6/execution';
import http from 'k6/http';
import { Counter, Rate, Trend } from 'k6/metrics';

const SCENARIOS = {
  baseline: { rate: 100, mix: { allow: 1 } },
  stress: { rate: 1000, mix: { blocked: 1, policy: 1 } },
  denial_storm: { rate: 5000, mix: { deny: 1 } },
  reconfiguration: { rate: 200, mix: { policy: 1 } },
  // Not one of the plan's four: the denial storm's reference, so "the deny path costs less CPU
  // than the allow path" is compared at the same offered rate (run on request only).
  allow_storm: { rate: 5000, mix: { allow: 1 } },
};

const SCENARIO = __ENV.SCENARIO || 'baseline';
const plan = SCENARIOS[SCENARIO];
if (!plan) throw new Error(`SCENARIO must be one of ${Object.keys(SCENARIOS).join(', ')}; got "${SCENARIO}"`);

const BASE_URL = (__ENV.BASE_URL || 'http://127.0.0.1:8181').replace(/\/$/, '');
const RATE = positiveInt(__ENV.RATE, plan.rate, 'RATE');
const DURATION = __ENV.DURATION || '20s';
// Enough VUs for the rate at ~20 ms per request; more are added (up to MAX_VUS) as latency grows.
// The cap is low on purpose: once the host is saturated, more VUs only add queueing. On the
// 2-core dev box at 5000 RPS, 100–200 VUs drove ~1.6–2.0k RPS at p50 40–90 ms; 500 VUs drove
// ~0.9–1.0k RPS at p50 ~300 ms (k6 and the agent share the cores).
const PRE_VUS = positiveInt(__ENV.PRE_VUS, Math.max(10, Math.ceil(RATE * 0.02)), 'PRE_VUS');
const MAX_VUS = Math.max(
  PRE_VUS,
  positiveInt(__ENV.MAX_VUS, Math.min(200, Math.max(50, Math.ceil(RATE * 0.1))), 'MAX_VUS'),
);
const RESOURCE_POOL = __ENV.RESOURCE_POOL === undefined ? 0 : Number(__ENV.RESOURCE_POOL);
const SUMMARY_OUT = __ENV.SUMMARY_OUT || `load/results/k6-${SCENARIO}.json`;
const TOKENS = parseTokens(__ENV.TOKENS);

// One request shape per case; `expect` is the verdict the example packs give it
// (examples/governance data.json, examples/killswitch: ai_training is switched off).
// `reason` is the deny code the verdict must carry.
const CASES = {
  allow: [
    { tenant: 'acme', module: 'billing', action: 'read', resource: 'acme/invoices/', purpose: 'billing_operations' },
    { tenant: 'acme', module: 'identity', action: 'update', resource: 'acme/users/', purpose: 'account_maintenance' },
    {
      tenant: 'acme',
      module: 'ai_inference',
      action: 'invoke',
      resource: 'acme/transactions/',
      purpose: 'fraud_detection',
    },
    {
      tenant: 'globex',
      module: 'reporting',
      action: 'export',
      resource: 'globex/reports/',
      purpose: 'quarterly_close',
    },
    {
      tenant: 'globex',
      module: 'ai_inference',
      action: 'invoke',
      resource: 'globex/sessions/',
      purpose: 'personalisation',
    },
  ].map((c) => ({ ...c, expect: 'allow' })),
  deny: [
    {
      tenant: 'acme',
      module: 'reporting',
      action: 'export',
      resource: 'acme/reports/',
      purpose: 'quarterly_close',
      reason: 'module_not_enabled',
    },
    {
      tenant: 'acme',
      module: 'billing',
      action: 'delete',
      resource: 'acme/invoices/',
      purpose: 'billing_operations',
      reason: 'action_not_allowed',
    },
    {
      tenant: 'acme',
      module: 'billing',
      action: 'read',
      resource: 'globex/invoices/',
      purpose: 'billing_operations',
      reason: 'resource_other_tenant',
    },
    {
      tenant: 'acme',
      module: 'ai_inference',
      action: 'invoke',
      resource: 'acme/sessions/',
      purpose: 'personalisation',
      reason: 'purpose_not_consented',
    },
    {
      tenant: 'globex',
      module: 'ai_inference',
      action: 'invoke',
      resource: 'globex/sessions/',
      purpose: 'model_improvement',
      reason: 'purpose_not_allowed',
    },
    {
      tenant: 'globex',
      module: 'crm',
      action: 'read',
      resource: 'globex/contacts/',
      purpose: 'sales',
      reason: 'module_unknown',
    },
  ].map((c) => ({ ...c, expect: 'deny' })),
  // ai_training is kill-switched: 503 KILL_SWITCH_ACTIVE before the policy is asked
  // (acme has not even enabled it: the switch answers first).
  blocked: [
    {
      tenant: 'globex',
      module: 'ai_training',
      action: 'train',
      resource: 'globex/datasets/',
      purpose: 'model_improvement',
    },
    {
      tenant: 'acme',
      module: 'ai_training',
      action: 'evaluate',
      resource: 'acme/datasets/',
      purpose: 'model_improvement',
    },
  ].map((c) => ({ ...c, expect: 'blocked' })),
};
// The policy half of a mix: allow and deny cases alternating.
CASES.policy = CASES.allow
  .flatMap((c, i) => [c, CASES.deny[i % CASES.deny.length]])
  .concat(CASES.deny.slice(CASES.allow.length));

// The mix as a repeating pattern of case lists, e.g. stress → [blocked, policy].
const PATTERN = Object.entries(plan.mix).flatMap(([kind, weight]) => Array(weight).fill(CASES[kind]));

const duration = {
  allow: new Trend('verdict_allow_duration', true),
  deny: new Trend('verdict_deny_duration', true),
  blocked: new Trend('verdict_blocked_duration', true),
  unexpected: new Trend('verdict_unexpected_duration', true),
};
const count = {
  allow: new Counter('verdict_allow'),
  deny: new Counter('verdict_deny'),
  blocked: new Counter('verdict_blocked'),
  unexpected: new Counter('verdict_unexpected'),
};
const asExpected = new Rate('verdict_as_expected');

// A 503 is a success only for a kill-switched module asked on purpose.
const STATUS_OK = {
  allow: http.expectedStatuses(200),
  deny: http.expectedStatuses(200),
  blocked: http.expectedStatuses(503),
};

export const options = {
  scenarios: {
    [SCENARIO]: {
      executor: 'constant-arrival-rate',
      rate: RATE,
      timeUnit: '1s',
      duration: DURATION,
      preAllocatedVUs: PRE_VUS,
      maxVUs: MAX_VUS,
      gracefulStop: '5s',
    },
  },
  summaryTrendStats: ['avg', 'min', 'med', 'p(90)', 'p(95)', 'p(99)', 'max'],
  // Recorded, not fatal: k6 exits 99 when one is crossed and the runner reports it.
  thresholds: {
    checks: ['rate>0.99'],
    http_req_failed: ['rate<0.01'],
  },
  discardResponseBodies: false,
};

export default function () {
  const i = exec.scenario.iterationInTest;
  const list = PATTERN[i % PATTERN.length];
  const c = list[Math.floor(i / PATTERN.length) % list.length];
  const who = TOKENS[c.tenant];
  const n = RESOURCE_POOL > 0 ? i % RESOURCE_POOL : i;
  const body = JSON.stringify({ subject: who.sub, module: c.module, action: c.action, resource: `${c.resource}${n}` });
  const res = http.post(`${BASE_URL}/v1/verdict`, body, {
    headers: {
      'Content-Type': 'application/json',
      Authorization: `Bearer ${who.token}`,
      'X-Tenant-ID': c.tenant,
      'X-Purpose': c.purpose,
    },
    responseCallback: STATUS_OK[c.expect],
    tags: { name: 'POST /v1/verdict', expect: c.expect },
  });

  const v = parseJson(res.body);
  const outcome = outcomeOf(res.status, v);
  const checks = {
    [c.expect === 'blocked' ? 'status is 503 (kill switch asked on purpose)' : 'status is 200']: () =>
      res.status === (c.expect === 'blocked' ? 503 : 200),
    [`verdict is ${c.expect}`]: () => outcome === c.expect,
  };
  if (c.expect === 'blocked')
    checks['code is KILL_SWITCH_ACTIVE'] = () => v !== undefined && v.code === 'KILL_SWITCH_ACTIVE';
  if (c.expect === 'deny')
    checks[`reasons include the deny code`] = () =>
      v !== undefined && Array.isArray(v.reasons) && v.reasons.includes(c.reason);
  if (SCENARIO === 'denial_storm') checks['allow === false'] = () => v !== undefined && v.allow === false;
  check(res, checks);

  const bucket = outcome === c.expect ? outcome : 'unexpected';
  duration[bucket].add(res.timings.duration);
  count[bucket].add(1);
  asExpected.add(outcome === c.expect);
}

// What the agent answered: allow | deny | blocked, or 'other' (an error, a refusal, garbage).
function outcomeOf(status, v) {
  if (v === undefined) return 'other';
  if (status === 200 && v.result === 'allow' && v.allow === true) return 'allow';
  if (status === 200 && v.result === 'deny' && v.allow === false) return 'deny';
  if (status === 503 && v.code === 'KILL_SWITCH_ACTIVE' && v.result === 'blocked' && v.allow === false)
    return 'blocked';
  return 'other';
}

// The JSON body, or undefined when there is none or it does not parse.
function parseJson(text) {
  if (typeof text !== 'string' || text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

// A positive integer from the environment, or the default.
function positiveInt(raw, fallback, name) {
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive integer; got "${raw}"`);
  return n;
}

// TOKENS: {"acme": {"token", "sub"}, "globex": {...}}; every tenant the cases use must be there.
function parseTokens(raw) {
  if (!raw)
    throw new Error(
      'TOKENS is required: JSON {"acme": {"token": "<JWT>", "sub": "<subject>"}, "globex": {...}} (scripts/load.mjs mints them)',
    );
  const t = JSON.parse(raw);
  for (const tenant of ['acme', 'globex']) {
    if (!t[tenant] || typeof t[tenant].token !== 'string' || typeof t[tenant].sub !== 'string')
      throw new Error(`TOKENS has no {token, sub} for tenant ${tenant}`);
  }
  return t;
}

// The raw summary as JSON for the runner, and a few lines on stdout.
export function handleSummary(data) {
  const m = data.metrics;
  const val = (name, key) => (m[name] && m[name].values[key] !== undefined ? m[name].values[key] : 0);
  const ms = (x) => `${x.toFixed(2)} ms`;
  const lines = [
    `scenario ${SCENARIO}: target ${RATE}/s for ${DURATION}, achieved ${val('http_reqs', 'rate').toFixed(1)}/s (${val('http_reqs', 'count')} requests, ${val('dropped_iterations', 'count')} dropped iterations)`,
    `  latency p50 ${ms(val('http_req_duration', 'med'))}  p95 ${ms(val('http_req_duration', 'p(95)'))}  p99 ${ms(val('http_req_duration', 'p(99)'))}  max ${ms(val('http_req_duration', 'max'))}`,
    `  unexpected status ${(val('http_req_failed', 'rate') * 100).toFixed(2)} %, checks passed ${(val('checks', 'rate') * 100).toFixed(2)} %, verdicts allow ${val('verdict_allow', 'count')} deny ${val('verdict_deny', 'count')} blocked ${val('verdict_blocked', 'count')} unexpected ${val('verdict_unexpected', 'count')}`,
    '',
  ];
  return { [SUMMARY_OUT]: JSON.stringify(data, null, 2), stdout: lines.join('\n') };
}
