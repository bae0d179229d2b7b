/**
 * engine: opa over HTTP: `warden agent` with `engine: opa` (Warden in front of
 * the real OPA it supervises) against calling `opa run --server` directly, on
 * the same pack (examples/authz), in the same run:
 *  - latency: one client, one request at a time, rounds interleaved (the order
 *    alternating), p50/p90/p99 per target and the paired per-round ratio;
 *  - throughput: the same autocannon program at 16 and 64 connections.
 * A request through Warden makes two HTTP hops (client → Warden → OPA) where the
 * direct call makes one; the in-process overhead of Warden's OPA client alone
 * is bench/opa-engine.bench.ts. Goal: p50 ≤ 1.1× the direct call.
 *
 * Run: `npm run bench:opa-engine-http` (after `npx tsc -p tsconfig.build.json`:
 * the agent runs bin/warden.js → dist/). Raw figures go to bench/results/.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { buildSignedExample, ENTRYPOINT, INPUTS, signingKey } from './lib/example.js';
import { checkDecisions, KeepAliveClient } from './lib/http.js';
import { machineInfo } from './lib/machine.js';
import { stopAll } from './lib/procs.js';
import { ratio, table, writeResults } from './lib/report.js';
import { pairedRatio, summarize } from './lib/stats.js';
import { runLoad, startOpa, startWarden, type Target } from './lib/targets.js';

const GOAL = 1.1;
const ROUNDS = 20;
const PER_ROUND = 250;
const WARMUP = 1000;
const CONNECTIONS = [16, 64];
const LOAD_SECONDS = 5;
const PATH = `/v1/data/${ENTRYPOINT}`;

const log = (m: string): void => void process.stderr.write(`${m}\n`);
const ready = (who: string) => (client: KeepAliveClient) => checkDecisions(client, PATH, INPUTS, who);

// PER_ROUND sequential requests; the latency of each, µs.
async function latencies(client: KeepAliveClient, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const c = INPUTS[i % INPUTS.length];
    const t0 = performance.now();
    const res = await client.post(PATH, { input: c?.input });
    out.push((performance.now() - t0) * 1000);
    if (res.status !== 200) throw new Error(`answered ${res.status}`);
  }
  return out;
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'warden-bench-opa-engine-'));
  const servers: Target[] = [];
  try {
    const key = await signingKey(dir);
    const pack = await buildSignedExample(dir, key);
    const opa = await startOpa('opa-direct', ['-b', pack.path], ready('opa'));
    servers.push(opa);
    const warden = await startWarden(
      {
        dir,
        name: 'warden-engine-opa',
        packName: 'authz',
        source: [`file: { path: ${pack.path}, poll_seconds: 60 }`],
        publicKeyPath: key.publicPath,
        workers: 0,
        engine: 'opa',
      },
      ready('warden'),
      30_000,
    );
    servers.push(warden);
    const clients = { opa: new KeepAliveClient(opa.url), warden: new KeepAliveClient(warden.url) };
    await latencies(clients.opa, WARMUP);
    await latencies(clients.warden, WARMUP);
    const all = { opa: [] as number[], warden: [] as number[] };
    const p50s = { opa: [] as number[], warden: [] as number[] };
    for (let r = 0; r < ROUNDS; r++) {
      const order = r % 2 === 0 ? (['opa', 'warden'] as const) : (['warden', 'opa'] as const);
      for (const who of order) {
        const xs = await latencies(clients[who], PER_ROUND);
        all[who].push(...xs);
        p50s[who].push(summarize(xs).p50);
      }
    }
    const s = { opa: summarize(all.opa), warden: summarize(all.warden) };
    const p50Ratio = pairedRatio(p50s.warden, p50s.opa);
    log(
      table(
        ['target', 'p50 µs', 'p90 µs', 'p99 µs'],
        (['opa', 'warden'] as const).map((w) => [
          w === 'opa' ? 'opa run --server, direct' : 'warden agent, engine: opa',
          s[w].p50.toFixed(0),
          s[w].p90.toFixed(0),
          s[w].p99.toFixed(0),
        ]),
      ),
    );
    log(
      `latency warden/opa: p50 ${ratio(s.warden.p50 / s.opa.p50)} (paired per round ${ratio(p50Ratio)}), p90 ${ratio(s.warden.p90 / s.opa.p90)}, p99 ${ratio(s.warden.p99 / s.opa.p99)}; goal p50 ≤ ${GOAL}x: ${p50Ratio <= GOAL ? 'met' : 'not met'}`,
    );
    clients.opa.close();
    clients.warden.close();
    const throughput: Array<{ connections: number; opa: number; warden: number }> = [];
    for (const c of CONNECTIONS) {
      const rps: Record<string, number> = {};
      for (const t of [opa, warden]) {
        const run = await runLoad(t, {
          path: PATH,
          connections: c,
          pipelining: 1,
          durationSeconds: LOAD_SECONDS,
          cases: INPUTS.map((i) => ({ body: JSON.stringify({ input: i.input }), expect: i.expect })),
        });
        rps[t.name] = run.load.completed / LOAD_SECONDS;
      }
      throughput.push({ connections: c, opa: rps['opa-direct'] ?? NaN, warden: rps['warden-engine-opa'] ?? NaN });
    }
    log(
      table(
        ['connections', 'opa direct req/s', 'warden engine: opa req/s', 'warden/opa'],
        throughput.map((t) => [String(t.connections), t.opa.toFixed(0), t.warden.toFixed(0), ratio(t.warden / t.opa)]),
      ),
    );
    const file = await writeResults('opa-engine-http', {
      machine: machineInfo(),
      latency: { opa: s.opa, warden: s.warden, pairedP50Ratio: p50Ratio },
      throughput,
    });
    log(`raw figures: ${file}`);
  } finally {
    await stopAll(servers.map((t) => t.proc));
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
