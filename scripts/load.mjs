#!/usr/bin/env node
// `npm run load` / `node scripts/load.mjs [scenario ...]`: the governance load test
// (load scenarios of docs/design.md#targets) against a real agent on loopback.
//   1. installs the pinned k6 into .tools/bin (scripts/install-tools.mjs k6);
//   2. builds a throw-away setup in a temp folder (load/lib/fixtures.mjs): ES256 key, JWKS
//      file, a token per tenant, copies of examples/governance and examples/killswitch,
//      an agent config with governance.tenants, kill switches and the decision log;
//   3. starts `node bin/warden.js agent` and waits for /readyz;
//   4. runs load/governance.mjs once per scenario (baseline, stress, denial_storm,
//      reconfiguration — the last with data.json rewritten every second), scraping
//      /metrics before and after each;
//   5. writes load/results/summary.{json,md} (k6's raw summaries beside them) and prints the tables.
// Environment: LOAD_DURATION (seconds per scenario, default 20), LOAD_RATE_<SCENARIO>
// (e.g. LOAD_RATE_DENIAL_STORM=2000), LOAD_RESOURCE_POOL (see load/governance.mjs),
// LOAD_KEEP=1 keeps the temp folder, LOAD_REVOCATION=1 runs a real redis-server and turns on
// governance.tenants.revocation (load/lib/revocation.mjs), LOAD_TRACING=1 registers a real
// OpenTelemetry SDK in the agent (load/lib/otel-preload.mjs) with decision spans sampled at 1 %.
// Needs a built checkout (`npm run load` bootstraps first).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sleep, startAgent, freePort, tail } from '../load/lib/agent.mjs';
import { DECISION_SAMPLE, buildFixtures } from '../load/lib/fixtures.mjs';
import { delta, scrape } from '../load/lib/prom.mjs';
import { startPolicyUpdates } from '../load/lib/reconfigure.mjs';
import { hostCpu, machine, markdown, reapedChildrenCpu, scenarioResult } from '../load/lib/report.mjs';
import { KEY_PREFIX, startRedis, writeRevoked } from '../load/lib/revocation.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const k6Bin = join(root, '.tools', 'bin', 'k6');
const script = join(root, 'load', 'governance.mjs');
const resultsDir = join(root, 'load', 'results');

/** Target rates (requests/s), in run order; allow_storm (opt-in) runs right after the denial storm it is compared with. */
const TARGETS = { baseline: 100, stress: 1000, denial_storm: 5000, allow_storm: 5000, reconfiguration: 200 };
const DEFAULT_SCENARIOS = ['baseline', 'stress', 'denial_storm', 'reconfiguration'];
const IDLE_SECONDS = 3;
const PAUSE_MS = 2000; // between scenarios: the decision log drains, GC settles
const SETTLE_MAX_MS = 10_000;
const DECISION_LOG_FLUSH_MS = 1500; // decision_log.flush_interval_ms (1000) and a margin

const args = process.argv.slice(2);
if (args.includes('--help') || args.includes('-h')) {
  console.log(
    `usage: node scripts/load.mjs [${Object.keys(TARGETS).join('|')} ...]  (default: ${DEFAULT_SCENARIOS.join(' ')})`,
  );
  process.exit(0);
}
const unknown = args.filter((a) => !(a in TARGETS));
if (unknown.length > 0) {
  console.error(`load: unknown scenario(s) ${unknown.join(', ')} (known: ${Object.keys(TARGETS).join(', ')})`);
  process.exit(2);
}
const scenarios = args.length > 0 ? Object.keys(TARGETS).filter((s) => args.includes(s)) : DEFAULT_SCENARIOS;
const durationSeconds = Number(process.env.LOAD_DURATION ?? 20);
const withRevocation = process.env.LOAD_REVOCATION === '1';
const withTracing = process.env.LOAD_TRACING === '1';
if (!Number.isInteger(durationSeconds) || durationSeconds < 1) {
  console.error(`load: LOAD_DURATION must be a whole number of seconds; got "${process.env.LOAD_DURATION}"`);
  process.exit(2);
}

