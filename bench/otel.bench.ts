/**
 * The cost of OpenTelemetry on the verdict path with the API and no SDK: what
 * a service that does not register an SDK pays. Three Governance objects over
 * one agent's decider, router and kill switches (cache off, so every verdict
 * evaluates), differing only in tracing:
 *   - `tracing off`: no DecisionTracing at all (the code path before tracing);
 *   - `API, no SDK, sample 0.01`: the agent's default (`tracing.decisions.sample: 0.01`);
 *   - `API, no SDK, sample 1`: every verdict starts and ends a (no-op) span.
 * Per-call latency, cases interleaved in rounds that rotate their order
 * (bench/lib/latency.ts), in one run; the p50 ratio to `tracing off` overall
 * and per block of rounds (its spread). Goal: ≤ 1.05× at the default sample.
 *
 * Run: `node --import tsx bench/otel.bench.ts`. Prints a table; figures go to bench/results/.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { trace } from '@opentelemetry/api';
import { DecisionRouter } from '../src/decide/router.js';
import { Governance, type Verdict } from '../src/govern/verdict/governance.js';
import { DecisionTracing } from '../src/observe/decision-tracing.js';
import { createLogger } from '../src/observe/logger.js';
import { MIX, startGovernanceAgent, VERDICT_ENTRYPOINT, type VerdictCase } from './lib/governance-agent.js';
import { blocksOf, callPercentiles, sampleCalls, type CallCase } from './lib/latency.js';
import { machineInfo } from './lib/machine.js';
import { ratio, table, writeResults } from './lib/report.js';

const PLAN = { warmupRounds: 10, rounds: 100, callsPerRound: 500 };
const BLOCKS = 5;
const GOAL = 1.05;
const silentLog = createLogger('silent');

async function main(): Promise<void> {
  // No SDK: the global tracer provider is the API's no-op one.
  if (trace.getTracerProvider().getTracer('probe').startSpan('probe').isRecording())
    throw new Error('an OpenTelemetry SDK is registered: this bench measures the API without one');
  const dir = await mkdtemp(join(tmpdir(), 'warden-otel-bench-'));
  const g = await startGovernanceAgent({ dir, cache: false, decisionLog: false });
  try {
    const router = new DecisionRouter(g.agent.packs.map((p) => p.activator));
    router.rebuild();
    const governance = (tracing: DecisionTracing | undefined): Governance =>
      new Governance({
        decider: g.agent.decider,
        router,
        entrypoint: VERDICT_ENTRYPOINT,
        killSwitches: g.killSwitches,
        log: silentLog,
        tracing,
      });
    const cases: Array<CallCase<Verdict>> = [
      verdictCase('tracing off', governance(undefined)),
      verdictCase('API, no SDK, sample 0.01', governance(new DecisionTracing({ sample: 0.01, includeInput: false }))),
      verdictCase('API, no SDK, sample 1', governance(new DecisionTracing({ sample: 1, includeInput: false }))),
    ];
    const samples = await sampleCalls(cases, PLAN);
    const off = samples.get('tracing off');
    if (!off) throw new Error('no baseline samples');
    const offBlocks = blocksOf(off, BLOCKS).map((b) => callPercentiles(b).p50);
    const rows = [...samples].map(([name, s]) => {
      const p = callPercentiles(s.ns);
      const byBlock = blocksOf(s, BLOCKS).map((b, i) => callPercentiles(b).p50 / (offBlocks[i] ?? NaN));
      return {
        name,
        p50Us: p.p50 / 1000,
        p99Us: p.p99 / 1000,
        p50Ratio: p.p50 / callPercentiles(off.ns).p50,
        p50RatioByBlock: byBlock,
      };
    });
    console.log(
      table(
        ['case', 'p50 µs', 'p99 µs', 'p50 ratio', 'p50 ratio by block'],
        rows.map((r) => [
          r.name,
          r.p50Us.toFixed(2),
          r.p99Us.toFixed(2),
          ratio(r.p50Ratio),
          r.p50RatioByBlock.map((x) => x.toFixed(3)).join(' '),
        ]),
      ),
    );
    const defaultRow = rows.find((r) => r.name === 'API, no SDK, sample 0.01');
    const met = defaultRow !== undefined && defaultRow.p50Ratio <= GOAL;
    console.log(`goal p50 ≤ ${GOAL}× at the default sample: ${met ? 'met' : 'NOT met'}`);
    const path = await writeResults('otel', { machine: machineInfo(), plan: PLAN, goal: GOAL, rows, met });
    console.log(`figures: ${path}`);
  } finally {
    await g.agent.close();
    await rm(dir, { recursive: true, force: true });
  }
}

function verdictCase(name: string, governance: Governance): CallCase<Verdict> {
  return {
    name,
    call: (i) => governance.verdict((MIX[i % MIX.length] as VerdictCase).context),
    ok: (v, i) => v.result === (MIX[i % MIX.length] as VerdictCase).expect,
  };
}

await main();
