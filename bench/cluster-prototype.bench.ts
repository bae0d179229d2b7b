/**
 * A prototype measured, not a product mode: would serving HTTP from several
 * processes reach the throughput goal (≥ 1.2× `opa run --server`)? Three
 * servers on the example pack, loaded by the throughput bench's autocannon
 * child (bench/lib/targets.ts), rounds rotating the order: `opa run --server`,
 * one `warden agent` with `decision_workers: 0`, and N such agents (default 2)
 * as node:cluster workers sharing one port (bench/lib/cluster-agents.mjs:
 * each a whole agent with its own data_dir; decision log off). Reports
 * req/s, p99, the worst request and CPU per request over the process tree,
 * with the cluster / OPA and single / OPA ratios paired per round.
 *
 * Run: `npx tsc -p tsconfig.build.json && node --import tsx bench/cluster-prototype.bench.ts [--rounds 3] [--processes 2]`.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { cpuMs } from './lib/cpu.js';
import { buildSignedExample, ENTRYPOINT, INPUTS, signingKey } from './lib/example.js';
import { checkDecisions, KeepAliveClient } from './lib/http.js';
import { loadAverage, machineInfo } from './lib/machine.js';
import { freePort, ServerProcess, stopAll } from './lib/procs.js';
import { ms, ratio, table, writeResults } from './lib/report.js';
import { summarize } from './lib/stats.js';
import { runLoad, startOpa, startWarden, wardenConfig, type Target } from './lib/targets.js';

const CLUSTER_ENTRY = fileURLToPath(new URL('./lib/cluster-agents.mjs', import.meta.url));
const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    processes: { type: 'string', default: '2' },
    seconds: { type: 'string', default: '5' },
  },
});
const ROUNDS = Number(args.rounds);
const PROCESSES = Number(args.processes);
const SECONDS = Number(args.seconds);
const CONNECTIONS = [16, 64, 256];

interface Run {
  readonly target: string;
  readonly connections: number;
  readonly round: number;
  readonly rps: number;
  readonly p99: number;
  readonly max: number;
  readonly cpuUsPerRequest: number;
  readonly wrong: number;
  readonly loadAverage: number;
}

const ready = (who: string) => (client: KeepAliveClient) =>
  checkDecisions(client, `/v1/data/${ENTRYPOINT}`, INPUTS, who);

// The process and its children (the cluster's agents).
function tree(pid: number): number[] {
  try {
    const kids = execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' });
    return [pid, ...kids.split('\n').filter(Boolean).map(Number)];
  } catch {
    return [pid];
  }
}
const treeCpuMs = (pid: number): number => tree(pid).reduce((sum, p) => sum + cpuMs(p), 0);

function log(message: string): void {
  process.stderr.write(`bench cluster-prototype: ${message}\n`);
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'warden-bench-cluster-'));
  const servers: Target[] = [];
  try {
    const key = await signingKey(dir);
    const pack = await buildSignedExample(dir, key);
    const source = [`file: { path: ${pack.path}, poll_seconds: 60 }`];
    const agent = (name: string) => ({
      dir,
      name,
      packName: 'authz',
      source,
      publicKeyPath: key.publicPath,
      workers: 0,
    });
    servers.push(await startOpa('opa', ['-b', pack.path], ready('opa')));
    servers.push(await startWarden(agent('single'), ready('single')));
    const port = await freePort();
    const configs: string[] = [];
    for (let i = 0; i < PROCESSES; i++) {
      const path = join(dir, `cluster-${i}.yaml`);
      await writeFile(
        path,
        wardenConfig(agent(`cluster-${i}`)).replace('listen: 127.0.0.1:0', `listen: 127.0.0.1:${port}`),
      );
      configs.push(path);
    }
    const proc = ServerProcess.start('cluster', process.execPath, [CLUSTER_ENTRY, ...configs]);
    await proc.waitFor(/listening on/, 30_000);
    const cluster: Target = { name: `cluster-${PROCESSES}`, url: `http://127.0.0.1:${port}`, proc };
    const client = new KeepAliveClient(cluster.url);
    await ready('cluster')(client);
    client.close();
    servers.push(cluster);

    const runs: Run[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      for (const [i, connections] of CONNECTIONS.entries()) {
        const shift = (round + i) % servers.length;
        for (const t of [...servers.slice(shift), ...servers.slice(0, shift)]) {
          log(`round ${round}: ${t.name}, ${connections} connections…`);
          const before = treeCpuMs(t.proc.pid);
          const loadAvg = loadAverage();
          const r = await runLoad(t, {
            path: `/v1/data/${ENTRYPOINT}`,
            connections,
            pipelining: 1,
            durationSeconds: SECONDS,
            cases: INPUTS.map((c) => ({ body: JSON.stringify({ input: c.input }), expect: c.expect })),
          });
          runs.push({
            target: t.name,
            connections,
            round,
            rps: r.load.requestsPerSecond.mean,
            p99: r.load.latencyMs.p99,
            max: r.load.latencyMs.max,
            cpuUsPerRequest: ((treeCpuMs(t.proc.pid) - before) * 1000) / r.load.completed,
            wrong: r.load.errors + r.load.non2xx + r.load.wrong,
            loadAverage: loadAvg,
          });
        }
      }
    }
    const median = (xs: number[]): number => summarize(xs).p50;
    const of = (t: string, c: number): Run[] => runs.filter((r) => r.target === t && r.connections === c);
    const paired = (a: string, c: number): number[] =>
      of(a, c).map((x) => x.rps / (of('opa', c).find((y) => y.round === x.round)?.rps ?? NaN));
    const rows = CONNECTIONS.flatMap((c) =>
      servers.map((t) => {
        const rs = of(t.name, c);
        const ratios = t.name === 'opa' ? undefined : summarize(paired(t.name, c));
        return [
          String(c),
          t.name,
          median(rs.map((r) => r.rps)).toFixed(0),
          ratios === undefined ? '–' : `${ratio(ratios.p50)} (${ratio(ratios.min)}–${ratio(ratios.max)})`,
          ms(median(rs.map((r) => r.p99))),
          ms(Math.max(...rs.map((r) => r.max))),
          median(rs.map((r) => r.cpuUsPerRequest)).toFixed(0),
          String(rs.reduce((n, r) => n + r.wrong, 0)),
        ];
      }),
    );
    const machine = machineInfo();
    const la = runs.map((r) => r.loadAverage);
    process.stdout.write(
      `# Cluster prototype: ${PROCESSES} agent processes on one port vs one agent vs opa\n\n${machine.cores} cores, ${machine.cpuModel}, Node ${machine.node}; load average ${Math.min(...la).toFixed(1)}–${Math.max(...la).toFixed(1)}; medians over ${ROUNDS} rounds of ${SECONDS} s\n\n` +
        table(
          [
            'conns',
            'server',
            'req/s',
            'req/s vs opa, paired',
            'p99 ms',
            'worst ms',
            'CPU µs/req (process tree)',
            'errors',
          ],
          rows,
        ) +
        '\n',
    );
    const path = await writeResults('cluster-prototype', {
      benchmark: 'cluster-prototype',
      date: new Date().toISOString(),
      machine,
      settings: { rounds: ROUNDS, processes: PROCESSES, seconds: SECONDS, connections: CONNECTIONS },
      runs,
    });
    process.stdout.write(`\nraw figures: ${path}\n`);
  } finally {
    await stopAll(servers.map((s) => s.proc));
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
