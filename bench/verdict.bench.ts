/**
 * Governance verdicts (the latency budget and denial storm of docs/design.md#targets): per-call latency
 * of the verdict path and its parts against the evaluation it wraps, the
 * decision log's cost on the verdict, and the CPU of denials against allows,
 * in-process and over HTTP, all in one run.
 *
 * 1. Latency, every call timed on its own (hrtime), cases interleaved in rounds
 *    (bench/lib/latency.ts): baseline `decider.decide('governance/verdict')` on
 *    the same parsed contexts; `Governance.verdict` with the cache off, with it
 *    on and every context new (miss + set), with it on and contexts repeated
 *    (hits); `killSwitches.check`; the tenant check on a valid ES256 token
 *    (awaited per call); a kill-switch block. Ratios to the baseline, and the
 *    budget table.
 * 2. Decision log on vs off: the uncached verdict on two agents differing only
 *    in `decision_log`, interleaved rounds, with an event-loop turn after every
 *    verdict (as a server answering one request per turn) and after every 50;
 *    the logged agent's writer is drained, untimed, after its block, so the
 *    other agent's calls never run beside it. Goal p99 within 5 %. Also the CPU
 *    per verdict including the background writer.
 * 3. Deny vs allow CPU: process.cpuUsage over long loops of all-allow and
 *    all-deny contexts (uncached), alternating; and an allow storm vs a denial
 *    storm with autocannon against `POST /v1/verdict` of an agent process, its
 *    CPU per request from /proc (plus an allow storm on a second agent process
 *    with the decision log on). Goal: deny ≤ allow.
 *
 * In-process agents start with startAgent on the example folders (directory
 * sources, unsigned; bench/lib/governance-agent.ts).
 *
 * Run: `npm run bench:verdict` (or `node --import tsx bench/verdict.bench.ts`
 * after `npm run build`: the HTTP part runs bin/warden.js, i.e. dist/).
 * Prints tables; figures go to bench/results/.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setImmediate as turn, setTimeout as sleep } from 'node:timers/promises';
import type { Registry } from 'prom-client';
import {
  ALLOWS,
  BLOCKED,
  checkVerdicts,
  DENIES,
  MIX,
  startGovernanceAgent,
  tenantKeys,
  VERDICT_ENTRYPOINT,
  type GovernanceAgent,
  type VerdictCase,
} from './lib/governance-agent.js';
import { mainThreadCpuNs } from './lib/cpu.js';
import { blocksOf, callPercentiles, sampleCalls, type CallCase, type CallPercentiles } from './lib/latency.js';
import { machineInfo } from './lib/machine.js';
import { stopAll } from './lib/procs.js';
import { ms, ratio, table, writeResults } from './lib/report.js';
import { summarize } from './lib/stats.js';
import { startVerdictServer, storm, type StormRun, type VerdictServer } from './lib/verdict-storm.js';
import type { Decision } from '../src/decide/decider.js';
import type { Verdict } from '../src/govern/verdict/governance.js';
import { parseVerdictContext } from '../src/govern/verdict/verdict-shape.js';

const LATENCY_PLAN = { warmupRounds: 10, rounds: 100, callsPerRound: 500 };
/** Tenant checks per round: each is a WebCrypto ECDSA verify (~100× a verdict). */
const TENANT_CALLS = 100;
/**
 * Log on vs off, per granularity: an event-loop turn after every verdict (a
 * server answering one request per turn; the writer runs between them), and
 * after every 50. In each round the logged agent's block is followed, untimed,
 * by the writer draining, so the other agent's block runs without it.
 */
const LOG_TURNS = [1, 50] as const;
const LOG_PLAN = { warmupRounds: 5, rounds: 40, callsPerRound: 1000 };
const LOG_GOAL = 1.05;
/** Blocks of rounds the log on/off p99 ratio is also computed over, for its spread. */
const LOG_BLOCKS = 5;
const CPU_PLAN = { rounds: 8, verdicts: 20_000, chunk: 1_000 };
const LOG_CPU_PLAN = { rounds: 5, verdicts: 10_000 };
const HTTP = { connections: 16, seconds: 5, warmupSeconds: 2, rounds: 3 };
const DENY_GOAL = 1.0;
/** "Within noise" for the deny/allow goal: run-to-run spread of the paired ratio here is about ±5 %. */
const NOISE = 1.05;
const NS_PER_MS = 1e6;

