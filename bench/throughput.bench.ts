/**
 * Issue 3, HTTP throughput: a real `warden agent` process against a real
 * `opa run --server` on the same pack (a Warden pack is an OPA bundle), loaded
 * by the same autocannon program, same settings, same run. Goal: at least
 * OPA's throughput.
 *
 * The load generator runs as its own process (bench/lib/load-child.ts) for
 * every measurement, alternating targets; the three processes share the
 * machine's cores, so the figures are for this machine, not a server's ceiling.
 *
 * Run: `npm run bench:throughput`. Prints tables; raw figures go to bench/results/.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { cpuMs } from './lib/cpu.js';
import { buildSignedExample, ENTRYPOINT, INPUTS, signingKey } from './lib/example.js';
import { checkDecisions, KeepAliveClient } from './lib/http.js';
import type { LoadPlan, LoadResult } from './lib/load-child.js';
import { machineInfo } from './lib/machine.js';
import { freePort, ServerProcess, startWardenAgent, stopAll } from './lib/procs.js';
import { ms, ratio, table, writeResults } from './lib/report.js';
import { summarize } from './lib/stats.js';
import { locateOpa } from '../src/opa/locate.js';
import { messageOf } from '../src/errors.js';

const GOAL = 1.0;
const CONNECTIONS = [16, 64] as const;
const PIPELINING = 1;
const DURATION_SECONDS = 5;
const WARMUP_SECONDS = 3;
const ROUNDS = 5;
const LOAD_CHILD = fileURLToPath(new URL('./lib/load-child.ts', import.meta.url));
const run = promisify(execFile);

type Target = 'opa' | 'warden';

/** A server under load. */
interface Server {
  readonly name: Target;
  readonly url: string;
  readonly proc: ServerProcess;
}

/** One measured load run. */
interface Run {
  readonly target: Target;
  readonly connections: number;
  readonly round: number;
  readonly load: LoadResult;
  /** CPU the server used during the run, ms. */
  readonly serverCpuMs: number;
}

// Runs the load generator once against a server; returns its figures and the server's CPU time.
async function load(
  server: Server,
  connections: number,
  durationSeconds: number,
): Promise<{ load: LoadResult; serverCpuMs: number }> {
  const plan: LoadPlan = {
    url: server.url,
    path: `/v1/data/${ENTRYPOINT}`,
    connections,
    pipelining: PIPELINING,
    durationSeconds,
    cases: INPUTS.map((c) => ({ body: JSON.stringify({ input: c.input }), expect: c.expect })),
  };
  const before = cpuMs(server.proc.pid);
  const { stdout } = await run(process.execPath, ['--import', 'tsx', LOAD_CHILD, JSON.stringify(plan)], {
    maxBuffer: 16 * 1024 * 1024,
    timeout: (durationSeconds + 60) * 1000,
  });
  const serverCpuMs = cpuMs(server.proc.pid) - before;
  const line = stdout.trim().split('\n').pop() ?? '';
  return { load: JSON.parse(line) as LoadResult, serverCpuMs };
}

