/**
 * The OPA engine's decision overhead: `OpaSidecar.evaluate()` against a plain
 * keep-alive HTTP client POSTing the same request to the same OPA child (its
 * unix socket), in the same run, rounds interleaved (order alternating).
 * Goal: sidecar p50 within 1.1× of the plain client's.
 *
 * Run: `node --import tsx bench/opa-engine.bench.ts`. Prints a table; raw figures go to bench/results/.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createLogger } from '../src/observe/logger.js';
import { opaBundleOf } from '../src/opa-engine/bundle-of.js';
import { OpaSidecar } from '../src/opa-engine/sidecar.js';
import { machineInfo } from './lib/machine.js';
import { ratio, table, writeResults } from './lib/report.js';
import { pairedRatio, summarize } from './lib/stats.js';

const GOAL = 1.1;
const ROUNDS = 30;
const PER_ROUND = 200;
const WARMUP = 500;
const PATH = 'bench/allow';
const INPUT = '{"user":"alice","roles":["reader","writer"],"resource":{"owner":"alice","id":12345678901234567891}}';
const REGO = [
  'package bench',
  '',
  'default allow := false',
  '',
  'allow if input.user in data.bench.admins',
  '',
  'allow if {',
  '  "writer" in input.roles',
  '  input.resource.owner == input.user',
  '}',
  '',
].join('\n');

// The plain client: one keep-alive agent on the same socket, the same body, the result parsed out as text.
function plainClient(socketPath: string): (body: string) => Promise<string> {
  const agent = new Agent({ keepAlive: true });
  return (body) =>
    new Promise((resolve, reject) => {
      const req = request(
        {
          agent,
          socketPath,
          method: 'POST',
          path: `/v1/data/${PATH}`,
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(body);
    });
}

async function main(): Promise<void> {
  const runDir = await mkdtemp(join(tmpdir(), 'wob-'));
  const sidecar = new OpaSidecar({
    mode: 'child',
    runDir,
    packs: ['bench'],
    activationTimeoutMs: 30_000,
    logger: createLogger('warn'),
  });
  try {
    await sidecar.start();
    const files = new Map<string, Buffer>([
      ['bench/bench.rego', Buffer.from(REGO)],
      ['bench/data.json', Buffer.from(JSON.stringify({ admins: ['root'] }))],
    ]);
    await sidecar.deliver('bench', opaBundleOf(files, 'bench-1', ['bench']), 'bench-1');
    const plain = plainClient(join(runDir, 'opa.sock'));
    const body = `{"input":${INPUT}}`;
    const viaSidecar = (): Promise<unknown> => sidecar.evaluate(PATH, INPUT, 5000);
    const direct = (): Promise<unknown> => plain(body);
    if ((await viaSidecar()) !== 'true' || !(await plain(body)).includes('"result":true')) {
      throw new Error('the two clients do not both answer true');
    }
    for (let i = 0; i < WARMUP; i++) {
      await viaSidecar();
      await direct();
    }
    const times = { sidecar: [] as number[], direct: [] as number[] };
    const roundP50 = { sidecar: [] as number[], direct: [] as number[] };
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? (['sidecar', 'direct'] as const) : (['direct', 'sidecar'] as const);
      for (const which of order) {
        const call = which === 'sidecar' ? viaSidecar : direct;
        const laps: number[] = [];
        for (let i = 0; i < PER_ROUND; i++) {
          const t0 = performance.now();
          await call();
          laps.push(performance.now() - t0);
        }
        times[which].push(...laps);
        roundP50[which].push(summarize(laps).p50);
      }
    }
    const s = summarize(times.sidecar);
    const d = summarize(times.direct);
    const us = (x: number): string => `${(x * 1000).toFixed(1)} µs`;
    const paired = pairedRatio(roundP50.sidecar, roundP50.direct);
    console.log(`OPA engine decision overhead (${ROUNDS} rounds × ${PER_ROUND} sequential calls, interleaved)`);
    console.log(
      table(
        ['client', 'p50', 'p90', 'p99', 'max'],
        [
          ['sidecar.evaluate()', us(s.p50), us(s.p90), us(s.p99), us(s.max)],
          ['plain keep-alive POST', us(d.p50), us(d.p90), us(d.p99), us(d.max)],
          ['ratio', ratio(s.p50 / d.p50), ratio(s.p90 / d.p90), ratio(s.p99 / d.p99), ''],
        ],
      ),
    );
    console.log(
      `paired ratio of round p50s: ${ratio(paired)}; goal ≤ ${GOAL}× at p50: ${s.p50 / d.p50 <= GOAL ? 'met' : 'NOT met'}`,
    );
    const file = await writeResults('opa-engine', { machine: machineInfo(), sidecar: s, direct: d, paired });
    console.log(`raw figures: ${file}`);
  } finally {
    await sidecar.close();
    await rm(runDir, { recursive: true, force: true });
  }
}

await main();
