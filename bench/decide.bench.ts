/**
 * Issue 3, decision latency: Warden's in-process decision path
 * (`agent.decider.decide`) and its HTTP data API, on the example policy,
 * against raw opa-wasm `evaluate` on the same policy.wasm and data in the
 * same run. Goal: in-process within 1.2× of raw opa-wasm.
 *
 * Per-call times come from batches (BATCH calls timed together, divided), so
 * they sit well above the timer's resolution; batches of every case are
 * interleaved. The profile times the path's layers, copies of the decider
 * with one piece changed (bench/lib/decider-ablation.ts), and pieces alone.
 *
 * Run: `npm run bench:decide`. Prints tables; raw figures go to bench/results/.
 */
import { requireLocal } from '../src/engine/engine.js';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { loadPolicy } from '@open-policy-agent/opa-wasm';
import { buildSignedExample, ENTRYPOINT, INPUTS, signingKey, type SignedPack } from './lib/example.js';
import { ablationVariants } from './lib/decider-ablation.js';
import { checkDecisions, KeepAliveClient } from './lib/http.js';
import { machineInfo } from './lib/machine.js';
import { ratio, table, writeResults } from './lib/report.js';
import { pairedRatio, summarize, type Summary } from './lib/stats.js';
import { interleave, phase, type BenchCase, type Laps } from './lib/timing.js';
import { startAgent, type RunningAgent } from '../src/agent/agent.js';
import { parseConfig } from '../src/config/load.js';
import type { WasmEngine } from '../src/engine/wasm.js';
import { createLogger } from '../src/observe/logger.js';
import { assembleData } from '../src/pack/data.js';

const GOAL = 1.2;
/** Calls per timed batch (in-process). */
const BATCH = 1000;
/** Sequential requests per HTTP batch; each is also timed on its own. */
const HTTP_BATCH = 50;
const PLAN = { warmup: 30, iterations: 300 };
const PROFILE_PLAN = { warmup: 10, iterations: 150 };
const INPUT_VALUES = INPUTS.map((i) => i.input);
const COPY = 'copy of the former decide (prom-client histogram + randomUUID)';
const RAW = 'raw opa-wasm evaluate';

/** One decision on input: true when authz/allow is true (batches count them, so no call is dead code). */
type Body = (input: unknown) => boolean;

// A case timing BATCH calls of body over the inputs in turn; laps are microseconds per call.
function batchCase(name: string, body: Body, expectTrue: number): BenchCase {
  return {
    name,
    run(): Laps {
      let trues = 0;
      const start = performance.now();
      for (let i = 0; i < BATCH; i++) if (body(INPUT_VALUES[i % INPUT_VALUES.length])) trues++;
      const us = ((performance.now() - start) * 1000) / BATCH;
      if (trues !== expectTrue) throw new Error(`${name}: ${trues} allows in a batch, expected ${expectTrue}`);
      return { total: us };
    },
  };
}

// HTTP_BATCH sequential keep-alive requests; `total` is µs per request over the batch, `req<i>` each request.
function httpCase(client: KeepAliveClient): BenchCase {
  return {
    name: 'http',
    async run(): Promise<Laps> {
      const laps: Record<string, number> = {};
      const start = performance.now();
      for (let i = 0; i < HTTP_BATCH; i++) {
        const t = performance.now();
        const res = await client.post(`/v1/data/${ENTRYPOINT}`, { input: INPUT_VALUES[i % INPUT_VALUES.length] });
        laps[`req${i}`] = (performance.now() - t) * 1000;
        if (res.status !== 200) throw new Error(`http: status ${res.status}`);
      }
      return { ...laps, total: ((performance.now() - start) * 1000) / HTTP_BATCH };
    },
  };
}

/** The running pieces: the agent, raw opa-wasm and Warden's engine. */
interface Subjects {
  readonly agent: RunningAgent;
  readonly raw: Body;
  readonly engine: WasmEngine;
}

