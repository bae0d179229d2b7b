/**
 * The decision log's request-path cost: DecisionLog.enqueue per call against a
 * no-op call of the same shape in the same run (docs/design.md#targets: artifact
 * writing costs the request path nothing but the enqueue). Cases:
 * - no-op: a method that stores its argument (the loop and call alone);
 * - enqueue: room in the queue (the writer drains it, untimed, between batches);
 * - enqueue, full queue: every call drops the oldest event;
 * - decisionEvent + enqueue: building the OPA-shaped event from a Decision too.
 *
 * Per-call times come from batches (BATCH calls timed together, divided), the
 * cases' batches interleaved; p50/p99 are over batches.
 *
 * Run: `node --import tsx bench/decision-log.bench.ts`. Prints a table; raw figures go to bench/results/.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { machineInfo } from './lib/machine.js';
import { table, writeResults } from './lib/report.js';
import { summarize } from './lib/stats.js';
import { interleave, phase, type BenchCase, type Laps } from './lib/timing.js';
import type { Decision } from '../src/decide/decider.js';
import { DecisionLog, decisionEvent, type DecisionLogEvent } from '../src/decision-log/decision-log.js';
import { createLogger } from '../src/observe/logger.js';

/** Calls per timed batch. */
const BATCH = 1000;
const PLAN = { warmup: 50, iterations: 500 };
const INPUT = {
  user: { name: 'ada', roles: ['admin'], tenant: 'acme' },
  action: 'delete',
  resource: { tenant: 'globex' },
};
const decisions: Decision[] = Array.from({ length: BATCH }, (_, i) => ({
  defined: true,
  result: i % 2 === 0,
  decisionId: String(i),
  pack: 'authz',
  revision: '7',
  digest: 'sha256:00',
}));
const events: DecisionLogEvent[] = decisions.map((d) => decisionEvent('authz/allow', INPUT, d));

// A case timing BATCH calls of body; `before` runs untimed first. Laps are nanoseconds per call.
function batchCase(name: string, body: (i: number) => void, before?: () => Promise<void>): BenchCase {
  return {
    name,
    async run(): Promise<Laps> {
      await before?.();
      const start = performance.now();
      for (let i = 0; i < BATCH; i++) body(i);
      return { total: ((performance.now() - start) * 1e6) / BATCH };
    },
  };
}

const dir = await mkdtemp(join(tmpdir(), 'warden-bench-dlog-'));
const log = createLogger('silent');
// A bounded disk footprint: the writer rotates at 8 MiB and keeps two files.
const roomy = new DecisionLog({
  dir: join(dir, 'roomy'),
  queueLimit: 10_000,
  maxFileBytes: 8 * 2 ** 20,
  maxFiles: 2,
  log,
});
const full = new DecisionLog({ dir: join(dir, 'full'), queueLimit: BATCH, log });
for (const e of events) full.enqueue(e);
const sink = {
  last: undefined as DecisionLogEvent | undefined,
  take(e: DecisionLogEvent): void {
    this.last = e;
  },
};

const cases: BenchCase[] = [
  batchCase('no-op (baseline)', (i) => sink.take(events[i] as DecisionLogEvent)),
  batchCase(
    'enqueue',
    (i) => roomy.enqueue(events[i] as DecisionLogEvent),
    () => roomy.drain(10_000),
  ),
  batchCase('enqueue, full queue (drop oldest)', (i) => full.enqueue(events[i] as DecisionLogEvent)),
  batchCase(
    'decisionEvent + enqueue',
    (i) => roomy.enqueue(decisionEvent('authz/allow', INPUT, decisions[i] as Decision)),
    () => roomy.drain(10_000),
  ),
];

try {
  const results = await interleave(cases, PLAN);
  const summaries = new Map(cases.map((c) => [c.name, summarize(phase(results.get(c.name) ?? [], 'total'))]));
  const base = summaries.get('no-op (baseline)');
  if (base === undefined || sink.last === undefined || roomy.queued > BATCH || full.queued !== BATCH)
    throw new Error('bench cases did not run as planned');
  const ns = (v: number): string => v.toFixed(1);
  const rows = [...summaries].map(([name, s]) => [name, ns(s.p50), ns(s.p99), ns(s.p50 - base.p50)]);
  process.stdout.write(
    `\nDecision log, request-path cost per call (${PLAN.iterations} batches of ${BATCH}; Node ${process.version})\n\n`,
  );
  process.stdout.write(`${table(['case', 'p50 ns/call', 'p99 ns/call', 'p50 over no-op'], rows)}\n`);
  const path = await writeResults('decision-log', {
    machine: machineInfo(),
    plan: PLAN,
    batch: BATCH,
    unit: 'ns/call',
    summaries: Object.fromEntries(summaries),
  });
  process.stdout.write(`\nraw figures: ${path}\n`);
} finally {
  await roomy.close();
  await full.close(100);
  await rm(dir, { recursive: true, force: true });
}
