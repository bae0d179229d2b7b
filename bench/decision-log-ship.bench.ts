/**
 * Decision-log shipping (`decision_log.service`) against the local writer, in
 * one run, with a real collector in its own process
 * (bench/lib/ship-collector-child.ts: OPA's protocol, gzipped JSON arrays,
 * every body gunzipped and parsed, answered 204).
 *
 * 1. Throughput, in-process DecisionLog, a producer enqueueing as fast as the
 *    queue takes (never past half of it, so nothing is dropped), rounds
 *    alternating the cases:
 *    - local writer: events/s persisted (enqueue of the first → drain done);
 *      with every case, this process's CPU per event (all threads: the
 *      producer, the writer thread, the shipper's reads and gzip);
 *    - shipping on, batches of 32 KiB gzipped (the default, OPA's), and of
 *      1 MiB: events/s acknowledged by the collector (first enqueue → the
 *      collector's answer to the batch holding the last), and the time from
 *      each event's enqueue to its acknowledgement (a saturated backlog).
 * 2. Enqueue → acknowledgement at a steady 2,000 events/s for 8 s, with the
 *    default flush interval (1 s) and an upload interval of 1–2 s: the delay a
 *    collector sees in normal running.
 * 3. The request path with shipping on vs off: two `warden agent` processes on
 *    the example governance pack, both with the decision log on, one also
 *    shipping it (looking every 0.1–0.2 s, so it ships throughout), loaded in
 *    turn with `POST /v1/verdict` (bench/lib/verdict-storm.ts); p50/p99 latency,
 *    requests/s and the agent's CPU per request, ratio on/off paired per round;
 *    and the collector process's CPU per request (it shares the machine).
 *
 * Run: `node --import tsx bench/decision-log-ship.bench.ts` after
 * `npx tsc -p tsconfig.build.json` (part 3 runs bin/warden.js, i.e. dist/).
 * Prints tables, the load average around each part; figures go to bench/results/.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setImmediate as turn, setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Registry } from 'prom-client';
import { cpuMs } from './lib/cpu.js';
import { MIX } from './lib/governance-agent.js';
import { loadAverage, machineInfo } from './lib/machine.js';
import { stopAll } from './lib/procs.js';
import { ms, ratio, table, writeResults } from './lib/report.js';
import { summarize, type Summary } from './lib/stats.js';
import { startVerdictServer, storm, type VerdictServer } from './lib/verdict-storm.js';
import type { Decision } from '../src/decide/decider.js';
import { DecisionLog, decisionEvent } from '../src/decision-log/decision-log.js';
import type { ShipperSettings } from '../src/decision-log/shipper.js';
import { createLogger } from '../src/observe/logger.js';

const COLLECTOR_CHILD = fileURLToPath(new URL('./lib/ship-collector-child.ts', import.meta.url));
const THROUGHPUT = { events: 200_000, rounds: 3, queueLimit: 20_000, chunk: 1_000 };
const BATCHES = [
  { name: '32 KiB', bytes: 32 * 1024 },
  { name: '1 MiB', bytes: 1024 * 1024 },
] as const;
const STEADY = { perSecond: 2_000, seconds: 8, tickMs: 10, minDelayMs: 1_000, maxDelayMs: 2_000 };
const HTTP = { connections: 8, seconds: 5, warmupSeconds: 2, rounds: 5 };
const MiB = 2 ** 20;

const now = (): number => performance.timeOrigin + performance.now();
const DECISION: Decision = {
  defined: true,
  result: true,
  decisionId: '',
  pack: 'authz',
  revision: '7',
  digest: 'sha256:00',
};
const USER = { name: 'ada', roles: ['admin'], tenant: 'acme' };

// One event as a decision would log it; `input.t` is its enqueue time (wall clock, ms) for the collector.
function event(i: number): ReturnType<typeof decisionEvent> {
  return decisionEvent(
    'authz/allow',
    { user: USER, action: 'delete', resource: { tenant: 'globex', id: i }, t: now() },
    { ...DECISION, decisionId: String(i), result: i % 2 === 0 },
  );
}

/** The collector process and its progress. */
class Collector {
  #total = 0;
  #waiters: Array<{ target: number; resolve: () => void }> = [];
  #report: ((r: CollectorReport) => void) | undefined;

  private constructor(
    readonly child: ChildProcess,
    readonly url: string,
  ) {
    child.on('message', (m: { type: string; total?: number } & Partial<CollectorReport>) => {
      if (m.type === 'acked') {
        this.#total = m.total ?? 0;
        const done = this.#waiters.filter((w) => this.#total >= w.target);
        this.#waiters = this.#waiters.filter((w) => this.#total < w.target);
        for (const w of done) w.resolve();
      } else if (m.type === 'report') {
        // The child's tally restarts with this answer: later `acked` totals count from 0.
        this.#total = 0;
        this.#report?.(m as CollectorReport);
      }
    });
  }