// Starts `opa run --server` on the pack and waits until it answers the data API.
async function startOpa(packPath: string): Promise<Server> {
  const opa = locateOpa();
  const port = await freePort();
  const proc = ServerProcess.start('opa', opa.path, [
    'run',
    '--server',
    '--addr',
    `127.0.0.1:${port}`,
    '--log-level',
    'error',
    '-b',
    packPath,
  ]);
  const url = `http://127.0.0.1:${port}`;
  const client = new KeepAliveClient(url);
  try {
    for (let i = 0; ; i++) {
      try {
        await checkDecisions(client, `/v1/data/${ENTRYPOINT}`, INPUTS, 'opa');
        return { name: 'opa', url, proc };
      } catch (err) {
        if (i >= 100 || proc.child.exitCode !== null)
          throw new Error(`opa did not answer correctly: ${messageOf(err)}\n${proc.tail()}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  } catch (err) {
    await proc.stop();
    throw err;
  } finally {
    client.close();
  }
}

// Starts `warden agent` on the same pack (file source) and checks its answers.
async function startWarden(dir: string, packPath: string, publicPath: string): Promise<Server> {
  const configPath = join(dir, 'agent.yaml');
  await writeFile(
    configPath,
    [
      'listen: 127.0.0.1:0',
      `data_dir: ${join(dir, 'data')}`,
      'log_level: warn',
      'packs:',
      '  - name: authz',
      '    source:',
      `      file: { path: ${packPath}, poll_seconds: 60 }`,
      '    verify:',
      `      public_keys: [${publicPath}]`,
    ].join('\n'),
  );
  const { proc, url } = await startWardenAgent('warden agent', configPath);
  const client = new KeepAliveClient(url);
  try {
    await checkDecisions(client, `/v1/data/${ENTRYPOINT}`, INPUTS, 'the warden agent');
  } catch (err) {
    await proc.stop();
    throw err;
  } finally {
    client.close();
  }
  return { name: 'warden', url, proc };
}

/** Per connection count: both targets' figures over the rounds. */
interface Comparison {
  readonly connections: number;
  readonly rps: Record<Target, number[]>;
  readonly p50: Record<Target, number[]>;
  readonly p99: Record<Target, number[]>;
  /** Server CPU per request, µs. */
  readonly cpuPerRequestUs: Record<Target, number[]>;
  readonly ratioRps: number;
  readonly ratioP50: number;
  readonly ratioP99: number;
  readonly ratioCpu: number;
  /** Warden/OPA req/s of the two back-to-back runs of each round. */
  readonly pairedRps: number[];
  /** The median of pairedRps: the headline figure (noise slower than a run pair cancels out). */
  readonly ratioRpsPaired: number;
}

// Median of a few numbers (here: one per round).
function median(xs: readonly number[]): number {
  return summarize(xs).p50;
}

// Server CPU time per completed request, µs.
function cpuPerRequest(r: Run): number {
  return (r.serverCpuMs * 1000) / r.load.completed;
}

// Warden/OPA per connection count, over the rounds.
function compare(runs: readonly Run[]): Comparison[] {
  return CONNECTIONS.map((connections) => {
    const of = (t: Target): Run[] => runs.filter((r) => r.target === t && r.connections === connections);
    const field = (f: (r: Run) => number): Record<Target, number[]> => ({
      opa: of('opa').map(f),
      warden: of('warden').map(f),
    });
    const rps = field((r) => r.load.requestsPerSecond.mean);
    const p50 = field((r) => r.load.latencyMs.p50);
    const p99 = field((r) => r.load.latencyMs.p99);
    const cpuPerRequestUs = field(cpuPerRequest);
    const pairedRps = rps.warden.map((w, i) => w / (rps.opa[i] ?? NaN));
    return {
      connections,
      rps,
      p50,
      p99,
      cpuPerRequestUs,
      ratioRps: median(rps.warden) / median(rps.opa),
      ratioP50: median(p50.warden) / median(p50.opa),
      ratioP99: median(p99.warden) / median(p99.opa),
      ratioCpu: median(cpuPerRequestUs.warden) / median(cpuPerRequestUs.opa),
      pairedRps,
      ratioRpsPaired: median(pairedRps),
    };
  });
}

// The readable report.
function render(runs: readonly Run[], comparisons: readonly Comparison[]): string {
  const out: string[] = [];
  out.push(
    `## Every run (${DURATION_SECONDS} s each, pipelining ${PIPELINING}, the 4 example inputs in turn; latency in ms)\n`,
  );
  out.push(
    table(
      [
        'round',
        'connections',
        'target',
        'req/s (mean)',
        'p50',
        'p99',
        'max',
        'errors',
        'non-2xx',
        'wrong',
        'server CPU µs/req',
        'server cores busy',
        'load gen CPU µs/req',
      ],
      runs.map((r) => [
        String(r.round),
        String(r.connections),
        r.target,
        r.load.requestsPerSecond.mean.toFixed(0),
        ms(r.load.latencyMs.p50),
        ms(r.load.latencyMs.p99),
        ms(r.load.latencyMs.max),
        String(r.load.errors),
        String(r.load.non2xx),
        String(r.load.wrong),
        cpuPerRequest(r).toFixed(0),
        (r.serverCpuMs / (r.load.durationSeconds * 1000)).toFixed(2),
        ((r.load.loadGeneratorCpuMs * 1000) / r.load.completed).toFixed(0),
      ]),
    ),
  );
  out.push(
    `\n## Warden / OPA (medians over ${ROUNDS} rounds; goal: median paired req/s ratio ≥ ${GOAL.toFixed(2)}×)\n`,
  );
  out.push(
    table(
      [
        'connections',
        'OPA req/s',
        'Warden req/s',
        'ratio of medians',
        'paired ratio (median)',
        'paired, per round',
        'OPA p50 / p99',
        'Warden p50 / p99',
        'p50 ratio',
        'p99 ratio',
        'CPU/req ratio',
        'goal',
      ],
      comparisons.map((c) => [
        String(c.connections),
        median(c.rps.opa).toFixed(0),
        median(c.rps.warden).toFixed(0),
        ratio(c.ratioRps),
        ratio(c.ratioRpsPaired),
        c.pairedRps.map(ratio).join(' '),
        `${ms(median(c.p50.opa))} / ${ms(median(c.p99.opa))}`,
        `${ms(median(c.p50.warden))} / ${ms(median(c.p99.warden))}`,
        ratio(c.ratioP50),
        ratio(c.ratioP99),
        ratio(c.ratioCpu),
        c.ratioRpsPaired >= GOAL ? 'met' : 'MISSED',
      ]),
    ),
  );
  return out.join('\n');
}

// Progress goes to stderr so stdout holds only the report.
function log(message: string): void {
  process.stderr.write(`bench throughput: ${message}\n`);
}

// Builds the pack, starts both servers, loads each in turn, reports, stops everything.
async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'warden-bench-throughput-'));
  let opa: Server | undefined;
  let warden: Server | undefined;
  try {
    log('building and signing examples/authz…');
    const key = await signingKey(dir);
    const pack = await buildSignedExample(dir, key);
    opa = await startOpa(pack.path);
    warden = await startWarden(dir, pack.path, key.publicPath);
    log(
      `opa pid ${opa.proc.pid} at ${opa.url}, warden agent pid ${warden.proc.pid} at ${warden.url}; both answer the 4 inputs correctly`,
    );
    for (const s of [opa, warden]) {
      log(`warm-up: ${s.name}, ${WARMUP_SECONDS} s at ${CONNECTIONS[0]} connections…`);
      await load(s, CONNECTIONS[0], WARMUP_SECONDS);
    }
    const runs: Run[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      for (const [i, connections] of CONNECTIONS.entries()) {
        // Alternate which target goes first, so neither always follows the other.
        const order = (round + i) % 2 === 0 ? [opa, warden] : [warden, opa];
        for (const s of order) {
          log(`round ${round}: ${s.name}, ${connections} connections, ${DURATION_SECONDS} s…`);
          const r = await load(s, connections, DURATION_SECONDS);
          runs.push({ target: s.name, connections, round, ...r });
        }
      }
    }
    const comparisons = compare(runs);
    const machine = machineInfo();
    const opaVersion = locateOpa().version;
    process.stdout.write(
      `# HTTP throughput benchmark: warden agent vs opa run --server\n\n${machine.cores} cores, ${machine.cpuModel}, Node ${machine.node}, opa ${opaVersion}; autocannon in a separate process\n\n${render(runs, comparisons)}\n`,
    );
    const path = await writeResults('throughput', {
      benchmark: 'throughput',
      goal: GOAL,
      date: new Date().toISOString(),
      machine,
      opaVersion,
      settings: {
        connections: CONNECTIONS,
        pipelining: PIPELINING,
        durationSeconds: DURATION_SECONDS,
        warmupSeconds: WARMUP_SECONDS,
        rounds: ROUNDS,
      },
      inputs: INPUTS,
      runs,
      comparisons,
    });
    process.stdout.write(`\nraw figures: ${path}\n`);
  } finally {
    await stopAll([opa?.proc, warden?.proc]);
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