/** The local latency budgets in ms, p50, p95, p99 (docs/design.md#targets). */
const BUDGET = {
  verdict: [1, 5, 10],
  killSwitch: [0.1, 2, 5],
  tenant: [1, 5, 10],
} as const;

/** The in-process agents: the same packs; they differ in cache and decision log. */
interface Agents {
  /** Cache off, log off, tenants on (every token verified): the baseline's decider, uncached verdicts, switches, tenant check. */
  readonly off: GovernanceAgent;
  /** Cache off, log on. */
  readonly logged: GovernanceAgent;
  /** Cache on (decisions and verified tokens), log off. */
  readonly cached: GovernanceAgent;
  readonly token: string;
  readonly tenant: string;
}

// Verdict case: `contextOf(i)` through `governance`; answers must match and come (or not) from the cache.
function verdictCase(
  name: string,
  a: GovernanceAgent,
  cases: readonly VerdictCase[],
  fromCache: boolean,
  contextOf?: (i: number) => unknown,
): CallCase<Verdict> {
  return {
    name,
    call: (i) => a.governance.verdict(contextOf ? contextOf(i) : (cases[i % cases.length] as VerdictCase).context),
    ok: (v, i) => v.result === (cases[i % cases.length] as VerdictCase).expect && v.cached === fromCache,
  };
}

// The latency cases of part 1.
function latencyCases(g: Agents): CallCase[] {
  const parsed = MIX.map((c) => parseVerdictContext(c.context));
  const modules = MIX.map((c) => c.context.module ?? '');
  const headers = { authorization: `Bearer ${g.token}`, 'x-tenant-id': g.tenant };
  const total = (LATENCY_PLAN.warmupRounds + LATENCY_PLAN.rounds) * LATENCY_PLAN.callsPerRound;
  // Every miss-case context is new: the subject carries the call's number (subjects only matter when blank).
  const fresh = Array.from({ length: total }, (_, i) => {
    const c = MIX[i % MIX.length] as VerdictCase;
    return { ...c.context, subject: `${c.context.subject}-${i}` };
  });
  return [
    { name: 'timer floor (empty call)', call: (i) => i, ok: () => true },
    {
      name: 'baseline: decider.decide',
      call: (i): Decision => g.off.agent.decider.decide(VERDICT_ENTRYPOINT, parsed[i % parsed.length]),
      ok: (d: Decision, i) =>
        d.defined &&
        (d.result as { allow?: unknown }).allow === ((MIX[i % MIX.length] as VerdictCase).expect === 'allow'),
    },
    verdictCase('verdict, cache off (mix)', g.off, MIX, false),
    verdictCase('verdict, cache off, allows only', g.off, ALLOWS, false),
    verdictCase('verdict, cache off, denials only', g.off, DENIES, false),
    verdictCase('verdict, cache on, every context new (miss + set)', g.cached, MIX, false, (i) => fresh[i]),
    verdictCase('verdict, cache on, contexts repeated (hit)', g.cached, MIX, true),
    verdictCase('verdict, kill switch on (blocked)', g.off, [BLOCKED], false),
    {
      name: 'killSwitches.check(module)',
      call: (i) => g.off.killSwitches.check(modules[i % modules.length] ?? ''),
      ok: (s: { active: boolean }) => !s.active,
    },
    {
      name: 'tenant check: validate(headers), ES256, awaited',
      async: true,
      callsPerRound: TENANT_CALLS,
      call: () => g.off.governance.authenticate(headers),
      ok: (t: { tenant: string }) => t.tenant === g.tenant,
    },
    {
      name: 'tenant check: the same token, verified token cached',
      async: true,
      callsPerRound: TENANT_CALLS,
      call: () => g.cached.governance.authenticate(headers),
      ok: (t: { tenant: string }) => t.tenant === g.tenant,
    },
  ];
}

