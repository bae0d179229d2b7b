/**
 * What serving processes cost the routes they do not answer: with `http_processes: 2` a
 * verdict (`POST /v1/verdict`) is streamed by a serving process to the primary over the
 * loopback and back (src/serve/proxy.ts), where with one process it is answered at once.
 * Two `warden agent`s on the bundled example (examples/agent.yaml's packs: authz, governance,
 * kill switches; directory sources; decision log off), `http_processes: 1` and `2`, loaded by
 * the throughput bench's autocannon child at 16 and 64 connections, rounds rotating the
 * order: the verdict route and, beside it, the data API (`POST /v1/data/authz/allow`,
 * answered by the serving processes themselves). Reports req/s, p50, p99 and CPU per request
 * over each agent's process tree, with processes-2 / one-process paired per round.
 *
 * Run: `npx tsc -p tsconfig.build.json && node --import tsx bench/serving-routes.bench.ts [--rounds 3]`.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ENTRYPOINT, INPUTS } from './lib/example.js';
import { ALLOWS, DENIES } from './lib/governance-agent.js';
import { loadAverage, machineInfo } from './lib/machine.js';
import { startWardenAgent, stopAll } from './lib/procs.js';
import { ms, ratio, table, writeResults } from './lib/report.js';
import { summarize } from './lib/stats.js';
import { runLoad, type Target } from './lib/targets.js';

const { values: args } = parseArgs({
  options: { rounds: { type: 'string', default: '3' }, seconds: { type: 'string', default: '5' } },
});
const ROUNDS = Number(args.rounds);
const SECONDS = Number(args.seconds);
const CONNECTIONS = [16, 64];
const EXAMPLES = fileURLToPath(new URL('../examples/', import.meta.url));

// The example packs' allowed and denied contexts, each with the verdict it must get.
const VERDICTS = [...ALLOWS, ...DENIES].map((c) => ({ body: JSON.stringify(c.context), expect: c.expect }));
const ROUTES = {
  verdict: { path: '/v1/verdict', cases: VERDICTS },
  data: {
    path: `/v1/data/${ENTRYPOINT}`,
    cases: INPUTS.map((c) => ({ body: JSON.stringify({ input: c.input }), expect: c.expect })),
  },
} as const;
type Route = keyof typeof ROUTES;
const TARGETS = ['one-process', 'processes-2'] as const;

interface Run {
  readonly target: string;
  readonly route: Route;
  readonly connections: number;
  readonly round: number;
  readonly rps: number;
  readonly p50: number;
  readonly p99: number;
  readonly cpuUsPerRequest: number;
  readonly wrong: number;
  readonly loadAverage: number;
}

function config(dir: string, name: string, processes: number): string {
  return [
    'listen: 127.0.0.1:0',
    `data_dir: ${join(dir, `data-${name}`)}`,
    'log_level: warn',
    `http_processes: ${processes}`,
    'packs:',
    '  - name: authz',
    `    source: { directory: { path: ${join(EXAMPLES, 'authz')} } }`,
    '    verify: { unsigned: true }',
    '  - name: governance',
    `    source: { directory: { path: ${join(EXAMPLES, 'governance')} } }`,
    '    verify: { unsigned: true }',
    'governance:',
    '  pack: governance',
    '  environment: example',
    `  evidence: { dir: ${join(dir, `evidence-${name}`)} }`,
    '  kill_switches:',
    `    source: { directory: { path: ${join(EXAMPLES, 'killswitch')} } }`,
    '    verify: { unsigned: true }',
  ].join('\n');
}

function log(message: string): void {
  process.stderr.write(`bench serving-routes: ${message}\n`);
}

const median = (xs: readonly number[]): number => summarize(xs).p50;

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'warden-bench-serving-routes-'));
  const servers: Target[] = [];
  try {
    for (const [i, name] of TARGETS.entries()) {
      const path = join(dir, `${name}.yaml`);
      await writeFile(path, config(dir, name, i + 1));
      const { proc, url } = await startWardenAgent(name, path, 60_000);
      servers.push({ name, url, proc });
      log(`${name}: pid ${proc.pid} at ${url}`);
    }
    const runs: Run[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      for (const c of CONNECTIONS) {
        for (const route of Object.keys(ROUTES) as Route[]) {
          const order = round % 2 === 0 ? [...servers].reverse() : servers;
          for (const t of order) {
            log(`round ${round}: ${t.name}, ${route}, ${c} connections…`);
            const loadAvg = loadAverage();
            const r = await runLoad(t, { ...ROUTES[route], connections: c, pipelining: 1, durationSeconds: SECONDS });
            runs.push({
              target: t.name,
              route,
              connections: c,
              round,
              rps: r.load.requestsPerSecond.mean,
              p50: r.load.latencyMs.p50,
              p99: r.load.latencyMs.p99,
              cpuUsPerRequest: (r.serverCpuMs * 1000) / r.load.completed,
              wrong: r.load.wrong + r.load.non2xx + r.load.errors,
              loadAverage: loadAvg,
            });
          }
        }
      }
    }
    const rows: string[][] = [];
    for (const route of Object.keys(ROUTES) as Route[])
      for (const c of CONNECTIONS) {
        const of = (t: string) => runs.filter((r) => r.target === t && r.route === route && r.connections === c);
        const paired = (f: (r: Run) => number): string => {
          const xs = of('processes-2').map((x) => {
            const y = of('one-process').find((r) => r.round === x.round);
            return y ? f(x) / f(y) : NaN;
          });
          const s = summarize(xs);
          return `${ratio(s.p50)} (${ratio(s.min)}–${ratio(s.max)})`;
        };
        for (const t of TARGETS) {
          const rs = of(t);
          rows.push([
            route,
            String(c),
            t,
            median(rs.map((r) => r.rps)).toFixed(0),
            ms(median(rs.map((r) => r.p50))),
            ms(median(rs.map((r) => r.p99))),
            median(rs.map((r) => r.cpuUsPerRequest)).toFixed(0),
            String(rs.reduce((n, r) => n + r.wrong, 0)),
            t === 'processes-2' ? paired((r) => r.rps) : '',
            t === 'processes-2' ? paired((r) => r.p99) : '',
          ]);
        }
      }
    const machine = machineInfo();
    const report = `# Serving processes: the routes they answer and the ones they pass on\n\n${machine.cores} cores, ${machine.cpuModel}, Node ${machine.node}; ${ROUNDS} rounds of ${SECONDS} s; medians\n\n${table(
      [
        'route',
        'conns',
        'agent',
        'req/s',
        'p50 ms',
        'p99 ms',
        'CPU µs/req (tree)',
        'wrong / non-2xx / errors',
        'req/s, processes-2 / one',
        'p99, processes-2 / one',
      ],
      rows,
    )}\n`;
    process.stdout.write(report);
    const path = await writeResults('serving-routes', { benchmark: 'serving-routes', machine, runs });
    process.stdout.write(`\nraw figures: ${path}\n`);
  } finally {
    await stopAll(servers.map((s) => s.proc));
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
