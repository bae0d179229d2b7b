/**
 * HTTP decision throughput: `warden agent` with two serving processes
 * (http_processes: 2) and with decision workers (auto: one per core; 1; 0 =
 * every decision on the main thread) against `opa run --server` on the same
 * pack (a Warden pack is an OPA bundle), loaded by the same autocannon
 * program, same settings, same run, at 16, 64 and 256 connections. Goal (the
 * serving processes): at least 1.2× OPA's req/s at every connection count,
 * with a worst request no slower than OPA's.
 *
 * The load generator runs as its own process (bench/lib/load-child.ts) for
 * every measurement; in each round every connection count runs every target
 * back to back, the order rotating. The load generator, the servers and the
 * kernel share the machine's cores: the figures are for this machine, not a
 * server's ceiling. CPU per request is given for the whole server (its serving
 * processes included) and,
 * for Warden, for its main thread alone (the HTTP layer, routing and the
 * hand-off to the workers), with the evaluation time the agent measured
 * itself (opa_client_latency_seconds: inside the worker for pooled packs).
 * OPA's Go runtime has no such main thread: only its whole-process CPU counts.
 *
 * Run: `node --import tsx bench/throughput.bench.ts [--rounds 5] [--seconds 5] [--connections 16,64,256] [--targets opa,warden-workers-0]`
 * after `npx tsc -p tsconfig.build.json` (the agents run bin/warden.js → dist/).
 * Prints tables; raw figures go to bench/results/throughput-<timestamp>.json.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { parseArgs } from 'node:util';
import { join } from 'node:path';
import { buildSignedExample, ENTRYPOINT, INPUTS, signingKey } from './lib/example.js';
import { checkDecisions } from './lib/http.js';
import { loadAverage, machineInfo } from './lib/machine.js';
import { stopAll } from './lib/procs.js';
import { ms, ratio, table, writeResults } from './lib/report.js';
import { summarize } from './lib/stats.js';
import {
  evaluationTotals,
  runLoad,
  startOpa,
  startWarden,
  type LoadRun,
  type Target,
  type Workers,
} from './lib/targets.js';
import { locateOpa } from '../src/opa/locate.js';
import { poolSize } from '../src/workers/pool.js';

const GOAL = 1.2;
const PIPELINING = 1;
const WARMUP_SECONDS = 3;

const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    seconds: { type: 'string', default: '5' },
    connections: { type: 'string', default: '16,64,256' },
    targets: { type: 'string' },
  },
});
const ROUNDS = Number(args.rounds);
const DURATION_SECONDS = Number(args.seconds);
const CONNECTIONS = (args.connections ?? '').split(',').map((c) => Number(c.trim()));
if (!(ROUNDS >= 1) || !(DURATION_SECONDS >= 1) || CONNECTIONS.some((c) => !(c >= 1)))
  throw new Error('usage: [--rounds 5] [--seconds 5] [--connections 16,64,256]');

/** The servers compared; Warden's by `decision_workers` and `http_processes`. */
interface TargetSpec {
  readonly name: string;
  readonly workers?: Workers;
  readonly processes?: number;
}
const OPA = 'opa';
const AUTO = `warden-workers-auto`;
const ONE = 'warden-workers-1';
const ZERO = 'warden-workers-0';
const PROCS = 'warden-processes-2';
const ALL_TARGETS: readonly TargetSpec[] = [
  { name: OPA },
  { name: PROCS, workers: 0, processes: 2 },
  { name: AUTO, workers: 'auto' },
  { name: ONE, workers: 1 },
  { name: ZERO, workers: 0 },
];
// `--targets opa,warden-workers-0`: only those (default: all five).
const TARGETS =
  args.targets === undefined ? ALL_TARGETS : ALL_TARGETS.filter((t) => args.targets?.split(',').includes(t.name));
if (TARGETS.length === 0) throw new Error(`--targets: none of ${ALL_TARGETS.map((t) => t.name).join(', ')}`);