// Starts an in-process agent on the signed pack (file source) and loads raw opa-wasm on the same wasm and data.
async function subjects(dir: string, pack: SignedPack, publicPath: string): Promise<Subjects> {
  const yaml = [
    'listen: 127.0.0.1:0',
    `data_dir: ${join(dir, 'data')}`,
    'log_level: silent',
    // The synchronous in-process API: every engine on this thread.
    'decision_workers: 0',
    'packs:',
    '  - name: authz',
    '    source:',
    `      file: { path: ${pack.path}, poll_seconds: 60 }`,
    '    verify:',
    `      public_keys: [${publicPath}]`,
  ].join('\n');
  const agent = await startAgent(parseConfig(yaml, join(dir, 'agent.yaml')), createLogger('silent'));
  const active = agent.packs[0]?.activator.current;
  if (!active) throw new Error('the agent has no active pack');
  const engine = requireLocal(active.engine, active.name);
  const wasm = pack.built.files.get('policy.wasm');
  if (!wasm) throw new Error('the pack has no policy.wasm');
  const policy = await loadPolicy(Uint8Array.from(wasm).buffer);
  policy.setData(assembleData(pack.built.files));
  const raw: Body = (input) => (policy.evaluate(input, ENTRYPOINT) as Array<{ result: unknown }>)[0]?.result === true;
  return { agent, raw, engine };
}

// Warden's engine alone (what the decider wraps): true when authz/allow is true.
function engineAllows(engine: WasmEngine, input: unknown): boolean {
  const e = engine.evaluate(ENTRYPOINT, input);
  return e.defined && e.result === true;
}

// Every subject answers every example input as expected, in-process and over HTTP.
async function checkSubjects(s: Subjects, client: KeepAliveClient): Promise<void> {
  for (const c of INPUTS) {
    const got = [
      s.raw(c.input),
      s.agent.decider.decide(ENTRYPOINT, c.input).result === true,
      engineAllows(s.engine, c.input),
    ];
    if (got.some((g) => g !== c.expect))
      throw new Error(`"${c.label}": raw/decider/engine answered ${got.join('/')}, expected ${c.expect}`);
  }
  await checkDecisions(client, `/v1/data/${ENTRYPOINT}`, INPUTS, 'the agent');
}

// The profile: the path's layers, copies of the decider with one piece taken out, and pieces alone.
function profileCases(s: Subjects, expectTrue: number): BenchCase[] {
  const activator = s.agent.packs[0]?.activator;
  if (!activator) throw new Error('the agent has no pack');
  const histogram = s.agent.metrics.decisionDuration.series({ pack: 'authz', engine: 'wasm' });
  let sink = 0;
  const piece = (name: string, fn: () => void): BenchCase => ({
    name,
    run(): Laps {
      const start = performance.now();
      for (let i = 0; i < BATCH; i++) fn();
      return { total: ((performance.now() - start) * 1000) / BATCH };
    },
  });
  return [
    batchCase(RAW, s.raw, expectTrue),
    batchCase('Warden engine.evaluate (src/engine/wasm.ts)', (input) => engineAllows(s.engine, input), expectTrue),
    batchCase(
      'decider.decide (src/decide/decider.ts)',
      (input) => s.agent.decider.decide(ENTRYPOINT, input).result === true,
      expectTrue,
    ),
    ...ablationVariants(activator, s.agent.metrics).map(([name, decide]) =>
      batchCase(name, (input) => decide(ENTRYPOINT, input).result === true, expectTrue),
    ),
    piece('alone: randomUUID()', () => void (sink += randomUUID().length)),
    piece('alone: 2 × hrtime.bigint() + Number()', () => {
      const t = process.hrtime.bigint();
      sink += Number(process.hrtime.bigint() - t);
    }),
    piece('alone: prom-client child observe()', () => histogram.observe(4e-6)),
    piece(
      'alone: JSON.stringify(input)',
      () => void (sink += JSON.stringify(INPUT_VALUES[sink % INPUT_VALUES.length]).length),
    ),
  ];
}