  static async start(): Promise<Collector> {
    const child = fork(COLLECTOR_CHILD, [], {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const url = await new Promise<string>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('the collector did not start within 30 s')), 30_000);
      child.once('message', (m: { url: string }) => {
        clearTimeout(t);
        resolve(m.url);
      });
      child.once('exit', (code) => reject(new Error(`the collector exited (${code})`)));
    });
    return new Collector(child, url);
  }

  /** Resolves once `target` events were acknowledged since the last report (rejects after timeoutMs). */
  acked(target: number, timeoutMs: number): Promise<void> {
    if (this.#total >= target) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const t = setTimeout(
        () => reject(new Error(`the collector acknowledged ${this.#total} of ${target} in ${timeoutMs} ms`)),
        timeoutMs,
      );
      this.#waiters.push({
        target,
        resolve: () => {
          clearTimeout(t);
          resolve();
        },
      });
    });
  }

  /** The tally since the last report; starts a new one. */
  report(): Promise<CollectorReport> {
    return new Promise((resolve) => {
      this.#report = resolve;
      this.child.send({ type: 'report' });
    });
  }

  stop(): void {
    this.child.disconnect();
  }
}

interface CollectorReport {
  readonly total: number;
  readonly uploads: number;
  readonly bad: number;
  readonly latenciesMs: number[];
}

// A decision log in a fresh folder: files large and many enough that retention never drops an unshipped one.
async function openLog(
  service: ShipperSettings | undefined,
): Promise<{ log: DecisionLog; registry: Registry; dir: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'warden-bench-ship-'));
  const registry = new Registry();
  const log = new DecisionLog({
    dir,
    queueLimit: THROUGHPUT.queueLimit,
    maxFileBytes: 32 * MiB,
    maxFiles: 10,
    log: createLogger('silent'),
    registry,
    ...(service === undefined ? {} : { service }),
  });
  log.start();
  return { log, registry, dir };
}

async function counterValue(registry: Registry, name: string): Promise<number> {
  const m = await registry.getSingleMetric(name)?.get();
  return (m?.values ?? []).reduce((a, v) => a + v.value, 0);
}

// Enqueues n events as fast as the queue takes them: never past half of it (nothing dropped), a turn between chunks.
async function produce(log: DecisionLog, n: number): Promise<void> {
  for (let i = 0; i < n;) {
    if (log.queued < THROUGHPUT.queueLimit / 2) {
      const end = Math.min(n, i + THROUGHPUT.chunk);
      for (; i < end; i++) log.enqueue(event(i));
    }
    await turn();
  }
}

interface ThroughputRun {
  readonly eventsPerSecond: number;
  readonly seconds: number;
  /** CPU of this process (all its threads: the writer thread, gzip on the thread pool) per event, µs. */
  readonly cpuUsPerEvent: number;
  readonly uploads?: number;
  readonly latencyMs?: Summary;
}

// The local writer alone: events/s from the first enqueue to the drain.
async function localRun(n: number): Promise<ThroughputRun> {
  const { log, registry, dir } = await openLog(undefined);
  try {
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    await produce(log, n);
    await log.drain(120_000);
    const seconds = (performance.now() - t0) / 1000;
    const cpuUsPerEvent = cpuUs(process.cpuUsage(cpu0)) / n;
    const written = await counterValue(registry, 'warden_decision_log_written_total');
    const dropped = await counterValue(registry, 'warden_decision_log_dropped_total');
    if (written !== n || dropped !== 0) throw new Error(`local writer: ${written} written, ${dropped} dropped of ${n}`);
    return { eventsPerSecond: n / seconds, seconds, cpuUsPerEvent };
  } finally {
    await log.close();
    await rm(dir, { recursive: true, force: true });
  }
}

// Shipping on: events/s from the first enqueue to the collector's answer to the last batch, and enqueue → ack.
async function shipRun(collector: Collector, n: number, batchMaxBytes: number): Promise<ThroughputRun> {
  await collector.report();
  const { log, registry, dir } = await openLog({
    url: collector.url,
    batchMaxBytes,
    minDelayMs: 50,
    maxDelayMs: 100,
  });
  try {
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    await produce(log, n);
    await collector.acked(n, 300_000);
    const seconds = (performance.now() - t0) / 1000;
    const cpuUsPerEvent = cpuUs(process.cpuUsage(cpu0)) / n;
    const r = await collector.report();
    const dropped = await counterValue(registry, 'warden_decision_log_dropped_total');
    const shipDropped = await counterValue(registry, 'warden_decision_log_ship_dropped_bytes_total');
    if (r.total !== n || r.bad !== 0 || dropped !== 0 || shipDropped !== 0)
      throw new Error(
        `shipping: ${r.total} of ${n} acknowledged, ${r.bad} bad, ${dropped} dropped, ${shipDropped} B given up`,
      );
    return {
      eventsPerSecond: n / seconds,
      seconds,
      cpuUsPerEvent,
      uploads: r.uploads,
      latencyMs: summarize(r.latenciesMs),
    };
  } finally {
    await log.close();
    await rm(dir, { recursive: true, force: true });
  }
}

