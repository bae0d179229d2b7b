// One scenario's figures from k6's summary and two /metrics scrapes, and the summary
// files (JSON for machines, Markdown for people) with a table for the terminal.
import { readFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { delta, histogramQuantiles, sum } from './prom.mjs';

const GOV = { middleware: 'governance' };

/** Busy and total jiffies of all cores from /proc/stat (Linux); undefined elsewhere. */
export function hostCpu() {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
    return { busy: total - (f[3] ?? 0) - (f[4] ?? 0), total };
  } catch {
    return undefined;
  }
}

const CLK_TCK = 100; // USER_HZ: what /proc reports times in on Linux

/**
 * CPU seconds of this process's finished (waited-for) children, from /proc/self/stat
 * cutime + cstime. Around one k6 run it grows by k6's CPU alone: the agent, the other
 * child, is only reaped at the end. Undefined off Linux.
 */
export function reapedChildrenCpu() {
  try {
    const f = readFileSync('/proc/self/stat', 'utf8');
    const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
    return (Number(rest[13]) + Number(rest[14])) / CLK_TCK;
  } catch {
    return undefined;
  }
}

/** The row of one scenario. */
export function scenarioResult({ scenario, targetRate, durationSeconds, k6, k6Exit, before, after, settled, wallSeconds, idleCpuPerSecond, host, k6Cpu, writes }) {
  const m = k6.metrics;
  const v = (name, key) => m[name]?.values?.[key] ?? 0;
  const requests = delta(before, after, 'http_request_duration_seconds_count', GOV);
  const cpu = delta(before, after, 'process_cpu_seconds_total');
  const per1000 = (x) => (requests > 0 ? x / (requests / 1000) : null);
  const lat = histogramQuantiles(before, after, 'http_request_duration_seconds', GOV, [0.5, 0.95, 0.99]);
  const engine = histogramQuantiles(before, after, 'opa_client_latency_seconds', { pack: 'governance' }, [0.5, 0.99]);
  const msOf = (x) => (x.value === null ? null : { ms: round(x.value * 1000, 3), above_last_bucket: x.above });
  const reloadCount = delta(before, settled, 'policy_reload_duration_seconds_count', { pack: 'governance' });
  return {
    scenario,
    target_rps: targetRate,
    duration_s: durationSeconds,
    k6: {
      exit_code: k6Exit,
      thresholds_ok: k6Exit === 0,
      requests: v('http_reqs', 'count'),
      achieved_rps: round(v('http_reqs', 'rate'), 1),
      dropped_iterations: v('dropped_iterations', 'count'),
      vus_max: v('vus_max', 'value'),
      latency_ms: { p50: round(v('http_req_duration', 'med'), 3), p95: round(v('http_req_duration', 'p(95)'), 3), p99: round(v('http_req_duration', 'p(99)'), 3), max: round(v('http_req_duration', 'max'), 3) },
      error_rate: round(v('http_req_failed', 'rate'), 5),
      check_pass_rate: round(v('checks', 'rate'), 5),
      checks: { passes: v('checks', 'passes'), fails: v('checks', 'fails') },
      verdicts: { allow: v('verdict_allow', 'count'), deny: v('verdict_deny', 'count'), blocked: v('verdict_blocked', 'count'), unexpected: v('verdict_unexpected', 'count') },
      latency_by_outcome_ms: Object.fromEntries(
        ['allow', 'deny', 'blocked', 'unexpected'].filter((o) => m[`verdict_${o}_duration`]).map((o) => [o, { p50: round(v(`verdict_${o}_duration`, 'med'), 3), p95: round(v(`verdict_${o}_duration`, 'p(95)'), 3), p99: round(v(`verdict_${o}_duration`, 'p(99)'), 3) }]),
      ),
    },
    agent: {
      verdict_requests: requests,
      cpu_seconds: round(cpu, 3),
      cores_used: round(cpu / wallSeconds, 2),
      cpu_s_per_1000_req: round(per1000(cpu), 4),
      // The agent's own CPU while idle (timers, GC) is the same whatever the load; without it
      // low-rate and high-rate runs compare fairly.
      cpu_s_per_1000_req_net_of_idle: round(per1000(Math.max(0, cpu - idleCpuPerSecond * wallSeconds)), 4),
      governance_latency_ms: { p50: msOf(lat[0]), p95: msOf(lat[1]), p99: msOf(lat[2]) },
      engine_latency_ms: { p50: msOf(engine[0]), p99: msOf(engine[1]) },
      decisions: Object.fromEntries(['allow', 'deny', 'blocked', 'error'].map((r) => [r, delta(before, after, 'governance_decision_count', { result: r })])),
      decision_cache: { hit: delta(before, after, 'warden_decision_cache_total', { result: 'hit' }), miss: delta(before, after, 'warden_decision_cache_total', { result: 'miss' }) },
      tenant_refusals: delta(before, after, 'security_tenant_missing_context_total'),
      decision_log: { written: delta(before, settled, 'warden_decision_log_written_total'), dropped: delta(before, settled, 'warden_decision_log_dropped_total') },
      reloads: {
        policy_writes: writes,
        success: delta(before, settled, 'policy_reload_success_total', { pack: 'governance' }),
        failure: delta(before, settled, 'policy_reload_failure_total', { pack: 'governance' }),
        mean_reload_s: reloadCount > 0 ? round(delta(before, settled, 'policy_reload_duration_seconds_sum', { pack: 'governance' }) / reloadCount, 3) : null,
        active_version: sum(settled, 'policy_active_version', { pack: 'governance' }),
      },
    },
    // Everything on the machine in cores: the agent, k6, and the rest (the runner, other users' work).
    host: host === undefined ? undefined : hostRow(host, cpu, k6Cpu, wallSeconds),
  };
}