/** Everything this run measured. */
interface DecideResult {
  readonly perCallUs: Record<string, Summary>;
  readonly httpRequestUs: Summary;
  readonly ratios: {
    p50: number;
    p99: number;
    paired: number;
    httpVsInProcessP50: number;
    httpVsInProcessP99: number;
    httpBatchVsInProcessP50: number;
  };
  readonly profileUs: Record<string, Summary>;
  /** Each profile case over raw opa-wasm: median of the ratios within the same iteration. */
  readonly profileVsRaw: Record<string, number>;
  readonly samples: Record<string, Laps[]>;
  readonly profileSamples: Record<string, Laps[]>;
}

// The main interleaved run, then the profile.
async function measure(s: Subjects, client: KeepAliveClient): Promise<DecideResult> {
  const expectTrue = Array.from({ length: BATCH }, (_, i) => INPUTS[i % INPUTS.length]?.expect).filter(Boolean).length;
  log(
    `interleaved: ${PLAN.warmup} warm-up + ${PLAN.iterations} iterations of raw, Warden (${BATCH} calls each) and HTTP (${HTTP_BATCH} requests)…`,
  );
  const main = await interleave(
    [
      batchCase('raw', s.raw, expectTrue),
      batchCase('warden', (input) => s.agent.decider.decide(ENTRYPOINT, input).result === true, expectTrue),
      httpCase(client),
    ],
    PLAN,
  );
  const get = (name: string): Laps[] => main.get(name) ?? [];
  const raw = phase(get('raw'), 'total');
  const warden = phase(get('warden'), 'total');
  const httpBatch = phase(get('http'), 'total');
  const httpEach = get('http').flatMap((l) =>
    Object.entries(l)
      .filter(([k]) => k !== 'total')
      .map(([, v]) => v),
  );
  const perCallUs = { raw: summarize(raw), warden: summarize(warden), 'http (batch mean)': summarize(httpBatch) };
  const httpRequestUs = summarize(httpEach);
  log(`profile: ${PROFILE_PLAN.warmup} warm-up + ${PROFILE_PLAN.iterations} iterations…`);
  const profile = await interleave(profileCases(s, expectTrue), PROFILE_PLAN);
  const profileUs = Object.fromEntries([...profile].map(([k, laps]) => [k, summarize(phase(laps, 'total'))]));
  const rawProfile = phase(profile.get(RAW) ?? [], 'total');
  const profileVsRaw = Object.fromEntries(
    [...profile]
      .filter(([k]) => !k.startsWith('alone'))
      .map(([k, laps]) => [k, pairedRatio(phase(laps, 'total'), rawProfile)]),
  );
  return {
    perCallUs,
    httpRequestUs,
    ratios: {
      p50: perCallUs.warden.p50 / perCallUs.raw.p50,
      p99: perCallUs.warden.p99 / perCallUs.raw.p99,
      paired: pairedRatio(warden, raw),
      httpVsInProcessP50: httpRequestUs.p50 / perCallUs.warden.p50,
      httpVsInProcessP99: httpRequestUs.p99 / perCallUs.warden.p99,
      httpBatchVsInProcessP50: perCallUs['http (batch mean)'].p50 / perCallUs.warden.p50,
    },
    profileUs,
    profileVsRaw,
    samples: Object.fromEntries(main),
    profileSamples: Object.fromEntries(profile),
  };
}

// Microseconds with a precision that suits their size.
function us(v: number): string {
  return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
}