/** Part 1's figures, ns per call. */
interface LatencyResult {
  readonly perCallNs: Record<string, CallPercentiles>;
  /** Each case over the baseline at p50, p95, p99. */
  readonly vsBaseline: Record<string, { p50: number; p95: number; p99: number }>;
}

// Part 1.
async function latency(g: Agents): Promise<LatencyResult> {
  // The cached case must only ever hit: fill the cache first.
  for (const c of MIX) g.cached.governance.verdict(c.context);
  const samples = await sampleCalls(latencyCases(g), LATENCY_PLAN);
  const perCallNs = Object.fromEntries([...samples].map(([k, s]) => [k, callPercentiles(s.ns)]));
  const base = perCallNs['baseline: decider.decide'] as CallPercentiles;
  const vsBaseline = Object.fromEntries(
    Object.entries(perCallNs).map(([k, s]) => [
      k,
      { p50: s.p50 / base.p50, p95: s.p95 / base.p95, p99: s.p99 / base.p99 },
    ]),
  );
  return { perCallNs, vsBaseline };
}

/** Part 2's figures at one turn granularity. */
interface LogFigures {
  readonly callsPerTurn: number;
  readonly perCallNs: { off: CallPercentiles; on: CallPercentiles };
  readonly ratio: { p50: number; p95: number; p99: number };
  /** The p99 ratio within each block of consecutive rounds. */
  readonly p99RatioByBlock: number[];
  /** CPU µs per verdict, the background writer included (every thread of the process), per round. */
  readonly cpuUs: { off: number[]; on: number[] };
  /** CPU µs per verdict of the main thread alone (the one answering), per round. */
  readonly mainUs: { off: number[]; on: number[] };
  /** Median over rounds of on / off CPU of the same round. */
  readonly cpuRatio: number;
  /** The same for the main thread's CPU. */
  readonly mainRatio: number;
}

/** Part 2's figures. */
interface LogResult {
  readonly byTurn: LogFigures[];
  readonly written: number;
  readonly dropped: number;
}

// Sum of a metric's values in a registry (scraped counters fold in on get()).
async function metricSum(registry: Registry, name: string): Promise<number> {
  const m = await registry.getSingleMetric(name)?.get();
  return (m?.values ?? []).reduce((acc, v) => acc + v.value, 0);
}

// Waits until the decision log has written (or dropped) every verdict the agent gave.
async function drained(a: GovernanceAgent): Promise<void> {
  const r = a.agent.metrics.registry;
  for (let i = 0; i < 10_000; i++) {
    const [given, written, dropped] = await Promise.all([
      metricSum(r, 'governance_decision_count'),
      metricSum(r, 'warden_decision_log_written_total'),
      metricSum(r, 'warden_decision_log_dropped_total'),
    ]);
    if (written + dropped >= given) return;
    await sleep(1);
  }
  throw new Error('the decision log did not drain within ~10 s');
}

// CPU µs (all threads, and the main thread alone) and wall µs per verdict of `n` verdicts over `cases`, an
// event-loop turn after every `chunk`; `after` runs inside the measurement.
async function cpuPhase(
  a: GovernanceAgent,
  cases: readonly VerdictCase[],
  plan: { verdicts: number; chunk: number },
  after?: () => Promise<void>,
): Promise<{ cpuUs: number; mainUs: number; wallUs: number }> {
  const main0 = mainThreadCpuNs();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let wrong = 0;
  for (let i = 0; i < plan.verdicts;) {
    const end = Math.min(plan.verdicts, i + plan.chunk);
    for (; i < end; i++) {
      const c = cases[i % cases.length] as VerdictCase;
      if (a.governance.verdict(c.context).result !== c.expect) wrong++;
    }
    await turn();
  }
  await after?.();
  const wallUs = ((performance.now() - t0) * 1000) / plan.verdicts;
  const cpu = process.cpuUsage(cpu0);
  const mainUs = (mainThreadCpuNs() - main0) / 1000 / plan.verdicts;
  if (wrong > 0) throw new Error(`cpu phase: ${wrong} wrong verdicts`);
  return { cpuUs: (cpu.user + cpu.system) / plan.verdicts, mainUs, wallUs };
}