// Host CPU in cores, split into agent, k6 and the rest.
function hostRow(busyPct, agentCpu, k6Cpu, wallSeconds) {
  const cores = availableParallelism();
  const busyCores = (busyPct / 100) * cores;
  const agentCores = agentCpu / wallSeconds;
  const k6Cores = k6Cpu === undefined ? null : k6Cpu / wallSeconds;
  return {
    cores,
    cpu_busy_pct: round(busyPct, 1),
    busy_cores: round(busyCores, 2),
    agent_cores: round(agentCores, 2),
    k6_cores: round(k6Cores, 2),
    other_cores: k6Cores === null ? null : round(Math.max(0, busyCores - agentCores - k6Cores), 2),
  };
}

/** The Markdown summary: one table of what k6 saw, one of what the agent reported. */
export function markdown(summary) {
  const rows = summary.scenarios;
  const pct = (x) => (x === null || x === undefined ? '–' : `${(x * 100).toFixed(2)} %`);
  const n = (x, d = 2) => (x === null || x === undefined ? '–' : Number(x).toFixed(d));
  const ams = (x) => (x === null ? '–' : `${x.above_last_bucket ? '>' : ''}${x.ms.toFixed(2)}`);
  const client = [
    '| scenario | target RPS | achieved RPS | requests | dropped iterations | p50 ms | p95 ms | p99 ms | error rate | checks passed | agent CPU s / 1000 req (net of idle) | host busy cores: agent + k6 + other | reloads (writes) |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.map((r) =>
      `| ${r.scenario} | ${r.target_rps} | ${n(r.k6.achieved_rps, 1)} | ${r.k6.requests} | ${r.k6.dropped_iterations} | ${n(r.k6.latency_ms.p50)} | ${n(r.k6.latency_ms.p95)} | ${n(r.k6.latency_ms.p99)} | ${pct(r.k6.error_rate)} | ${pct(r.k6.check_pass_rate)} | ${n(r.agent.cpu_s_per_1000_req, 3)} (${n(r.agent.cpu_s_per_1000_req_net_of_idle, 3)}) | ${r.host ? `${n(r.host.busy_cores)} of ${r.host.cores}: ${n(r.host.agent_cores)} + ${n(r.host.k6_cores)} + ${n(r.host.other_cores)}` : `agent ${n(r.agent.cores_used)}`} | ${r.agent.reloads.success} (${r.agent.reloads.policy_writes}) |`),
  ];
  const agent = [
    '| scenario | agent p50 ms | agent p95 ms | agent p99 ms | engine p50 ms | engine p99 ms | allow | deny | blocked | error | cache hit | reload failures | mean reload s | decision log written / dropped |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.map((r) => {
      const a = r.agent;
      const c = a.decision_cache.hit + a.decision_cache.miss;
      return `| ${r.scenario} | ${ams(a.governance_latency_ms.p50)} | ${ams(a.governance_latency_ms.p95)} | ${ams(a.governance_latency_ms.p99)} | ${ams(a.engine_latency_ms.p50)} | ${ams(a.engine_latency_ms.p99)} | ${a.decisions.allow} | ${a.decisions.deny} | ${a.decisions.blocked} | ${a.decisions.error} | ${c > 0 ? pct(a.decision_cache.hit / c) : '–'} | ${a.reloads.failure} | ${n(a.reloads.mean_reload_s, 3)} | ${a.decision_log.written} / ${a.decision_log.dropped} |`;
    }),
  ];
  const m = summary.machine;
  return [
    '# Governance load test',
    '',
    `${summary.started_at} · k6 ${summary.k6_version} · node ${m.node} · ${m.cores} cores (${m.cpu_model}) · ${summary.duration_s} s per scenario · command: \`${summary.command}\``,
    '',
    ...options(summary),
    `k6 and the agent run on the same ${m.cores} cores: when the host is near 100 % busy the achieved rate is what this machine can drive, not the agent's ceiling, and latency includes queueing in both.`,
    '',
    '## What k6 saw',
    '',
    ...client,
    '',
    'Latency is the HTTP round trip measured by k6. Error rate: responses with an unexpected status (503 counts as expected only for the kill-switched module). "net of idle" subtracts the agent\'s idle CPU rate, measured before the scenarios.',
    '',
    '## What the agent reported (/metrics deltas)',
    '',
    ...agent,
    '',
    'Agent latency: `http_request_duration_seconds{middleware="governance"}`; engine: `opa_client_latency_seconds{pack="governance"}`; both estimated from histogram buckets (">" = beyond the last bucket, 100 ms).',
    '',
    ...denyVersusAllow(rows),
    ...notes(summary),
  ].join('\n');
}