if (!existsSync(join(root, 'dist', 'cli', 'main.js'))) {
  console.error('load: dist/ is missing; run `npm run bootstrap` first (`npm run load` does it for you)');
  process.exit(1);
}
if (spawnSync(process.execPath, [join(root, 'scripts', 'install-tools.mjs'), 'k6'], { stdio: 'inherit' }).status !== 0)
  process.exit(1);
const k6Version = (spawnSync(k6Bin, ['version'], { encoding: 'utf8' }).stdout ?? '').trim().replace(/^k6 /, '');

mkdirSync(resultsDir, { recursive: true });
// k6 summaries of an earlier run would sit beside this run's summary and mislead.
for (const f of readdirSync(resultsDir)) if (/^k6-.*\.json$/.test(f)) rmSync(join(resultsDir, f));
const work = mkdtempSync(join(tmpdir(), 'warden-load-'));
let agent;
let redis;
let k6Child;
let cleaning;
let interrupted = false;

// Stops k6 and the agent and removes the temp folder; safe to call twice.
function cleanup() {
  cleaning ??= (async () => {
    if (k6Child && k6Child.exitCode === null) k6Child.kill('SIGTERM');
    await agent?.stop();
    await redis?.stop();
    if (process.env.LOAD_KEEP === '1') console.error(`load: kept ${work}`);
    else rmSync(work, { recursive: true, force: true });
  })();
  return cleaning;
}
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    interrupted = true;
    console.error(`\nload: ${signal}, stopping k6 and the agent`);
    void cleanup().finally(() => process.exit(130));
  });
}