// Part 2 at one granularity: per-call latency, then CPU per verdict with the writer's work included.
async function logFigures(g: Agents, callsPerTurn: number): Promise<LogFigures> {
  const on = { ...verdictCase('log on', g.logged, MIX, false), after: () => drained(g.logged) };
  const samples = await sampleCalls([verdictCase('log off', g.off, MIX, false), on], { ...LOG_PLAN, callsPerTurn });
  const offS = samples.get('log off');
  const onS = samples.get('log on');
  if (!offS || !onS) throw new Error('log cases did not run');
  const perCallNs = { off: callPercentiles(offS.ns), on: callPercentiles(onS.ns) };
  const offBlocks = blocksOf(offS, LOG_BLOCKS);
  const p99RatioByBlock = blocksOf(onS, LOG_BLOCKS).map(
    (b, i) => callPercentiles(b).p99 / callPercentiles(offBlocks[i] ?? []).p99,
  );
  log(
    `decision log, a turn every ${callsPerTurn}: CPU per verdict incl. the writer, ${LOG_CPU_PLAN.rounds} rounds of ${LOG_CPU_PLAN.verdicts} verdicts…`,
  );
  const cpuUs = { off: [] as number[], on: [] as number[] };
  const mainUs = { off: [] as number[], on: [] as number[] };
  for (let r = 0; r < LOG_CPU_PLAN.rounds; r++) {
    for (const which of r % 2 === 0 ? (['off', 'on'] as const) : (['on', 'off'] as const)) {
      // The logged agent's phase lasts until its writer has written every verdict; the other has no writer.
      const res =
        which === 'on'
          ? await cpuPhase(g.logged, MIX, { verdicts: LOG_CPU_PLAN.verdicts, chunk: callsPerTurn }, () =>
              drained(g.logged),
            )
          : await cpuPhase(g.off, MIX, { verdicts: LOG_CPU_PLAN.verdicts, chunk: callsPerTurn });
      cpuUs[which].push(res.cpuUs);
      mainUs[which].push(res.mainUs);
    }
  }
  return {
    callsPerTurn,
    perCallNs,
    ratio: {
      p50: perCallNs.on.p50 / perCallNs.off.p50,
      p95: perCallNs.on.p95 / perCallNs.off.p95,
      p99: perCallNs.on.p99 / perCallNs.off.p99,
    },
    p99RatioByBlock,
    cpuUs,
    cpuRatio: median(cpuUs.on.map((x, i) => x / (cpuUs.off[i] ?? NaN))),
    mainUs,
    mainRatio: median(mainUs.on.map((x, i) => x / (mainUs.off[i] ?? NaN))),
  };
}

// Part 2.
async function decisionLog(g: Agents): Promise<LogResult> {
  await drained(g.logged);
  const byTurn: LogFigures[] = [];
  for (const t of LOG_TURNS) {
    log(
      `decision log on vs off, a turn every ${t} verdict(s): ${LOG_PLAN.warmupRounds} + ${LOG_PLAN.rounds} rounds of ${LOG_PLAN.callsPerRound}…`,
    );
    byTurn.push(await logFigures(g, t));
  }
  const reg = g.logged.agent.metrics.registry;
  return {
    byTurn,
    written: await metricSum(reg, 'warden_decision_log_written_total'),
    dropped: await metricSum(reg, 'warden_decision_log_dropped_total'),
  };
}

/** Part 3's in-process figures, per round. */
interface CpuResult {
  readonly cpuUs: Record<'allow' | 'deny' | 'blocked', number[]>;
  readonly wallUs: Record<'allow' | 'deny' | 'blocked', number[]>;
  /** Median over rounds of deny / allow CPU of the same round. */
  readonly denyOverAllow: number;
}