/** One measured load run. */
interface Run {
  readonly target: string;
  readonly connections: number;
  readonly round: number;
  readonly load: LoadRun['load'];
  readonly serverCpuMs: number;
  readonly mainThreadCpuMs: number;
  /** Evaluation time the agent measured during the run, ms (Warden only). */
  readonly evaluationMs: number | undefined;
  /** Load average (1 min) when the run started: how busy the shared machine was. */
  readonly loadAverage: number;
}

// The example's four inputs, each must give its expected result.
const ready = (who: string) => (client: Parameters<typeof checkDecisions>[0]) =>
  checkDecisions(client, `/v1/data/${ENTRYPOINT}`, INPUTS, who);

// Runs autocannon once against a target, with the agent's evaluation time over the run.
async function measure(t: Target, connections: number, durationSeconds: number, round: number): Promise<Run> {
  const warden = t.name !== OPA;
  const before = warden ? await evaluationTotals(t.url) : undefined;
  const loadAvg = loadAverage();
  const r = await runLoad(t, {
    path: `/v1/data/${ENTRYPOINT}`,
    connections,
    pipelining: PIPELINING,
    durationSeconds,
    cases: INPUTS.map((c) => ({ body: JSON.stringify({ input: c.input }), expect: c.expect })),
  });
  const after = warden ? await evaluationTotals(t.url) : undefined;
  return {
    target: t.name,
    connections,
    round,
    ...r,
    evaluationMs: before && after ? (after.seconds - before.seconds) * 1000 : undefined,
    loadAverage: loadAvg,
  };
}

// Per request, µs.
const perRequest = (r: Run, cpuMs: number | undefined): number =>
  cpuMs === undefined ? NaN : (cpuMs * 1000) / r.load.completed;

// Median of a few numbers (one per round).
function median(xs: readonly number[]): number {
  const finite = xs.filter((x) => Number.isFinite(x));
  return finite.length > 0 ? summarize(finite).p50 : NaN;
}

// "median (min–max)".
function spread(xs: readonly number[], f: (x: number) => string): string {
  const finite = xs.filter((x) => Number.isFinite(x));
  if (finite.length === 0) return '–';
  const s = summarize(finite);
  return `${f(s.p50)} (${f(s.min)}–${f(s.max)})`;
}

// a/b of the runs of the same round and connection count.
function paired(runs: readonly Run[], a: string, b: string, c: number, f: (r: Run) => number): number[] {
  return runs
    .filter((r) => r.target === a && r.connections === c)
    .map((x) => {
      const y = runs.find((r) => r.target === b && r.connections === c && r.round === x.round);
      return y ? f(x) / f(y) : NaN;
    });
}

const rps = (r: Run): number => r.load.requestsPerSecond.mean;
const maxMs = (r: Run): number => r.load.latencyMs.max;