// The readable report.
function render(r: DecideResult): string {
  const row = (label: string, s: Summary | undefined, note = ''): string[] =>
    s ? [label, String(s.n), us(s.p50), us(s.p99), us(s.max), note] : [label];
  const out: string[] = [];
  out.push('## Decision latency, µs per decision (in-process: per-call time of each batch)\n');
  out.push(
    table(
      ['measurement', 'n', 'p50', 'p99', 'max', 'unit of n'],
      [
        row('raw opa-wasm `policy.evaluate(input, "authz/allow")`', r.perCallUs['raw'], `batches of ${BATCH}`),
        row('Warden in-process `agent.decider.decide`', r.perCallUs['warden'], `batches of ${BATCH}`),
        row('Warden HTTP `POST /v1/data/authz/allow`, keep-alive', r.httpRequestUs, 'single requests'),
        row('Warden HTTP, mean of each batch', r.perCallUs['http (batch mean)'], `batches of ${HTTP_BATCH}`),
      ],
    ),
  );
  out.push(`\n## Ratios (goal: in-process ≤ ${GOAL}× raw opa-wasm)\n`);
  const met = r.ratios.p50 <= GOAL && r.ratios.p99 <= GOAL;
  out.push(
    table(
      ['comparison', 'p50', 'p99', 'median of paired batches', 'goal'],
      [
        [
          'Warden in-process / raw opa-wasm',
          ratio(r.ratios.p50),
          ratio(r.ratios.p99),
          ratio(r.ratios.paired),
          met ? 'met' : 'MISSED',
        ],
        [
          'Warden HTTP (single requests) / in-process',
          ratio(r.ratios.httpVsInProcessP50),
          ratio(r.ratios.httpVsInProcessP99),
          '',
          'none',
        ],
        ['Warden HTTP (batch means) / in-process', ratio(r.ratios.httpBatchVsInProcessP50), '', '', 'none'],
      ],
    ),
  );
  out.push(
    `\n## Profile: the path's layers, copies of decide with one piece changed, pieces alone (µs per call, batches of ${BATCH})\n`,
  );
  out.push(
    table(
      ['case', 'n', 'p50', 'p99', 'max', 'p50 − copy of decide', 'paired ratio to raw'],
      Object.entries(r.profileUs).map(([k, s]) => [
        ...row(k, s, k.startsWith('  ') ? us(s.p50 - (r.profileUs[COPY]?.p50 ?? NaN)) : ''),
        r.profileVsRaw[k] === undefined ? '' : ratio(r.profileVsRaw[k]),
      ]),
    ),
  );
  return out.join('\n');
}

// Progress goes to stderr so stdout holds only the report.
function log(message: string): void {
  process.stderr.write(`bench decide: ${message}\n`);
}

// Builds and signs the example, starts the agent, measures, reports, cleans up.
async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'warden-bench-decide-'));
  let agent: RunningAgent | undefined;
  let client: KeepAliveClient | undefined;
  try {
    log('building and signing examples/authz…');
    const key = await signingKey(dir);
    const pack = await buildSignedExample(dir, key);
    const s = await subjects(dir, pack, key.publicPath);
    agent = s.agent;
    client = new KeepAliveClient(s.agent.url);
    await checkSubjects(s, client);
    const result = await measure(s, client);
    const machine = machineInfo();
    process.stdout.write(
      `# Decision latency benchmark\n\n${machine.cores} cores, ${machine.cpuModel}, Node ${machine.node}; opa-wasm ${await opaWasmVersion()}\n\n${render(result)}\n`,
    );
    const path = await writeResults('decide', {
      benchmark: 'decide',
      goal: GOAL,
      date: new Date().toISOString(),
      machine,
      batch: BATCH,
      httpBatch: HTTP_BATCH,
      plan: PLAN,
      inputs: INPUTS,
      packDigest: pack.built.digest,
      ...result,
    });
    process.stdout.write(`\nraw figures: ${path}\n`);
  } finally {
    client?.close();
    await agent?.close();
    await rm(dir, { recursive: true, force: true });
  }
}

// The installed @open-policy-agent/opa-wasm version, for the record.
async function opaWasmVersion(): Promise<string> {
  const pkg = JSON.parse(
    await readFile(new URL('../node_modules/@open-policy-agent/opa-wasm/package.json', import.meta.url), 'utf8'),
  ) as { version: string };
  return pkg.version;
}

await main();