// Part 3, in-process: all-allow, all-deny and all-blocked loops, order rotating each round.
async function cpuInProcess(g: Agents): Promise<CpuResult> {
  const mixes = { allow: ALLOWS, deny: DENIES, blocked: [BLOCKED] } as const;
  const names = Object.keys(mixes) as Array<keyof typeof mixes>;
  const cpuUs = { allow: [] as number[], deny: [] as number[], blocked: [] as number[] };
  const wallUs = { allow: [] as number[], deny: [] as number[], blocked: [] as number[] };
  await cpuPhase(g.off, MIX, CPU_PLAN); // warm-up
  for (let r = 0; r < CPU_PLAN.rounds; r++) {
    for (let k = 0; k < names.length; k++) {
      const name = names[(r + k) % names.length] as keyof typeof mixes;
      const res = await cpuPhase(g.off, mixes[name], CPU_PLAN);
      cpuUs[name].push(res.cpuUs);
      wallUs[name].push(res.wallUs);
    }
  }
  return { cpuUs, wallUs, denyOverAllow: median(cpuUs.deny.map((d, i) => d / (cpuUs.allow[i] ?? NaN))) };
}

/** Part 3 over HTTP. */
interface HttpResult {
  readonly runs: StormRun[];
  readonly bodyBytes: Record<'allow' | 'deny', number>;
  /** Median over rounds of deny / allow agent CPU per request of the same round. */
  readonly cpuDenyOverAllow: number;
  readonly rpsDenyOverAllow: number;
  /** The same for the allow storm on the agent with a decision log over the one without. */
  readonly cpuLogOnOverOff: number;
  readonly rpsLogOnOverOff: number;
}

// Part 3 over HTTP: warm-up, then rounds of an allow storm, a denial storm, and an allow storm on the logging agent, order rotating.
async function cpuOverHttp(plain: VerdictServer, logging: VerdictServer): Promise<HttpResult> {
  const storms = {
    allow: { server: plain, cases: ALLOWS },
    deny: { server: plain, cases: DENIES },
    'allow, log on': { server: logging, cases: ALLOWS },
  } as const;
  const names = Object.keys(storms) as Array<keyof typeof storms>;
  for (const s of names) await storm(storms[s].server, storms[s].cases, HTTP.connections, HTTP.warmupSeconds);
  const runs: StormRun[] = [];
  for (let round = 1; round <= HTTP.rounds; round++) {
    for (let k = 0; k < names.length; k++) {
      const s = names[(round + k) % names.length] as keyof typeof storms;
      log(`HTTP round ${round}: ${s} storm, ${HTTP.connections} connections, ${HTTP.seconds} s…`);
      const r = await storm(storms[s].server, storms[s].cases, HTTP.connections, HTTP.seconds);
      runs.push({ storm: s, round, ...r, cpuPerRequestUs: (r.agentCpuMs * 1000) / r.load.completed });
    }
  }
  const of = (s: StormRun['storm']): StormRun[] => runs.filter((r) => r.storm === s);
  const paired = (a: StormRun['storm'], b: StormRun['storm'], f: (r: StormRun) => number): number =>
    median(of(a).map((x, i) => f(x) / f(of(b)[i] as StormRun)));
  const cpu = (r: StormRun): number => r.cpuPerRequestUs;
  const rps = (r: StormRun): number => r.load.requestsPerSecond.mean;
  return {
    runs,
    bodyBytes: { ...plain.bodyBytes },
    cpuDenyOverAllow: paired('deny', 'allow', cpu),
    rpsDenyOverAllow: paired('deny', 'allow', rps),
    cpuLogOnOverOff: paired('allow, log on', 'allow', cpu),
    rpsLogOnOverOff: paired('allow, log on', 'allow', rps),
  };
}

function median(xs: readonly number[]): number {
  return summarize(xs).p50;
}

// ns → µs with a precision that suits the size.
function us(ns: number): string {
  const v = ns / 1000;
  return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v >= 1 ? v.toFixed(2) : v.toFixed(3);
}