// The readable report.
function render(runs: readonly Run[], names: Readonly<Record<string, string>>): string {
  const out: string[] = [];
  const of = (t: string, c: number): Run[] => runs.filter((r) => r.target === t && r.connections === c);
  out.push(
    `## Every run (${DURATION_SECONDS} s each, pipelining ${PIPELINING}, the 4 example inputs in turn; latency in ms, CPU in µs per request)\n`,
  );
  out.push(
    table(
      [
        'round',
        'conns',
        'target',
        'req/s',
        'p50',
        'p99',
        'max',
        'errors / non-2xx / wrong',
        'server CPU',
        'main thread',
        'evaluation',
        'cores busy',
        'load gen CPU',
        'load avg',
      ],
      runs.map((r) => [
        String(r.round),
        String(r.connections),
        r.target,
        rps(r).toFixed(0),
        ms(r.load.latencyMs.p50),
        ms(r.load.latencyMs.p99),
        ms(r.load.latencyMs.max),
        `${r.load.errors} / ${r.load.non2xx} / ${r.load.wrong}`,
        perRequest(r, r.serverCpuMs).toFixed(0),
        r.target === OPA ? '–' : perRequest(r, r.mainThreadCpuMs).toFixed(0),
        r.evaluationMs === undefined ? '–' : perRequest(r, r.evaluationMs).toFixed(1),
        (r.serverCpuMs / (r.load.durationSeconds * 1000)).toFixed(2),
        ((r.load.loadGeneratorCpuMs * 1000) / r.load.completed).toFixed(0),
        r.loadAverage.toFixed(1),
      ]),
    ),
  );
  out.push(`\n## Per target: medians over ${ROUNDS} rounds (worst request: the largest of every round)\n`);
  out.push(
    table(
      [
        'conns',
        'target',
        'req/s',
        'p50',
        'p99',
        'max (median)',
        'worst request',
        'server CPU µs/req',
        'main thread µs/req',
        'evaluation µs/req',
        'cores busy',
        'load gen CPU µs/req',
      ],
      CONNECTIONS.flatMap((c) =>
        TARGETS.map((t) => {
          const rs = of(t.name, c);
          return [
            String(c),
            names[t.name] ?? t.name,
            median(rs.map(rps)).toFixed(0),
            ms(median(rs.map((r) => r.load.latencyMs.p50))),
            ms(median(rs.map((r) => r.load.latencyMs.p99))),
            ms(median(rs.map(maxMs))),
            ms(Math.max(...rs.map(maxMs))),
            median(rs.map((r) => perRequest(r, r.serverCpuMs))).toFixed(0),
            t.name === OPA ? '–' : median(rs.map((r) => perRequest(r, r.mainThreadCpuMs))).toFixed(0),
            t.name === OPA ? '–' : median(rs.map((r) => perRequest(r, r.evaluationMs))).toFixed(1),
            median(rs.map((r) => r.serverCpuMs / (r.load.durationSeconds * 1000))).toFixed(2),
            median(rs.map((r) => (r.load.loadGeneratorCpuMs * 1000) / r.load.completed)).toFixed(0),
          ];
        }),
      ),
    ),
  );
  out.push(`\n## Ratios: median of the per-round paired ratios (min–max over ${ROUNDS} rounds)\n`);
  const comparisons: Array<[string, string, string]> = [
    [PROCS, OPA, 'processes 2 / OPA'],
    [PROCS, ZERO, 'scaling: processes 2 / workers 0 (one process)'],
    [AUTO, OPA, 'workers auto / OPA'],
    [ONE, OPA, 'workers 1 / OPA'],
    [ZERO, OPA, 'workers 0 / OPA'],
    [AUTO, ZERO, 'workers auto / workers 0'],
    [ONE, ZERO, 'workers 1 / workers 0'],
    [AUTO, ONE, 'scaling: workers auto / workers 1'],
  ].filter(([a, b]) => TARGETS.some((t) => t.name === a) && TARGETS.some((t) => t.name === b)) as Array<
    [string, string, string]
  >;
  out.push(
    table(
      ['conns', 'comparison', 'req/s', 'p50', 'p99', 'max', 'server CPU per request'],
      CONNECTIONS.flatMap((c) =>
        comparisons.map(([a, b, label]) => [
          String(c),
          label,
          spread(paired(runs, a, b, c, rps), ratio),
          spread(
            paired(runs, a, b, c, (r) => r.load.latencyMs.p50),
            ratio,
          ),
          spread(
            paired(runs, a, b, c, (r) => r.load.latencyMs.p99),
            ratio,
          ),
          spread(paired(runs, a, b, c, maxMs), ratio),
          spread(
            paired(runs, a, b, c, (r) => perRequest(r, r.serverCpuMs)),
            ratio,
          ),
        ]),
      ),
    ),
  );
  // The goal is read on the serving processes when they ran, else on decision workers auto.
  const goal = TARGETS.some((t) => t.name === PROCS) ? PROCS : AUTO;
  out.push(`\n## Goal: ${goal} ≥ ${GOAL.toFixed(1)}× OPA's req/s, worst request ≤ OPA's\n`);
  out.push(
    table(
      [
        'conns',
        'req/s ratio (median paired)',
        'rounds ≥ goal',
        `worst request ${goal} / OPA`,
        'rounds with max ≤ OPA max',
        'req/s',
        'worst request',
      ],
      CONNECTIONS.map((c) => {
        const ratios = paired(runs, goal, OPA, c, rps);
        const maxRatios = paired(runs, goal, OPA, c, maxMs);
        const worst = (t: string): number => Math.max(...of(t, c).map(maxMs));
        const okRps = median(ratios) >= GOAL;
        const okMax = worst(goal) <= worst(OPA);
        return [
          String(c),
          ratio(median(ratios)),
          `${ratios.filter((x) => x >= GOAL).length} of ${ratios.length}`,
          `${ms(worst(goal))} / ${ms(worst(OPA))}`,
          `${maxRatios.filter((x) => x <= 1).length} of ${maxRatios.length}`,
          okRps ? 'met' : 'MISSED',
          okMax ? 'met' : 'MISSED',
        ];
      }),
    ),
  );
  return out.join('\n');
}

