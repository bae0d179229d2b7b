/**
 * The cost of live shadow evaluation on the verdicts the active version answers
 * (issue 11: verdict p99 with a 10 % shadow sample on vs off, goal ≤ 1.05×).
 *
 * Two governance agents in this process (bench/lib/governance-agent.ts), the
 * same config but for the folder of their governance pack: decision cache off
 * (a cached verdict is not offered to the shadow), no decision log, the
 * governance pack in `rollout: { mode: shadow, sample: 0.1 }` (a gate that
 * never judges: the shadow runs the whole run). Both activate
 * examples/governance; then the "on" agent's folder gets a candidate (acme
 * loses `identity`: one context of the eight flips allow → deny, so the shadow
 * also writes its log), which becomes that agent's shadow. The "off"
 * agent has the same evaluator timer, with no shadow to evaluate. Two agents
 * rather than one whose shadow is started and cancelled between rounds: a
 * shadow cannot be paused, and restarting one needs a new version each time
 * (a store commit, a build) between rounds.
 *
 * 0. A/A: both agents before the candidate, the open-loop measurement of part 2:
 *    how far apart two identical agents are on this machine (the floor).
 * 1. Per call: `governance.verdict(ctx)` timed on its own (bench/lib/latency.ts),
 *    an event-loop turn after every verdict, rounds alternating. The shadow's
 *    evaluation runs in the turns between calls, where a per-call clock does
 *    not see it; this is the request path's own cost (sampling, the ring slot).
 *    After the "on" block its queue is drained, untimed.
 * 2. Arrivals at a fixed rate (open loop), the headline: verdicts are due every
 *    1/RATE s; after each event-loop turn every verdict due is answered, and its
 *    latency is completion minus the time it was due, so a verdict that waited
 *    behind the shadow evaluator's batch (a 50 ms timer on this thread), behind
 *    other verdicts or behind the scheduler counts the wait, as a request
 *    arriving at a server would. Blocks of BLOCK_MS per agent, order
 *    alternating; after the "on" block the rest of its queue is drained,
 *    untimed. p50/p90/p99 pooled, and the paired ratio at p99 (median over
 *    rounds of on / off p99 of the same round). Also how many sampled
 *    decisions the shadow evaluated, and dropped, inside the "on" blocks; the
 *    evaluator's batches timed from outside (BatchClock); and each verdict's
 *    wait during those batches, so the "on" latencies less those waits give
 *    the shadow's direct cost apart from the scheduler's (on a loaded host the
 *    scheduler sets the open-loop p99: the A/A of part 0 shows how much).
 * 3. Main-thread CPU per verdict with the shadow's evaluation included:
 *    verdicts with a turn after each, the "on" phase lasting until its queue
 *    is drained.
 *
 * Run: `node --import tsx bench/shadow.bench.ts` (in-process only: no dist/
 * needed; ~2 min), or `npm run bench` with the others. Prints tables; raw figures go to bench/results/.
 */
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setImmediate as turn } from 'node:timers/promises';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import type { ShadowProgress } from '../src/activate/shadow.js';
import type { LiveShadow } from '../src/shadow/run.js';
import { mainThreadCpuNs } from './lib/cpu.js';
import {
  checkVerdicts,
  GOVERNANCE_DIR,
  MIX,
  startGovernanceAgent,
  type GovernanceAgent,
  type VerdictCase,
} from './lib/governance-agent.js';
import { callPercentiles, sampleCalls, type CallCase, type CallPercentiles } from './lib/latency.js';
import { machineInfo } from './lib/machine.js';
import { ratio, table, writeResults } from './lib/report.js';
import { pairedRatio, summarize, type Summary } from './lib/stats.js';
import { eventually } from '../test/helpers/wait.js';