// Budget line: measured p50/p95/p99 (ns) against budgets in ms.
function budgetRow(component: string, s: CallPercentiles, budget: readonly number[]): string[] {
  const ok = [s.p50, s.p95, s.p99].every((v, i) => v < (budget[i] ?? 0) * NS_PER_MS);
  return [
    component,
    `${us(s.p50)} / ${us(s.p95)} / ${us(s.p99)}`,
    budget.map((b) => `${b} ms`).join(' / '),
    ok ? 'met' : 'MISSED',
  ];
}

// Part 1 and the budget table; the artifact-writing row is part 2 at one verdict per turn.
function renderLatency(l: LatencyResult, d: LogResult): string {
  const out: string[] = [];
  const n = (k: string): CallPercentiles => l.perCallNs[k] as CallPercentiles;
  out.push(
    `## 1. Latency per call, µs (each call timed alone; ${LATENCY_PLAN.rounds} interleaved rounds after ${LATENCY_PLAN.warmupRounds} warm-up)\n`,
  );
  out.push(
    table(
      ['case', 'n', 'p50', 'p95', 'p99', 'max', 'p50 / baseline', 'p95 / baseline', 'p99 / baseline'],
      Object.entries(l.perCallNs).map(([k, s]) => {
        const r = l.vsBaseline[k];
        return [
          k,
          String(s.n),
          us(s.p50),
          us(s.p95),
          us(s.p99),
          us(s.max),
          ratio(r?.p50 ?? NaN),
          ratio(r?.p95 ?? NaN),
          ratio(r?.p99 ?? NaN),
        ];
      }),
    ),
  );
  const server = d.byTurn[0] as LogFigures;
  const { on, off } = server.perCallNs;
  out.push('\n## Against the budget (local, docs/design.md#targets), measured p50 / p95 / p99 in µs\n');
  out.push(
    table(
      ['component', 'measured', 'budget', 'result'],
      [
        budgetRow('governance verdict, cache off', n('verdict, cache off (mix)'), BUDGET.verdict),
        budgetRow(
          'governance verdict, cache on, miss',
          n('verdict, cache on, every context new (miss + set)'),
          BUDGET.verdict,
        ),
        budgetRow('governance verdict, cache on, hit', n('verdict, cache on, contexts repeated (hit)'), BUDGET.verdict),
        budgetRow('kill switch evaluation', n('killSwitches.check(module)'), BUDGET.killSwitch),
        budgetRow('tenant isolation check', n('tenant check: validate(headers), ES256, awaited'), BUDGET.tenant),
        budgetRow(
          'tenant isolation check, token cached',
          n('tenant check: the same token, verified token cached'),
          BUDGET.tenant,
        ),
        [
          `artifact writing, request path (verdict log on − off, a turn every ${server.callsPerTurn})`,
          [on.p50 - off.p50, on.p95 - off.p95, on.p99 - off.p99].map(us).join(' / '),
          '0 ms (no write on the path)',
          server.ratio.p99 <= LOG_GOAL
            ? 'met: no I/O on the path, p99 within 5 %'
            : 'no I/O on the path; p99 over 5 %: see part 2',
        ],
      ],
    ),
  );
  return out.join('\n');
}