// Progress goes to stderr so stdout holds only the report.
function log(message: string): void {
  process.stderr.write(`bench throughput: ${message}\n`);
}

// Builds the pack, starts every server, loads each in turn, reports, stops everything.
async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'warden-bench-throughput-'));
  const servers: Target[] = [];
  try {
    log('building and signing examples/authz…');
    const key = await signingKey(dir);
    const pack = await buildSignedExample(dir, key);
    for (const t of TARGETS) {
      const server =
        t.workers === undefined
          ? await startOpa(t.name, ['-b', pack.path], ready('opa'))
          : await startWarden(
              {
                dir,
                name: t.name,
                packName: 'authz',
                source: [`file: { path: ${pack.path}, poll_seconds: 60 }`],
                publicKeyPath: key.publicPath,
                workers: t.workers,
                ...(t.processes === undefined ? {} : { processes: t.processes }),
              },
              ready(t.name),
            );
      servers.push(server);
      log(`${t.name}: pid ${server.proc.pid} at ${server.url} answers the 4 inputs correctly`);
    }
    for (const s of servers) {
      log(`warm-up: ${s.name}, ${WARMUP_SECONDS} s at ${CONNECTIONS[0]} connections…`);
      await measure(s, CONNECTIONS[0] ?? 16, WARMUP_SECONDS, 0);
    }
    const runs: Run[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      for (const [i, connections] of CONNECTIONS.entries()) {
        // Rotate the order so no target always follows the same one.
        const shift = (round + i) % servers.length;
        const order = [...servers.slice(shift), ...servers.slice(0, shift)];
        for (const s of order) {
          log(`round ${round}: ${s.name}, ${connections} connections, ${DURATION_SECONDS} s…`);
          runs.push(await measure(s, connections, DURATION_SECONDS, round));
        }
      }
    }
    const machine = machineInfo();
    const opaVersion = locateOpa().version;
    const names = { [AUTO]: `warden-workers-auto (${poolSize('auto')})` };
    process.stdout.write(
      `# HTTP throughput: warden agent (http_processes 2; decision workers auto, 1, 0) vs opa run --server\n\n${machine.cores} cores, ${machine.cpuModel}, Node ${machine.node}, opa ${opaVersion}; autocannon in a separate process\n\n${render(runs, names)}\n`,
    );
    const path = await writeResults('throughput', {
      benchmark: 'throughput',
      goal: GOAL,
      date: new Date().toISOString(),
      machine,
      opaVersion,
      settings: {
        targets: TARGETS,
        autoWorkers: poolSize('auto'),
        connections: CONNECTIONS,
        pipelining: PIPELINING,
        durationSeconds: DURATION_SECONDS,
        warmupSeconds: WARMUP_SECONDS,
        rounds: ROUNDS,
      },
      inputs: INPUTS,
      runs,
    });
    process.stdout.write(`\nraw figures: ${path}\n`);
  } finally {
    await stopAll(servers.map((s) => s.proc));
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