const SAMPLE = 0.1;
const GOAL = 1.05;
/** Never judged (min_decisions out of reach): the shadow runs the whole benchmark. */
const ROLLOUT = `{ mode: shadow, sample: ${SAMPLE}, queue_limit: 10000, gate: { min_decisions: 100000000, max_diff_rate: 1, allow_deny_to_allow: true, auto_promote: false } }`;
const PER_CALL_PLAN = { warmupRounds: 5, rounds: 40, callsPerRound: 2000, callsPerTurn: 1 };
/** Verdicts due per second in part 2. */
const RATES = [5_000, 20_000] as const;
const BLOCK_MS = 1_000;
const OPEN_PLAN = { warmupRounds: 2, rounds: 16 };
const AA_ROUNDS = 6;
const CPU_PLAN = { rounds: 6, verdicts: 20_000 };
const NS_PER_US = 1e3;

/**
 * The context of call i: MIX in a fixed pseudo-random order. Not MIX in turn: sampling is
 * systematic (every tenth decision), and every tenth call of a cycle of eight is always one of
 * the four odd-numbered contexts (the denials), so the shadow would never see an allow.
 */
const ORDER = ((): number[] => {
  let x = 12345;
  return Array.from({ length: 4096 }, () => {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    return Math.floor((x / 2 ** 31) * MIX.length);
  });
})();
const caseAt = (i: number): VerdictCase => MIX[ORDER[i % ORDER.length] as number] as VerdictCase;

/**
 * The shadow evaluator's batches, timed from outside: a batch starts when it takes decisions from
 * the shadow's ring and its evaluation ends when it asks the gate (what follows is the log's
 * asynchronous append). Only while `on` is set.
 */
const T0 = process.hrtime.bigint();
/** ns since the benchmark started: the one clock of the open loop and of the batches. */
const now = (): number => Number(process.hrtime.bigint() - T0);

class BatchClock {
  on = false;
  readonly ns: number[] = [];
  readonly sizes: number[] = [];
  /** Each batch's [start, end] on `now()`'s clock, in order. */
  readonly spans: number[] = [];
  #start = 0;