// Part 2.
function renderLog(d: LogResult): string {
  const out: string[] = [];
  out.push(
    `## 2. Decision log on vs off: verdict, cache off, ${LOG_PLAN.rounds} interleaved rounds of ${LOG_PLAN.callsPerRound} per agent (goal: p99 on/off ≤ ${ratio(LOG_GOAL)})\n`,
  );
  const rows: string[][] = [];
  for (const f of d.byTurn) {
    const row = (label: string, s: CallPercentiles, cpu: number[], main: number[]): string[] => [
      `a turn every ${f.callsPerTurn}, log ${label}`,
      String(s.n),
      us(s.p50),
      us(s.p95),
      us(s.p99),
      us(s.max),
      median(cpu).toFixed(2),
      median(main).toFixed(2),
    ];
    rows.push(
      row('off', f.perCallNs.off, f.cpuUs.off, f.mainUs.off),
      row('on', f.perCallNs.on, f.cpuUs.on, f.mainUs.on),
    );
    rows.push([
      `a turn every ${f.callsPerTurn}, on / off`,
      '',
      ratio(f.ratio.p50),
      ratio(f.ratio.p95),
      ratio(f.ratio.p99),
      '',
      `${ratio(f.cpuRatio)} paired`,
      `${ratio(f.mainRatio)} paired`,
    ]);
  }
  out.push(
    table(
      [
        'case',
        'n',
        'p50 µs',
        'p95 µs',
        'p99 µs',
        'max µs',
        'CPU µs/verdict incl. writer',
        'main thread CPU µs/verdict',
      ],
      rows,
    ),
  );
  out.push('');
  for (const f of d.byTurn) {
    out.push(
      `- a turn every ${f.callsPerTurn}: p99 on/off ${ratio(f.ratio.p99)} (by block of ${LOG_PLAN.rounds / LOG_BLOCKS} rounds: ${f.p99RatioByBlock.map(ratio).join(' ')}); goal ${f.ratio.p99 <= LOG_GOAL ? 'met' : 'MISSED'}`,
    );
  }
  out.push(`- events written ${d.written}, dropped ${d.dropped}\n`);
  return out.join('\n');
}

// Part 3, in-process.
function renderCpu(c: CpuResult): string {
  const out: string[] = [];
  out.push(
    `## 3. Deny vs allow CPU, in-process (cache off, log off; ${CPU_PLAN.rounds} rounds of ${CPU_PLAN.verdicts} verdicts per mix, process.cpuUsage)\n`,
  );
  const cpuRow = (k: 'allow' | 'deny' | 'blocked', label: string): string[] => [
    label,
    median(c.cpuUs[k]).toFixed(2),
    `${Math.min(...c.cpuUs[k]).toFixed(2)}–${Math.max(...c.cpuUs[k]).toFixed(2)}`,
    median(c.wallUs[k]).toFixed(2),
  ];
  out.push(
    table(
      ['mix', 'CPU µs/verdict (median)', 'range over rounds', 'wall µs/verdict (median)'],
      [
        cpuRow('allow', 'all allow (4 contexts)'),
        cpuRow('deny', 'all deny, policy (4 contexts)'),
        cpuRow('blocked', 'all blocked, kill switch'),
      ],
    ),
  );
  out.push(
    `\ndeny / allow CPU, median of paired rounds: ${ratio(c.denyOverAllow)}; goal ≤ ${ratio(DENY_GOAL)} (5 % allowed for noise): ${c.denyOverAllow <= DENY_GOAL * NOISE ? 'met' : 'MISSED'}\n`,
  );
  return out.join('\n');
}

// Part 3 over HTTP.
function renderHttp(h: HttpResult): string {
  const out: string[] = [];
  out.push(
    `## 3b. Allow storm vs denial storm over HTTP (agent process, POST /v1/verdict, ${HTTP.connections} connections, ${HTTP.seconds} s per run, load generator in its own process)\n`,
  );
  out.push(
    table(
      ['round', 'storm', 'req/s', 'p50 ms', 'p99 ms', 'agent CPU µs/req', 'agent cores busy', 'non-2xx', 'wrong'],
      h.runs.map((r) => [
        String(r.round),
        r.storm,
        r.load.requestsPerSecond.mean.toFixed(0),
        ms(r.load.latencyMs.p50),
        ms(r.load.latencyMs.p99),
        r.cpuPerRequestUs.toFixed(1),
        (r.agentCpuMs / (r.load.durationSeconds * 1000)).toFixed(2),
        String(r.load.non2xx),
        String(r.load.wrong),
      ]),
    ),
  );
  out.push(
    `\n- deny / allow, median of paired rounds: agent CPU per request ${ratio(h.cpuDenyOverAllow)}, req/s ${ratio(h.rpsDenyOverAllow)}; goal ≤ ${ratio(DENY_GOAL)} (5 % allowed for noise): ${h.cpuDenyOverAllow <= DENY_GOAL * NOISE ? 'met' : 'MISSED'}`,
  );
  out.push(`- answer bodies: ${h.bodyBytes.allow} B (allow) vs ${h.bodyBytes.deny} B (deny, with its reasons)`);
  out.push(
    `- allow storm, decision log on / off (two agent processes), median of paired rounds: agent CPU per request ${ratio(h.cpuLogOnOverOff)}, req/s ${ratio(h.rpsLogOnOverOff)}\n`,
  );
  return out.join('\n');
}

