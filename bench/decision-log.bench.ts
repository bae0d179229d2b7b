/**
 * The decision log's request-path cost: DecisionLog.enqueue per call against a
 * no-op call of the same shape in the same run (docs/design.md#targets: artifact
 * writing costs the request path nothing but the enqueue). Cases:
 * - no-op: a method that stores its argument (the loop and call alone);
 * - enqueue: room in the queue (the writer drains it, untimed, between batches);
 * - enqueue, full queue: every call drops the oldest event;
 * - decisionEvent + enqueue: building the OPA-shaped event from a Decision too.
 *
 * And the writer's cost on the thread that answers decisions, per event of a
 * batch of BATCH: handing the batch to the writer thread (postMessage, a
 * structured clone; what the thread does now), against making its lines here
 * (lineFormatter; what it did before the writer thread), for an event with a
 * JS input and result (a verdict) and one with JSON text (the data API).
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
import { Worker } from 'node:worker_threads';
import { machineInfo } from './lib/machine.js';
import { table, writeResults } from './lib/report.js';
import { summarize } from './lib/stats.js';
import { interleave, phase, type BenchCase, type Laps } from './lib/timing.js';
import type { Decision } from '../src/decide/decider.js';
import { lineFormatter } from '../src/decision-log/decision-log-event.js';
import {
  DecisionLog,
  decisionEvent,
  jsonDecisionEvent,
  type DecisionLogEvent,
} from '../src/decision-log/decision-log.js';
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
const INPUT_JSON = JSON.stringify(INPUT);
const jsonEvents: DecisionLogEvent[] = decisions.map((d) =>
  jsonDecisionEvent(
    'authz/allow',
    INPUT_JSON,
    { ...d, resultJson: String(d.result) },
    {
      requested_by: '127.0.0.1',
    },
  ),
);
const times = events.map(() => Date.now());

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

// A thread that takes batches and drops them, as the writer thread receives them (the clone is made on this side).
const thread = new Worker(`require('node:worker_threads').parentPort.on('message', () => {});`, { eval: true });
const format = lineFormatter({ id: '00000000-0000-0000-0000-000000000000', version: '0.0.0' });
let formatted = 0;
// A case timing one batch of BATCH events through `body`. Laps are nanoseconds per event.
function perEvent(name: string, batch: readonly DecisionLogEvent[], body: (b: readonly DecisionLogEvent[]) => void) {
  return batchCase(name, (i) => {
    if (i === 0) body(batch);
  });
}

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
  perEvent('hand-over: postMessage of a batch, JS input (per event)', events, (b) =>
    thread.postMessage({ type: 'write', id: 0, events: b, times }),
  ),
  perEvent('hand-over: postMessage of a batch, JSON text input (per event)', jsonEvents, (b) =>
    thread.postMessage({ type: 'write', id: 0, events: b, times }),
  ),
  perEvent('lines made here: lineFormatter, JS input (per event)', events, (b) => {
    let text = '';
    for (let i = 0; i < b.length; i++) text += format(b[i] as DecisionLogEvent, times[i] ?? 0);
    formatted += text.length;
  }),
  perEvent('lines made here: lineFormatter, JSON text input (per event)', jsonEvents, (b) => {
    let text = '';
    for (let i = 0; i < b.length; i++) text += format(b[i] as DecisionLogEvent, times[i] ?? 0);
    formatted += text.length;
  }),
];

try {
  const results = await interleave(cases, PLAN);
  const summaries = new Map(cases.map((c) => [c.name, summarize(phase(results.get(c.name) ?? [], 'total'))]));
  const base = summaries.get('no-op (baseline)');
  if (base === undefined || sink.last === undefined || roomy.queued > BATCH || full.queued !== BATCH || formatted === 0)
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
  await thread.terminate();
  await rm(dir, { recursive: true, force: true });
}