// Load average, revocation and tracing (LOAD_REVOCATION, LOAD_TRACING) of the run.
function options(summary) {
  const la = summary.load_average;
  const lines = [];
  if (la) lines.push(`Load average (1/5/15 min): ${la.start.join(' / ')} before, ${la.end.join(' / ')} at the end.`);
  const r = summary.revocation;
  lines.push(
    r
      ? `Revocation on: a real redis-server, ${r.revoked.jti} jti and ${r.revoked.sid} sid values revoked (none a load token's; the revoked probe token was refused with 401 TOKEN_REVOKED), refresh_seconds ${r.refresh_seconds}, on_stale ${r.on_stale}.`
      : 'Revocation off.',
  );
  const t = summary.tracing;
  if (!t) lines.push('Tracing off (no OpenTelemetry SDK).');
  else if (t.spans?.error) lines.push(`Tracing on (decision sample ${t.decision_sample}): ${t.spans.error}.`);
  else {
    const names = Object.entries(t.spans?.by_name ?? {}).map(([k, v]) => `${k} ${v}`).join(', ');
    lines.push(`Tracing on: OpenTelemetry SDK (BasicTracerProvider, BatchSpanProcessor, a counting exporter), decision sample ${t.decision_sample}; ${t.spans?.ended ?? '?'} spans ended (${names}), ${t.spans?.exported ?? '?'} of them exported in ${t.spans?.exports ?? '?'} batches by the time the agent stopped.`);
  }
  return [...lines, ''];
}

// Thresholds crossed (k6 exit 99) and scenarios that produced no figures.
function notes(summary) {
  const crossed = summary.scenarios.filter((r) => r.k6.exit_code !== 0).map((r) => `${r.scenario} (k6 exit ${r.k6.exit_code})`);
  const lines = [];
  if (crossed.length > 0) lines.push(`k6 thresholds (checks > 99 %, unexpected status < 1 %) crossed: ${crossed.join(', ')}.`);
  for (const e of summary.errors) lines.push(`${e.scenario}: no figures — ${e.error}.`);
  return lines.length > 0 ? ['## Notes', '', ...lines, ''] : [];
}

// The load plan's denial-storm check (deny path cheaper than allow path), when allow_storm ran too.
// Per-request CPU falls as the rate rises (fixed per-wakeup costs are shared), so only runs at the
// same offered rate are compared; baseline (100 RPS) is no reference.
function denyVersusAllow(rows) {
  const deny = rows.find((r) => r.scenario === 'denial_storm');
  const allow = rows.find((r) => r.scenario === 'allow_storm');
  if (!deny || !allow) return ['Deny vs allow CPU: run `allow_storm` too (`node scripts/load.mjs denial_storm allow_storm`) to compare at the same rate.', ''];
  const d = deny.agent.cpu_s_per_1000_req_net_of_idle;
  const a = allow.agent.cpu_s_per_1000_req_net_of_idle;
  if (d === null || a === null) return [];
  const diff = ((d - a) / a) * 100;
  return [
    '## Deny path vs allow path (same offered rate)',
    '',
    `Agent CPU per 1000 verdicts, net of idle: denial_storm ${d.toFixed(3)} s at ${deny.k6.achieved_rps} RPS achieved, allow_storm ${a.toFixed(3)} s at ${allow.k6.achieved_rps} RPS: the deny path costs ${Math.abs(diff).toFixed(1)} % ${diff < 0 ? 'less' : 'more'} CPU than the allow path. On a shared host this figure moves with other load by ±15 % between runs; trust a difference only if repeated runs agree.`,
    '',
  ];
}

/** Machine facts stored with the numbers. */
export function machine() {
  let cpuModel = cpus()[0]?.model ?? 'unknown';
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8').split('\n').find((l) => l.startsWith('model name'));
    if (line) cpuModel = line.slice(line.indexOf(':') + 1).trim();
  } catch {
    // not Linux
  }
  return { cores: availableParallelism(), cpu_model: cpuModel, node: process.version };
}

// Rounds to d decimals; null stays null.
function round(x, d) {
  return x === null || x === undefined || !Number.isFinite(x) ? null : Math.round(x * 10 ** d) / 10 ** d;
}