// Progress goes to stderr so stdout holds only the report.
function log(message: string): void {
  process.stderr.write(`bench verdict: ${message}\n`);
}

// Starts the agents, measures the three parts, reports, cleans up.
async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'warden-bench-verdict-'));
  const started: GovernanceAgent[] = [];
  const servers: VerdictServer[] = [];
  try {
    log('starting 3 in-process agents on examples/governance + examples/killswitch (directory sources, opa build)…');
    const keys = await tenantKeys(dir);
    const start = async (name: string, cache: boolean, decisionLog: boolean): Promise<GovernanceAgent> => {
      // The caching agent caches verified tokens too; the others verify every token (the worst case).
      const a = await startGovernanceAgent({
        dir: join(dir, name),
        cache,
        decisionLog,
        tenants: keys,
        tokenCacheSeconds: cache ? 30 : 0,
      });
      started.push(a);
      checkVerdicts(a.governance, [...MIX, BLOCKED], name);
      return a;
    };
    const g: Agents = {
      off: await start('off', false, false),
      logged: await start('logged', false, true),
      cached: await start('cached', true, false),
      token: keys.token,
      tenant: keys.tenant,
    };
    log(`part 1: latency, ${LATENCY_PLAN.warmupRounds} + ${LATENCY_PLAN.rounds} rounds…`);
    const lat = await latency(g);
    log('part 2: decision log on vs off…');
    const dl = await decisionLog(g);
    log(`part 3: deny vs allow CPU in-process, ${CPU_PLAN.rounds} rounds…`);
    const cpu = await cpuInProcess(g);
    await Promise.all(started.splice(0).map((a) => a.agent.close()));
    log('part 3b: starting two agent processes (decision log off, on) for the HTTP storms…');
    const plain = await startVerdictServer(join(dir, 'http'), [...ALLOWS, ...DENIES], false);
    servers.push(plain);
    const logging = await startVerdictServer(join(dir, 'http-logged'), ALLOWS, true);
    servers.push(logging);
    const http = await cpuOverHttp(plain, logging);
    const machine = machineInfo();
    const report = [renderLatency(lat, dl), renderLog(dl), renderCpu(cpu), renderHttp(http)].join('\n\n');
    process.stdout.write(
      `# Governance verdict benchmark\n\n${machine.cores} cores, ${machine.cpuModel}, Node ${machine.node}\n\n${report}\n`,
    );
    const path = await writeResults('verdict', {
      benchmark: 'verdict',
      date: new Date().toISOString(),
      machine,
      unit: { latency: 'ns per call', cpu: 'µs per verdict' },
      plans: {
        latency: LATENCY_PLAN,
        tenantCallsPerRound: TENANT_CALLS,
        log: { ...LOG_PLAN, turns: LOG_TURNS },
        logCpu: LOG_CPU_PLAN,
        cpu: CPU_PLAN,
        http: HTTP,
      },
      budgetMs: BUDGET,
      goals: { logP99Ratio: LOG_GOAL, denyOverAllow: DENY_GOAL },
      contexts: { allows: ALLOWS, denies: DENIES, blocked: BLOCKED },
      latency: lat,
      decisionLog: dl,
      cpuInProcess: cpu,
      http,
    });
    process.stdout.write(`\nraw figures: ${path}\n`);
  } finally {
    await Promise.all(started.map((a) => a.agent.close()));
    await stopAll(servers.map((x) => x.proc));
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