  attach(run: LiveShadow): void {
    const take = run.ring.take.bind(run.ring);
    run.ring.take = (max: number) => {
      this.#start = now();
      const out = take(max);
      if (this.on && out.length > 0) this.sizes.push(out.length);
      return out;
    };
    const judge = run.judge.bind(run);
    run.judge = () => {
      if (this.on) {
        const end = now();
        this.ns.push(end - this.#start);
        this.spans.push(this.#start, end);
      }
      return judge();
    };
  }

  /** The spans recorded since the last call. */
  takeSpans(): number[] {
    return this.spans.splice(0);
  }

  /** Everything recorded since the last call. */
  collect(): { ns: number[]; sizes: number[] } {
    return { ns: this.ns.splice(0), sizes: this.sizes.splice(0) };
  }
}

const clock = new BatchClock();

/**
 * The candidate: acme no longer has `identity`, so "acme updates identity" flips allow → deny (one
 * context of the eight), its golden case updated as its author would.
 */
async function publishCandidate(dir: string): Promise<void> {
  const manifestPath = join(dir, 'warden.yaml');
  const manifest = parseYaml(await readFile(manifestPath, 'utf8')) as {
    golden: Array<{ input?: { tenant?: string; module?: string }; expect: unknown }>;
  };
  for (const g of manifest.golden)
    if (g.input?.tenant === 'acme' && g.input.module === 'identity')
      g.expect = { allow: false, reasons: ['module_not_enabled'] };
  await writeFile(manifestPath, stringifyYaml(manifest));
  const dataPath = join(dir, 'data.json');
  const data = JSON.parse(await readFile(dataPath, 'utf8')) as {
    governance: { tenants: { acme: { modules: string[] } } };
  };
  const t = data.governance.tenants.acme;
  t.modules = t.modules.filter((m) => m !== 'identity');
  await writeFile(dataPath, JSON.stringify(data, null, 2));
}

function shadowOf(a: GovernanceAgent): { progress(): ShadowProgress } | undefined {
  return a.agent.packs.find((p) => p.config.name === 'governance')?.activator.shadow;
}

// Evaluates what the agent's shadow has queued (untimed, between blocks).
async function drain(a: GovernanceAgent): Promise<void> {
  await a.agent.shadows?.drain();
}

/** A shadow's counters at one moment. */
interface Counts {
  readonly sampled: number;
  readonly evaluated: number;
  readonly dropped: number;
}

function counts(a: GovernanceAgent): Counts {
  const p = shadowOf(a)?.progress();
  return { sampled: p?.sampled ?? 0, evaluated: p?.decisions ?? 0, dropped: p?.dropped ?? 0 };
}

function minus(x: Counts, y: Counts): Counts {
  return { sampled: x.sampled - y.sampled, evaluated: x.evaluated - y.evaluated, dropped: x.dropped - y.dropped };
}

function plus(x: Counts, y: Counts): Counts {
  return { sampled: x.sampled + y.sampled, evaluated: x.evaluated + y.evaluated, dropped: x.dropped + y.dropped };
}

const ZERO: Counts = { sampled: 0, evaluated: 0, dropped: 0 };

// ---- part 1: per call ----

interface PerCallResult {
  readonly off: CallPercentiles;
  readonly on: CallPercentiles;
  readonly ratio: { p50: number; p95: number; p99: number };
  /** Per-round p99 on / off, median. */
  readonly pairedP99: number;
  /** Inside the "on" blocks (the timer), and in the untimed drains after them. */
  readonly inBlocks: Counts;
  readonly drained: Counts;
}

async function perCall(on: GovernanceAgent, off: GovernanceAgent): Promise<PerCallResult> {
  let inBlocks = ZERO;
  let drained = ZERO;
  let before = counts(on);
  const verdictCase = (name: string, a: GovernanceAgent): CallCase => ({
    name,
    call: (i) => a.governance.verdict(caseAt(i).context),
    ok: (v: { result: string; cached: boolean }, i) => v.result === caseAt(i).expect && !v.cached,
  });
  const onCase: CallCase = {
    ...verdictCase('shadow on', on),
    after: async () => {
      const mid = counts(on);
      inBlocks = plus(inBlocks, minus(mid, before));
      await drain(on);
      before = counts(on);
      drained = plus(drained, minus(before, mid));
    },
  };
  const samples = await sampleCalls([verdictCase('shadow off', off), onCase], PER_CALL_PLAN);
  const o = samples.get('shadow on');
  const f = samples.get('shadow off');
  if (!o || !f) throw new Error('per-call cases did not run');
  const p = { off: callPercentiles(f.ns), on: callPercentiles(o.ns) };
  const roundP99 = (s: { ns: number[]; roundEnds: number[] }): number[] =>
    s.roundEnds.map((end, r) => callPercentiles(s.ns.slice(r === 0 ? 0 : s.roundEnds[r - 1], end)).p99);
  return {
    ...p,
    ratio: { p50: p.on.p50 / p.off.p50, p95: p.on.p95 / p.off.p95, p99: p.on.p99 / p.off.p99 },
    pairedP99: pairedRatio(roundP99(o), roundP99(f)),
    inBlocks,
    drained,
  };
}

// ---- part 2: arrivals at a fixed rate ----

/** One block: latencies (ns, due → answered) and how busy the thread was answering. */
interface Block {
  readonly ns: number[];
  /** Answering time / block time. */
  readonly busy: number;
  /** The latest a verdict was started after it was due, ns. */
  readonly maxStartDelay: number;
  /** Per verdict, the ns of its latency spent while a shadow batch ran (all 0 without a shadow). */
  readonly shadowNs: number[];
}

// Verdicts due every 1/rate s for BLOCK_MS; after each turn, every verdict due is answered.
async function openBlock(a: GovernanceAgent, rate: number, start: number): Promise<Block> {
  const n = Math.round((rate * BLOCK_MS) / 1000);
  const interval = 1e9 / rate;
  const ns: number[] = new Array<number>(n);
  let busy = 0;
  let maxStartDelay = 0;
  let wrong = 0;
  const t0 = now() + 1e5;
  let i = 0;
  while (i < n) {
    const polled = now();
    while (i < n && t0 + i * interval <= polled) {
      const due = t0 + i * interval;
      const c = caseAt(start + i);
      const s = now();
      const v = a.governance.verdict(c.context);
      const e = now();
      if (v.result !== c.expect || v.cached) wrong++;
      ns[i] = e - due;
      busy += e - s;
      if (s - due > maxStartDelay) maxStartDelay = s - due;
      i++;
    }
    await turn();
  }
  if (wrong > 0) throw new Error(`open loop: ${wrong} of ${n} verdicts answered wrong`);
  return { ns, busy: busy / (n * interval), maxStartDelay, shadowNs: overlaps(ns, t0, interval, clock.takeSpans()) };
}

/**
 * For each verdict (due at t0 + i·interval, answered ns[i] later), the time of its wait during
 * which the shadow evaluator's batches ran (spans: [start, end] pairs in order, not overlapping).
 */
function overlaps(ns: readonly number[], t0: number, interval: number, spans: readonly number[]): number[] {
  const out = new Array<number>(ns.length).fill(0);
  let j = 0;
  for (let i = 0; i < ns.length; i++) {
    const due = t0 + i * interval;
    const done = due + (ns[i] as number);
    while (j < spans.length && (spans[j + 1] as number) <= due) j += 2;
    for (let k = j; k < spans.length && (spans[k] as number) < done; k += 2)
      out[i] = (out[i] as number) + Math.min(done, spans[k + 1] as number) - Math.max(due, spans[k] as number);
  }
  return out;
}

interface OpenSide {
  readonly pooled: Summary;
  readonly roundP99: number[];
  readonly busy: number[];
  readonly maxStartDelayUs: number;
  /** The same verdicts' latency less the time they waited while a shadow batch ran. */
  readonly withoutShadow: Summary;
  readonly withoutShadowRoundP99: number[];
  /** Share of verdicts that waited while a shadow batch ran, and that wait (µs) among them. */
  readonly touched: number;
  readonly shadowWaitUs: Summary | undefined;
}

interface OpenResult {
  readonly rate: number;
  readonly rounds: number;
  readonly off: OpenSide;
  readonly on: OpenSide;
  readonly ratio: { p50: number; p90: number; p99: number };
  readonly pairedP99: number;
  /** "On" over the same verdicts less their wait behind shadow batches: the shadow's direct cost. */
  readonly direct: { p50: number; p90: number; p99: number; pairedP99: number };
  readonly inBlocks: Counts;
  readonly drained: Counts;
  /** The evaluator's batches inside the kept "on" blocks (none in the A/A). */
  readonly batches: BatchFigures | undefined;
  readonly load: number[];
}

/** The shadow evaluator's batches: how long the thread was away from the verdicts. */
interface BatchFigures {
  readonly count: number;
  readonly size: Summary;
  /** µs per batch. */
  readonly us: Summary;
  /** Batch time over the blocks' time. */
  readonly share: number;
}

function side(blocks: readonly Block[]): OpenSide {
  const all: number[] = [];
  const without: number[] = [];
  const waits: number[] = [];
  for (const b of blocks)
    b.ns.forEach((x, i) => {
      const w = b.shadowNs[i] ?? 0;
      all.push(x / NS_PER_US);
      without.push((x - w) / NS_PER_US);
      if (w > 0) waits.push(w / NS_PER_US);
    });
  return {
    pooled: summarize(all),
    roundP99: blocks.map((b) => summarize(b.ns).p99 / NS_PER_US),
    withoutShadow: summarize(without),
    withoutShadowRoundP99: blocks.map((b) => summarize(b.ns.map((x, i) => x - (b.shadowNs[i] ?? 0))).p99 / NS_PER_US),
    touched: waits.length / all.length,
    shadowWaitUs: waits.length > 0 ? summarize(waits) : undefined,
    busy: blocks.map((b) => b.busy),
    maxStartDelayUs: Math.max(...blocks.map((b) => b.maxStartDelay)) / NS_PER_US,
  };
}

// Part 2 (and the A/A of part 0, where "on" has no shadow yet).
async function openLoop(on: GovernanceAgent, off: GovernanceAgent, rate: number, rounds: number): Promise<OpenResult> {
  const blocks = { on: [] as Block[], off: [] as Block[] };
  let inBlocks = ZERO;
  let drained = ZERO;
  const load: number[] = [];
  let calls = 0;
  for (let r = 0; r < OPEN_PLAN.warmupRounds + rounds; r++) {
    const keep = r >= OPEN_PLAN.warmupRounds;
    for (const which of r % 2 === 0 ? (['off', 'on'] as const) : (['on', 'off'] as const)) {
      const a = which === 'on' ? on : off;
      const before = counts(a);
      clock.on = keep && which === 'on';
      const b = await openBlock(a, rate, calls);
      clock.on = false;
      calls += b.ns.length;
      const mid = counts(a);
      await drain(a);
      if (keep) {
        blocks[which].push(b);
        if (which === 'on') {
          inBlocks = plus(inBlocks, minus(mid, before));
          drained = plus(drained, minus(counts(a), mid));
        }
      }
    }
    if (keep) load.push(loadavg()[0] ?? NaN);
  }
  const o = side(blocks.on);
  const f = side(blocks.off);
  const recorded = clock.collect();
  const batches =
    recorded.ns.length === 0
      ? undefined
      : {
          count: recorded.ns.length,
          size: summarize(recorded.sizes),
          us: summarize(recorded.ns.map((x) => x / NS_PER_US)),
          share: recorded.ns.reduce((x, y) => x + y, 0) / (rounds * BLOCK_MS * 1e6),
        };
  return {
    batches,
    rate,
    rounds,
    off: f,
    on: o,
    ratio: { p50: o.pooled.p50 / f.pooled.p50, p90: o.pooled.p90 / f.pooled.p90, p99: o.pooled.p99 / f.pooled.p99 },
    pairedP99: pairedRatio(o.roundP99, f.roundP99),
    direct: {
      p50: o.pooled.p50 / o.withoutShadow.p50,
      p90: o.pooled.p90 / o.withoutShadow.p90,
      p99: o.pooled.p99 / o.withoutShadow.p99,
      pairedP99: pairedRatio(o.roundP99, o.withoutShadowRoundP99),
    },
    inBlocks,
    drained,
    load,
  };
}

// ---- part 3: CPU ----

interface CpuResult {
  /** Main-thread CPU µs per verdict, per round. */
  readonly off: number[];
  readonly on: number[];
  readonly pairedRatio: number;
}

async function cpuPhase(a: GovernanceAgent, withDrain: boolean): Promise<number> {
  const t0 = mainThreadCpuNs();
  for (let i = 0; i < CPU_PLAN.verdicts; i++) {
    const c = caseAt(i);
    if (a.governance.verdict(c.context).result !== c.expect) throw new Error('cpu phase: a wrong verdict');
    await turn();
  }
  if (withDrain) await drain(a);
  return (mainThreadCpuNs() - t0) / NS_PER_US / CPU_PLAN.verdicts;
}

async function cpu(on: GovernanceAgent, off: GovernanceAgent): Promise<CpuResult> {
  const res = { on: [] as number[], off: [] as number[] };
  for (let r = 0; r < CPU_PLAN.rounds; r++)
    for (const which of r % 2 === 0 ? (['off', 'on'] as const) : (['on', 'off'] as const))
      res[which].push(await cpuPhase(which === 'on' ? on : off, which === 'on'));
  return { ...res, pairedRatio: pairedRatio(res.on, res.off) };
}

// ---- report ----

const us = (ns: number): string => (ns / NS_PER_US).toFixed(1);
const f1 = (x: number): string => x.toFixed(1);

function countsText(c: Counts): string {
  return `${c.sampled} sampled, ${c.evaluated} evaluated, ${c.dropped} dropped`;
}

function renderOpen(title: string, r: OpenResult): string {
  const row = (name: string, s: OpenSide): string[] => [
    name,
    String(s.pooled.n),
    f1(s.pooled.p50),
    f1(s.pooled.p90),
    f1(s.pooled.p99),
    f1(s.pooled.max),
    `${(100 * (s.busy.reduce((x, y) => x + y, 0) / s.busy.length)).toFixed(1)} %`,
  ];
  return [
    `## ${title}`,
    '',
    table(
      ['agent', 'n', 'p50 µs', 'p90 µs', 'p99 µs', 'max µs', 'busy answering'],
      [
        row('shadow off', r.off),
        row('shadow on', r.on),
        ...(r.batches
          ? [
              [
                'shadow on, less the waits behind its batches',
                '',
                f1(r.on.withoutShadow.p50),
                f1(r.on.withoutShadow.p90),
                f1(r.on.withoutShadow.p99),
                f1(r.on.withoutShadow.max),
                '',
              ],
              [
                'on / on less the waits',
                '',
                ratio(r.direct.p50),
                ratio(r.direct.p90),
                ratio(r.direct.p99),
                '',
                `paired p99 ${ratio(r.direct.pairedP99)}`,
              ],
            ]
          : []),
        [
          'on / off',
          '',
          ratio(r.ratio.p50),
          ratio(r.ratio.p90),
          ratio(r.ratio.p99),
          '',
          `paired p99 ${ratio(r.pairedP99)}`,
        ],
      ],
    ),
    '',
    `per-round p99 on / off: ${r.on.roundP99.map((x, i) => (x / (r.off.roundP99[i] ?? NaN)).toFixed(2)).join(' ')}`,
    `shadow inside the "on" blocks: ${countsText(r.inBlocks)}; evaluated in the untimed drains after them: ${r.drained.evaluated}`,
    r.batches
      ? `evaluator batches inside the "on" blocks: ${r.batches.count}, ${r.batches.size.p50} decisions (max ${r.batches.size.max}), ${f1(r.batches.us.p50)} µs p50 / ${f1(r.batches.us.p99)} µs p99 / ${f1(r.batches.us.max)} µs max; ${(100 * r.batches.share).toFixed(2)} % of the blocks' time`
      : 'no evaluator batches',
    r.on.shadowWaitUs
      ? `verdicts that waited while a batch ran: ${(100 * r.on.touched).toFixed(2)} %, waiting ${f1(r.on.shadowWaitUs.p50)} µs p50 / ${f1(r.on.shadowWaitUs.p99)} µs p99 / ${f1(r.on.shadowWaitUs.max)} µs max of it`
      : 'no verdict waited behind a batch',
    `load average (1 min) per round: ${r.load.map((x) => x.toFixed(1)).join(' ')}`,
  ].join('\n');
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'warden-bench-shadow-'));
  const started: GovernanceAgent[] = [];
  const log = (m: string): void => void process.stderr.write(`${m}\n`);
  try {
    const onDir = join(dir, 'governance-on');
    await cp(GOVERNANCE_DIR, onDir, { recursive: true });
    const shape = { cache: false, decisionLog: false, rollout: ROLLOUT };
    const off = await startGovernanceAgent({ ...shape, dir: join(dir, 'off') });
    started.push(off);
    const on = await startGovernanceAgent({ ...shape, dir: join(dir, 'on'), governanceDir: onDir });
    started.push(on);
    for (const a of [off, on]) checkVerdicts(a.governance, MIX, 'agent');
    const engineKind = on.agent.packs.find((p) => p.config.name === 'governance')?.activator.current?.engine.kind;
    log(`A/A: both agents without a shadow, ${AA_ROUNDS} rounds at ${RATES[0]}/s…`);
    const aa = await openLoop(on, off, RATES[0], AA_ROUNDS);
    await publishCandidate(onDir);
    const gov = on.agent.packs.find((p) => p.config.name === 'governance')?.activator;
    await eventually(() => shadowOf(on) !== undefined, {
      timeoutMs: 60_000,
      what: () => `the candidate as the shadow (last reload: ${JSON.stringify(gov?.status().last_reload)})`,
    });
    if (shadowOf(off) !== undefined) throw new Error('the "off" agent has a shadow');
    clock.attach(shadowOf(on) as LiveShadow);
    log('shadow running on the "on" agent');
    log(`per call: ${PER_CALL_PLAN.warmupRounds} + ${PER_CALL_PLAN.rounds} rounds of ${PER_CALL_PLAN.callsPerRound}…`);
    const pc = await perCall(on, off);
    const open: OpenResult[] = [];
    for (const rate of RATES) {
      log(`arrivals at ${rate}/s: ${OPEN_PLAN.warmupRounds} + ${OPEN_PLAN.rounds} rounds of ${BLOCK_MS} ms per agent…`);
      open.push(await openLoop(on, off, rate, OPEN_PLAN.rounds));
    }
    log(`CPU: ${CPU_PLAN.rounds} rounds of ${CPU_PLAN.verdicts} verdicts…`);
    const c = await cpu(on, off);
    const final = shadowOf(on)?.progress();
    const machine = machineInfo();
    const report = [
      `# Shadow evaluation cost (sample ${SAMPLE}, goal p99 on / off ≤ ${GOAL}×)`,
      '',
      `${machine.cores} cores, ${machine.cpuModel}, Node ${machine.node}; governance engine ${engineKind}; load average ${loadavg()
        .map((x) => x.toFixed(1))
        .join(' ')}`,
      '',
      '## 1. Per call (a turn after each verdict; the evaluation runs between calls)',
      '',
      table(
        ['agent', 'n', 'p50 µs', 'p95 µs', 'p99 µs'],
        [
          ['shadow off', String(pc.off.n), us(pc.off.p50), us(pc.off.p95), us(pc.off.p99)],
          ['shadow on', String(pc.on.n), us(pc.on.p50), us(pc.on.p95), us(pc.on.p99)],
          ['on / off', '', ratio(pc.ratio.p50), ratio(pc.ratio.p95), ratio(pc.ratio.p99)],
        ],
      ),
      '',
      `paired p99 (median of per-round ratios) ${ratio(pc.pairedP99)}; shadow inside the "on" blocks: ${countsText(pc.inBlocks)}; in the untimed drains: ${pc.drained.evaluated}`,
      '',
      renderOpen(`0. A/A: arrivals at ${aa.rate}/s, neither agent has a shadow`, aa),
      '',
      ...open.map((r) => renderOpen(`2. Arrivals at ${r.rate}/s (latency from due to answered)`, r)),
      '',
      '## 3. Main-thread CPU per verdict (µs), the shadow evaluation included',
      '',
      `off ${c.off.map(f1).join(' ')}; on ${c.on.map(f1).join(' ')}; paired on / off ${ratio(c.pairedRatio)}`,
      '',
      `shadow at the end: ${JSON.stringify(final)}`,
    ].join('\n');
    process.stdout.write(`${report}\n`);
    const path = await writeResults('shadow', {
      benchmark: 'shadow',
      date: new Date().toISOString(),
      machine,
      engine: engineKind,
      sample: SAMPLE,
      goal: GOAL,
      plans: {
        perCall: PER_CALL_PLAN,
        rates: RATES,
        blockMs: BLOCK_MS,
        open: OPEN_PLAN,
        aaRounds: AA_ROUNDS,
        cpu: CPU_PLAN,
      },
      unit: { perCall: 'ns per call', open: 'µs from due to answered', cpu: 'main-thread µs per verdict' },
      perCall: pc,
      aa,
      open,
      cpu: c,
      shadow: final,
    });
    process.stdout.write(`\nraw figures: ${path}\n`);
  } finally {
    await Promise.all(started.map((a) => a.agent.close()));
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