// Runs k6 for one scenario; resolves with its exit code (0 ok, 99 a threshold crossed).
function runK6(scenario, { url, tokens, summaryOut }) {
  const rate = process.env[`LOAD_RATE_${scenario.toUpperCase()}`];
  const env = [
    '-e',
    `SCENARIO=${scenario}`,
    '-e',
    `BASE_URL=${url}`,
    '-e',
    `DURATION=${durationSeconds}s`,
    '-e',
    `SUMMARY_OUT=${summaryOut}`,
  ];
  if (rate !== undefined) env.push('-e', `RATE=${rate}`);
  if (process.env.LOAD_RESOURCE_POOL !== undefined) env.push('-e', `RESOURCE_POOL=${process.env.LOAD_RESOURCE_POOL}`);
  // TOKENS goes through the environment (k6 reads it into __ENV), not the command line.
  k6Child = spawn(k6Bin, ['run', '--quiet', '--no-color', '--no-usage-report', ...env, script], {
    cwd: root,
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, TOKENS: JSON.stringify(tokens) },
  });
  return new Promise((resolve) => k6Child.once('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1))));
}

// A few requests of each kind before measuring: JIT warm-up, and a loud failure if the setup is wrong.
// With revocation on, the revoked probe token must be refused (401 TOKEN_REVOKED).
async function warmUp(url, tokens, probe) {
  const ask = async (tenant, purpose, body, token = tokens[tenant].token) => {
    const res = await fetch(`${url}/v1/verdict`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${token}`,
        'x-tenant-id': tenant,
        'x-purpose': purpose,
      },
      body: JSON.stringify({ subject: tokens[tenant].sub, ...body }),
    });
    return { status: res.status, body: await res.json() };
  };
  for (let i = 0; i < 100; i += 1) {
    const allow = await ask('acme', 'billing_operations', {
      module: 'billing',
      action: 'read',
      resource: `acme/warmup/${i}`,
    });
    const deny = await ask('acme', 'billing_operations', {
      module: 'billing',
      action: 'delete',
      resource: `acme/warmup/${i}`,
    });
    const blocked = await ask('globex', 'model_improvement', { module: 'ai_training', action: 'train' });
    if (
      allow.status !== 200 ||
      allow.body.allow !== true ||
      deny.status !== 200 ||
      deny.body.allow !== false ||
      blocked.status !== 503
    ) {
      throw new Error(
        `warm-up verdicts are not what the example packs give: ${JSON.stringify({ allow, deny, blocked })}`,
      );
    }
  }
  if (probe) {
    const refused = await ask(
      'acme',
      'billing_operations',
      { module: 'billing', action: 'read', resource: 'acme/warmup/probe' },
      probe.token,
    );
    if (refused.status !== 401 || refused.body.code !== 'TOKEN_REVOKED')
      throw new Error(`the revoked probe token was not refused with 401 TOKEN_REVOKED: ${JSON.stringify(refused)}`);
  }
}

const round2 = (x) => Math.round(x * 100) / 100;

// The span counts the agent's OpenTelemetry preload wrote at exit (LOAD_TRACING=1).
function readSpanCounts(file) {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return { error: `no span counts in ${file} (did the agent exit cleanly?)` };
  }
}

// After the reconfiguration run: waits until every write was reloaded (or refused), or reloads stop.
async function settle(url, before, writes) {
  const started = Date.now();
  let last = -1;
  let lastChange = Date.now();
  for (;;) {
    const now = await scrape(url);
    const seen =
      delta(before, now, 'policy_reload_success_total', { pack: 'governance' }) +
      delta(before, now, 'policy_reload_failure_total', { pack: 'governance' });
    if (seen !== last) {
      last = seen;
      lastChange = Date.now();
    }
    const flushed = Date.now() - started >= DECISION_LOG_FLUSH_MS;
    if ((flushed && seen >= writes) || Date.now() - lastChange > 3000 || Date.now() - started > SETTLE_MAX_MS)
      return now;
    await sleep(250);
  }
}

// One scenario: scrape, load (and policy writes), scrape; the row of the summary.
async function runScenario(scenario, { url, tokens, governanceDir, idleCpuPerSecond }) {
  const summaryOut = join(resultsDir, `k6-${scenario}.json`);
  rmSync(summaryOut, { force: true });
  console.error(
    `\nload: ${scenario} — target ${process.env[`LOAD_RATE_${scenario.toUpperCase()}`] ?? TARGETS[scenario]} RPS for ${durationSeconds} s`,
  );
  const before = await scrape(url);
  const h0 = hostCpu();
  const c0 = reapedChildrenCpu();
  const writer =
    scenario === 'reconfiguration' ? startPolicyUpdates({ packDir: governanceDir, scratchDir: work }) : undefined;
  const k6Exit = await runK6(scenario, { url, tokens, summaryOut });
  const after = await scrape(url);
  const h1 = hostCpu();
  const c1 = reapedChildrenCpu();
  const writes = writer?.stop() ?? 0;
  // The decision log flushes every second; the reconfiguration run also waits for its last reloads.
  const settled = writer
    ? await settle(url, before, writes)
    : await sleep(DECISION_LOG_FLUSH_MS).then(() => scrape(url));
  if (!existsSync(summaryOut)) return { scenario, error: `k6 exited ${k6Exit} without a summary` };
  const k6 = JSON.parse(readFileSync(summaryOut, 'utf8'));
  const host = h0 && h1 && h1.total > h0.total ? ((h1.busy - h0.busy) / (h1.total - h0.total)) * 100 : undefined;
  const targetRate = Number(process.env[`LOAD_RATE_${scenario.toUpperCase()}`] ?? TARGETS[scenario]);
  return scenarioResult({
    scenario,
    targetRate,
    durationSeconds,
    k6,
    k6Exit,
    before,
    after,
    settled,
    wallSeconds: (after.at - before.at) / 1000,
    idleCpuPerSecond,
    host,
    k6Cpu: c0 === undefined || c1 === undefined ? undefined : c1 - c0,
    writes,
  });
}

let failed = false;
const startedAt = new Date().toISOString();
const loadAverageAtStart = loadavg();
try {
  const port = await freePort();
  if (withRevocation) {
    redis = await startRedis();
    console.error(`load: revocation on, redis-server at ${redis.url}`);
  }
  const fixtures = await buildFixtures({
    root,
    work,
    port,
    revocation: redis ? { url: redis.url, keyPrefix: KEY_PREFIX } : undefined,
    tracing: withTracing,
  });
  const revoked = redis
    ? await writeRevoked({ root, url: redis.url, probeJti: fixtures.probe.jti, untilSeconds: fixtures.probe.exp })
    : undefined;
  const logFile = join(resultsDir, 'agent.log');
  const spansFile = join(work, 'otel-spans.json');
  console.error(`load: starting the agent on 127.0.0.1:${port} (log: ${relative(root, logFile)})`);
  agent = await startAgent({
    root,
    configFile: fixtures.configFile,
    port,
    logFile,
    nodeArgs: withTracing ? ['--import', join(root, 'load', 'lib', 'otel-preload.mjs')] : [],
    env: withTracing ? { LOAD_OTEL_REPORT: spansFile } : {},
  });
  await warmUp(agent.url, fixtures.tokens, redis ? fixtures.probe : undefined);

  const idle0 = await scrape(agent.url);
  await sleep(IDLE_SECONDS * 1000);
  const idle1 = await scrape(agent.url);
  const idleCpuPerSecond = delta(idle0, idle1, 'process_cpu_seconds_total') / ((idle1.at - idle0.at) / 1000);

  const rows = [];
  for (const [i, scenario] of scenarios.entries()) {
    if (interrupted) break;
    if (i > 0) await sleep(PAUSE_MS);
    const row = await runScenario(scenario, {
      url: agent.url,
      tokens: fixtures.tokens,
      governanceDir: fixtures.governanceDir,
      idleCpuPerSecond,
    });
    if (row.error) {
      failed = true;
      console.error(`load: ${scenario}: ${row.error}\n${tail(logFile)}`);
    } else if (scenario === 'reconfiguration' && row.agent.reloads.success < 1) {
      failed = true;
      console.error(
        `load: reconfiguration: ${row.agent.reloads.policy_writes} policy writes but policy_reload_success_total did not grow`,
      );
    } else if (row.k6.exit_code !== 0) {
      console.error(`load: ${scenario}: k6 exited ${row.k6.exit_code} (99: a threshold was crossed — see the table)`);
    }
    if (agent.child.exitCode !== null) throw new Error(`the agent died during ${scenario}:\n${tail(logFile)}`);
    rows.push(row);
  }

  const summary = {
    started_at: startedAt,
    command:
      process.env.npm_lifecycle_event === 'load'
        ? 'npm run load'
        : `node scripts/load.mjs${args.length ? ` ${args.join(' ')}` : ''}`,
    k6_version: k6Version,
    machine: machine(),
    // 1, 5 and 15 min, before the run and at its end (the run itself adds to the latter).
    load_average: { start: loadAverageAtStart.map(round2), end: loadavg().map(round2) },
    revocation: revoked ? { redis: true, revoked, refresh_seconds: 5, on_stale: 'fail_open' } : undefined,
    tracing: withTracing ? { decision_sample: DECISION_SAMPLE } : undefined,
    duration_s: durationSeconds,
    agent_idle_cpu_s_per_s: Math.round(idleCpuPerSecond * 10_000) / 10_000,
    scenarios: rows.filter((r) => !r.error),
    errors: rows.filter((r) => r.error),
  };
  if (withTracing) {
    // The preload writes its counts when the agent exits: stop it now (cleanup() is then a no-op for it).
    await agent.stop();
    summary.tracing.spans = readSpanCounts(spansFile);
  }
  writeFileSync(join(resultsDir, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
  const md = markdown(summary);
  writeFileSync(join(resultsDir, 'summary.md'), md);
  console.log(`\n${md}`);
  console.error(`load: wrote ${relative(root, join(resultsDir, 'summary.json'))} and summary.md`);
} catch (err) {
  failed = true;
  if (!interrupted) console.error(`load: ${err instanceof Error ? err.message : String(err)}`);
} finally {
  await cleanup();
}
process.exit(failed ? 1 : 0);