// A steady rate for a while; enqueue → ack of every event.
async function steadyRun(collector: Collector): Promise<{ latencyMs: Summary; uploads: number; events: number }> {
  await collector.report();
  const { log, dir } = await openLog({
    url: collector.url,
    minDelayMs: STEADY.minDelayMs,
    maxDelayMs: STEADY.maxDelayMs,
  });
  try {
    const total = STEADY.perSecond * STEADY.seconds;
    const t0 = performance.now();
    let sent = 0;
    while (sent < total) {
      // Catch up to the schedule (a late tick sends more), then wait for the next tick.
      const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * STEADY.perSecond));
      for (; sent < due; sent++) log.enqueue(event(sent));
      await sleep(STEADY.tickMs);
    }
    await collector.acked(total, 60_000);
    const r = await collector.report();
    if (r.total !== total) throw new Error(`steady: ${r.total} of ${total} acknowledged`);
    return { latencyMs: summarize(r.latenciesMs), uploads: r.uploads, events: total };
  } finally {
    await log.close();
    await rm(dir, { recursive: true, force: true });
  }
}

const median = (xs: readonly number[]): number => summarize(xs).p50;

const collector = await Collector.start();
const workDir = await mkdtemp(join(tmpdir(), 'warden-bench-ship-agents-'));
const servers: VerdictServer[] = [];
const load: Record<string, { before: number; after: number }> = {};
try {
  // Part 1.
  load.throughput = { before: loadAverage(), after: NaN };
  await localRun(20_000); // warm-up
  await shipRun(collector, 20_000, 32 * 1024);
  const runs: Record<string, ThroughputRun[]> = { local: [] };
  for (const b of BATCHES) runs[`ship ${b.name}`] = [];
  for (let round = 0; round < THROUGHPUT.rounds; round++) {
    runs.local?.push(await localRun(THROUGHPUT.events));
    for (const b of BATCHES) runs[`ship ${b.name}`]?.push(await shipRun(collector, THROUGHPUT.events, b.bytes));
  }
  load.throughput.after = loadAverage();
  const localRate = median((runs.local ?? []).map((r) => r.eventsPerSecond));
  const throughputRows = Object.entries(runs).map(([name, rs]) => {
    const rate = median(rs.map((r) => r.eventsPerSecond));
    const lat = rs.map((r) => r.latencyMs).filter((l): l is Summary => l !== undefined);
    return [
      name === 'local' ? 'local writer (persisted)' : `shipping, batches ≤ ${name.slice(5)} (acknowledged)`,
      rates(rs.map((r) => r.eventsPerSecond)),
      ratio(rate / localRate),
      median(rs.map((r) => r.cpuUsPerEvent)).toFixed(1),
      lat.length ? ms(median(lat.map((l) => l.p50))) : '—',
      lat.length ? ms(median(lat.map((l) => l.p99))) : '—',
      lat.length ? ms(Math.max(...lat.map((l) => l.max))) : '—',
      rs[0]?.uploads !== undefined ? String(Math.round(median(rs.map((r) => r.uploads ?? 0)))) : '—',
    ];
  });

  // Part 2.
  load.steady = { before: loadAverage(), after: NaN };
  const steady = await steadyRun(collector);
  load.steady.after = loadAverage();

  // Part 3.
  load.requestPath = { before: loadAverage(), after: NaN };
  const off = await startVerdictServer(join(workDir, 'off'), MIX, true);
  servers.push(off);
  const on = await startVerdictServer(join(workDir, 'on'), MIX, true, collector.url);
  servers.push(on);
  await storm(off, MIX, HTTP.connections, HTTP.warmupSeconds);
  await storm(on, MIX, HTTP.connections, HTTP.warmupSeconds);
  await collector.report();
  const http: Record<'off' | 'on', Array<{ p50: number; p99: number; rps: number; cpuUsPerRequest: number }>> = {
    off: [],
    on: [],
  };
  // The collector shares the machine's cores: its CPU per request of each storm.
  const collectorCpuUs: Record<'off' | 'on', number[]> = { off: [], on: [] };
  for (let round = 0; round < HTTP.rounds; round++) {
    const order = round % 2 === 0 ? (['off', 'on'] as const) : (['on', 'off'] as const);
    for (const which of order) {
      const collectorBefore = cpuMs(collector.child.pid ?? 0);
      const s = await storm(which === 'on' ? on : off, MIX, HTTP.connections, HTTP.seconds);
      collectorCpuUs[which].push(((cpuMs(collector.child.pid ?? 0) - collectorBefore) * 1000) / s.load.completed);
      http[which].push({
        p50: s.load.latencyMs.p50,
        p99: s.load.latencyMs.p99,
        rps: s.load.completed / s.load.durationSeconds,
        cpuUsPerRequest: (s.agentCpuMs * 1000) / s.load.completed,
      });
    }
  }
  const shippedDuringStorms = await collector.report();
  load.requestPath.after = loadAverage();
  if (shippedDuringStorms.total === 0) throw new Error('the shipping agent shipped nothing during its storms');
  const paired = (k: 'p50' | 'p99' | 'rps' | 'cpuUsPerRequest'): number =>
    median(http.on.map((r, i) => r[k] / (http.off[i]?.[k] ?? NaN)));
  const httpRows = (['p50', 'p99'] as const).map((k) => [
    `verdict latency ${k} (ms)`,
    ms(median(http.off.map((r) => r[k]))),
    ms(median(http.on.map((r) => r[k]))),
    ratio(paired(k)),
  ]);
  httpRows.push(
    [
      'requests/s',
      median(http.off.map((r) => r.rps)).toFixed(0),
      median(http.on.map((r) => r.rps)).toFixed(0),
      ratio(paired('rps')),
    ],
    [
      'agent CPU per request (µs)',
      median(http.off.map((r) => r.cpuUsPerRequest)).toFixed(0),
      median(http.on.map((r) => r.cpuUsPerRequest)).toFixed(0),
      ratio(paired('cpuUsPerRequest')),
    ],
    [
      'collector process CPU per request (µs)',
      median(collectorCpuUs.off).toFixed(0),
      median(collectorCpuUs.on).toFixed(0),
      '—',
    ],
  );

  const out = process.stdout;
  out.write(
    `\nDecision-log throughput, ${THROUGHPUT.events} events per run, median of ${THROUGHPUT.rounds} rounds (Node ${process.version}); load average ${load.throughput.before.toFixed(2)} → ${load.throughput.after.toFixed(2)}\n\n`,
  );
  out.write(
    `${table(['case', 'events/s (runs)', 'vs local', 'CPU µs/event', 'enqueue→ack p50 ms', 'p99 ms', 'max ms', 'uploads'], throughputRows)}\n`,
  );
  out.write(
    `\nSteady ${STEADY.perSecond} events/s for ${STEADY.seconds} s (flush 1 s, upload interval ${STEADY.minDelayMs / 1000}–${STEADY.maxDelayMs / 1000} s, ${steady.uploads} uploads); load average ${load.steady.before.toFixed(2)} → ${load.steady.after.toFixed(2)}\n\n`,
  );
  out.write(
    `${table(
      ['enqueue → ack', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms'],
      [
        [
          'steady',
          ms(steady.latencyMs.p50),
          ms(steady.latencyMs.p90),
          ms(steady.latencyMs.p99),
          ms(steady.latencyMs.max),
        ],
      ],
    )}\n`,
  );
  out.write(
    `\nRequest path, POST /v1/verdict, ${HTTP.connections} connections, ${HTTP.rounds} rounds of ${HTTP.seconds} s each, decision log on in both (${shippedDuringStorms.total} events shipped during the storms); load average ${load.requestPath.before.toFixed(2)} → ${load.requestPath.after.toFixed(2)}\n\n`,
  );
  out.write(`${table(['figure', 'shipping off', 'shipping on', 'on/off (paired median)'], httpRows)}\n`);
  const path = await writeResults('decision-log-ship', {
    machine: machineInfo(),
    loadAverage: load,
    throughput: { plan: THROUGHPUT, runs },
    steady: { plan: STEADY, ...steady },
    requestPath: { plan: HTTP, http, collectorCpuUs, shippedDuringStorms: shippedDuringStorms.total },
  });
  out.write(`\nraw figures: ${path}\n`);
} finally {
  await stopAll(servers.map((s) => s.proc));
  collector.stop();
  await rm(workDir, { recursive: true, force: true });
}

// User + system µs of a process.cpuUsage() difference.
function cpuUs(u: NodeJS.CpuUsage): number {
  return u.user + u.system;
}

// "p50 (min–max)" of per-run rates.
function rates(xs: readonly number[]): string {
  const s = summarize(xs);
  return `${s.p50.toFixed(0)} (${s.min.toFixed(0)}–${s.max.toFixed(0)})`;
}
