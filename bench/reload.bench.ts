/**
 * Issue 4, ConfigMap change → first decision: how long after the kubelet
 * renames `..data` to a new version of a ConfigMap volume a `warden agent`
 * with a `directory` source answers a decision from it, over 30 changes, split
 * into detection, build, store + activation and visibility. Goal: p99 under
 * 1 s on this machine.
 *
 * Three agents (real processes) run side by side, changes alternating between
 * them, so all see the same machine at the same time:
 *   - ConfigMap, debounce 200 ms (the default) and rescan 10 s (the default);
 *   - ConfigMap, debounce 50 ms;
 *   - baseline: a `file` source on the same policy prebuilt and signed, swapped
 *     atomically (poll 50 ms): the same reload path without a build.
 * The ConfigMap holds examples/authz (warden.yaml, policy, tests, data.json)
 * and each change sets `authz.bench_version` in data.json, written by the
 * kubelet imitation (test/helpers/kubelet.ts). A client asks the agent every
 * ~5 ms and stops at the first answer from another pack digest. Phases come
 * from the agent's log times (pino isoTime, ms): rename → `policy folder
 * changed; building` (detection: events, debounce, snapshot, digest); → the
 * start of the activator's work (build: `policy reloaded` time minus its
 * duration_ms); duration_ms (verify, load, golden, store, swap); → the
 * client's first new answer (visible). Also in the same run: `warden pack
 * build` on the same folder as a command, `buildPack` in-process, and a
 * profile of the build's steps.
 *
 * Run: `npm run bench:reload`. Prints tables; raw figures go to bench/results/.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { IncomingHttpHeaders } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { prepareCandidate } from '../src/activate/prepare.js';
import { loadWasmEngine } from '../src/engine/wasm.js';
import { opaBuildWasm, opaTest } from '../src/opa/compile.js';
import { locateOpa } from '../src/opa/locate.js';
import { buildPack } from '../src/pack/build.js';
import { readPack } from '../src/pack/reader.js';
import { writeFileAtomic } from '../src/util/atomic-write.js';
import { writeConfigMap } from '../test/helpers/kubelet.js';
import { timeCommand } from './lib/child.js';
import {
  buildSignedExample,
  EXAMPLE_DIR,
  exampleVersion,
  INPUTS,
  publish,
  publishable,
  signingKey,
  type Publishable,
} from './lib/example.js';
import { KeepAliveClient, pollUntil } from './lib/http.js';
import { machineInfo } from './lib/machine.js';
import { startWardenAgent, stopAll, WARDEN_BIN, type ServerProcess } from './lib/procs.js';
import { ms, ratio, table, writeResults } from './lib/report.js';
import { summarize, type Summary } from './lib/stats.js';

const GOAL_P99_MS = 1000;
const CHANGES = 30;
const WARMUP = 2;
const PROFILE_ITERATIONS = 15;
const CLIENT_INTERVAL_MS = 5;
const TIMEOUT_MS = 15_000;
const PAUSE_MS = { min: 200, spread: 600 };
const ENTRYPOINT = 'authz/allow';
const EXAMPLE_FILES = ['warden.yaml', 'policy.rego', 'policy_test.rego', 'data.json'] as const;

/** One agent under test. */
interface Mode {
  readonly name: string;
  readonly kind: 'configmap' | 'file';
  /** The ConfigMap folder or the pack file, under the run's folder. */
  readonly target: (dir: string) => string;
  /** The source block of the agent configuration (indented under `source:`). */
  readonly source: (target: string) => readonly string[];
  readonly summary: string;
}

const MODES: readonly Mode[] = [
  {
    name: 'ConfigMap, debounce 200 ms',
    kind: 'configmap',
    target: (dir) => join(dir, 'cm-default'),
    source: (target) => ['directory:', `  path: ${target}`],
    summary: 'directory source, debounce_ms 200 and rescan_seconds 10 (the defaults)',
  },
  {
    name: 'ConfigMap, debounce 50 ms',
    kind: 'configmap',
    target: (dir) => join(dir, 'cm-fast'),
    source: (target) => ['directory:', `  path: ${target}`, '  debounce_ms: 50'],
    summary: 'directory source, debounce_ms 50, rescan_seconds 10',
  },
  {
    name: 'baseline: file source, prebuilt',
    kind: 'file',
    target: (dir) => join(dir, 'file', 'authz.tar.gz'),
    source: (target) => ['file:', `  path: ${target}`, '  poll_seconds: 0.05'],
    summary: 'file source on a signed pack built beforehand, replaced by rename; poll_seconds 0.05',
  },
];

/** A running agent for one mode. */
interface ModeAgent {
  readonly mode: Mode;
  readonly proc: ServerProcess;
  readonly client: KeepAliveClient;
  /** The ConfigMap folder or the pack file. */
  readonly target: string;
  digest: string;
}

/** One change and what the agent did with it (ms; undefined where a log line was missing). */
interface Sample {
  readonly mode: string;
  readonly version: number;
  readonly totalMs: number | undefined;
  /** `..data` (or pack) renamed → `policy folder changed; building` (or `policy pack changed on disk`). */
  readonly detectMs: number | undefined;
  /** → the activator starts (`policy reloaded` time − its duration_ms): the build, for a folder. */
  readonly buildMs: number | undefined;
  /** `policy reloaded` duration_ms: verify, safe read, engine, golden cases, store commit, swap. */
  readonly activateMs: number | undefined;
  /** `policy reloaded` logged → the client's first answer from the new digest. */
  readonly visibleMs: number | undefined;
  readonly requests: number;
}

// Wall-clock milliseconds (the clock the agent's log times use) at a performance.now() instant.
function wall(at: number): number {
  return performance.timeOrigin + at;
}

// The ConfigMap's files for version n: examples/authz with authz.bench_version = n in data.json.
function configMapFiles(example: ReadonlyMap<string, string>, n: number): Record<string, string> {
  const files = Object.fromEntries(example);
  const data = JSON.parse(files['data.json'] ?? '{}') as { authz: Record<string, unknown> };
  data.authz['bench_version'] = n;
  files['data.json'] = `${JSON.stringify(data, null, 2)}\n`;
  return files;
}

// The agent configuration for one mode.
function agentConfig(dir: string, mode: Mode, publicPath: string, index: number): string {
  return [
    'listen: 127.0.0.1:0',
    `data_dir: ${join(dir, `data-${index}`)}`,
    'log_level: info',
    'packs:',
    '  - name: authz',
    '    source:',
    ...mode.source(mode.target(dir)).map((l) => `      ${l}`),
    '    verify:',
    ...(mode.kind === 'file' ? [`      public_keys: [${publicPath}]`] : ['      unsigned: true']),
  ].join('\n');
}

// Asks every CLIENT_INTERVAL_MS until an answer comes from a digest other than `previous`.
async function firstNewDecision(
  client: KeepAliveClient,
  previous: string,
): Promise<{ at: number; digest: string; requests: number } | undefined> {
  const accept = (h: IncomingHttpHeaders): string | undefined => {
    const digest = h['x-warden-digest'];
    return typeof digest === 'string' && digest !== previous ? digest : undefined;
  };
  const seen = await pollUntil(client, `/v1/data/${ENTRYPOINT}`, { input: INPUTS[0]?.input }, accept, {
    intervalMs: CLIENT_INTERVAL_MS,
    timeoutMs: TIMEOUT_MS,
  });
  return seen && { at: seen.at, digest: seen.value, requests: seen.requests };
}

// The log times (wall ms) of the change noticed and of the reload that activated `digest`, and its duration_ms.
async function logTimes(
  proc: ServerProcess,
  from: number,
  digest: string,
): Promise<{ changedAt?: number; reloadedAt?: number; durationMs?: number }> {
  for (let i = 0; i < 100; i++) {
    const lines = proc.jsonLines(from).map((l) => l.entry);
    const reloaded = lines.find((l) => l['msg'] === 'policy reloaded' && l['digest'] === digest);
    if (reloaded) {
      const id = reloaded['correlation_id'];
      const changed = lines.find(
        (l) =>
          (l['msg'] === 'policy folder changed; building' || l['msg'] === 'policy pack changed on disk') &&
          l['correlation_id'] === id,
      );
      const d = reloaded['duration_ms'];
      return {
        reloadedAt: Date.parse(String(reloaded['time'])),
        ...(changed ? { changedAt: Date.parse(String(changed['time'])) } : {}),
        ...(typeof d === 'number' ? { durationMs: d } : {}),
      };
    }
    await sleep(10);
  }
  return {};
}

// Applies version n to one agent's source and times it to the first decision from it.
async function measureOne(
  a: ModeAgent,
  n: number,
  example: ReadonlyMap<string, string>,
  packs: ReadonlyMap<number, Publishable>,
): Promise<Sample> {
  const from = a.proc.lines.length;
  let renamedAt = NaN;
  const seen = firstNewDecision(a.client, a.digest); // polling before the rename: no time lost after it
  if (a.mode.kind === 'configmap') {
    const w = await writeConfigMap(a.target, configMapFiles(example, n));
    renamedAt = w.renamedAt ?? NaN;
  } else {
    const p = packs.get(n);
    if (!p) throw new Error(`no pack for version ${n}`);
    await publish(a.target, p, () => {
      renamedAt = performance.now();
    });
  }
  const got = await seen;
  if (got) a.digest = got.digest;
  const logs = got ? await logTimes(a.proc, from, got.digest) : {};
  const d = (x: number | undefined, y: number | undefined): number | undefined =>
    x === undefined || y === undefined ? undefined : x - y;
  const startedAt =
    logs.reloadedAt !== undefined && logs.durationMs !== undefined ? logs.reloadedAt - logs.durationMs : undefined;
  return {
    mode: a.mode.name,
    version: n,
    totalMs: got ? got.at - renamedAt : undefined,
    detectMs: d(logs.changedAt, wall(renamedAt)),
    buildMs: d(startedAt, logs.changedAt),
    activateMs: logs.durationMs,
    visibleMs: got ? d(wall(got.at), logs.reloadedAt) : undefined,
    requests: got?.requests ?? 0,
  };
}

/** The build measured on its own, on the same folder. */
interface BuildSample {
  readonly cliMs: number;
  readonly inProcessMs: number;
}

// `warden pack build` (a fresh Node, as a CI job or an operator runs it) and `buildPack` in this process, on version n.
async function measureBuilds(dir: string, example: ReadonlyMap<string, string>, n: number): Promise<BuildSample> {
  const folder = join(dir, 'plain');
  await rm(folder, { recursive: true, force: true });
  await mkdir(folder);
  for (const [name, content] of Object.entries(configMapFiles(example, n)))
    await writeFile(join(folder, name), content);
  const cliMs = timeCommand({
    label: 'cli',
    cmd: process.execPath,
    args: [WARDEN_BIN, 'pack', 'build', folder, '--out', join(dir, 'plain.tar.gz')],
  });
  const t0 = performance.now();
  await buildPack({ dir: folder, packName: 'authz' });
  return { cliMs, inProcessMs: performance.now() - t0 };
}

/** The build's steps, each alone. */
interface ProfileSample {
  readonly spawnFloorMs: number;
  readonly opaBuildMs: number;
  readonly opaTestMs: number;
  readonly wasmLoadMs: number;
  readonly buildPackMs: number;
  /** The activator's candidate for an unsigned pack: safe read, engine, golden cases. */
  readonly prepareMs: number;
  /** One crash-safe write of the pack (temp, fsync, rename, fsync folder); a store commit does two (blob, state.json). */
  readonly atomicWriteMs: number;
}

// Times `opa version` (spawning the Go binary), `opa build -t wasm`, `opa test`, loading the wasm, the whole
// buildPack, and two pieces of the activator's work: preparing the candidate and one crash-safe file write.
async function profileBuild(dir: string, example: ReadonlyMap<string, string>): Promise<ProfileSample[]> {
  const opa = locateOpa().path;
  const stage = join(dir, 'stage');
  const tests = join(dir, 'stage-tests');
  for (const d of [stage, tests]) await mkdir(d, { recursive: true });
  for (const name of ['policy.rego', 'data.json']) {
    for (const d of [stage, tests]) await writeFile(join(d, name), example.get(name) ?? '');
  }
  await writeFile(join(tests, 'policy_test.rego'), example.get('policy_test.rego') ?? '');
  await writeFile(join(stage, '.manifest'), JSON.stringify({ revision: 'profile', roots: ['authz'] }));
  const data = JSON.parse(example.get('data.json') ?? '{}') as Record<string, unknown>;
  const samples: ProfileSample[] = [];
  for (let i = 0; i < PROFILE_ITERATIONS + 1; i++) {
    const spawnFloorMs = timeCommand({ label: 'opa version', cmd: opa, args: ['version'] });
    let t = performance.now();
    const bundle = await opaBuildWasm(opa, stage, ['authz/allow', 'authz/reasons'], 'v1');
    const opaBuildMs = performance.now() - t;
    t = performance.now();
    await opaTest(opa, tests, ['.'], 'v1', (f) => f);
    const opaTestMs = performance.now() - t;
    const wasm = (await readPack(bundle, undefined, { opaOutput: true })).get('policy.wasm') ?? Buffer.alloc(0);
    t = performance.now();
    await loadWasmEngine(wasm, data);
    const wasmLoadMs = performance.now() - t;
    t = performance.now();
    const built = await buildPack({ dir: join(dir, 'plain'), packName: 'authz' });
    const buildPackMs = performance.now() - t;
    t = performance.now();
    await prepareCandidate('authz', built.bytes, undefined, { kind: 'unsigned' }, {});
    const prepareMs = performance.now() - t;
    t = performance.now();
    await writeFileAtomic(join(dir, 'store-probe.tar.gz'), built.bytes);
    const atomicWriteMs = performance.now() - t;
    if (i > 0) samples.push({ spawnFloorMs, opaBuildMs, opaTestMs, wasmLoadMs, buildPackMs, prepareMs, atomicWriteMs });
  }
  return samples;
}

/** Figures of one mode. */
interface ModeResult {
  readonly mode: string;
  readonly kind: Mode['kind'];
  readonly settings: string;
  readonly failures: number;
  readonly total: Summary;
  readonly detect?: Summary;
  readonly build?: Summary;
  readonly activate?: Summary;
  readonly visible?: Summary;
}

// Summaries of one mode's samples.
function summarizeMode(mode: Mode, samples: readonly Sample[]): ModeResult {
  const mine = samples.filter((s) => s.mode === mode.name);
  const of = (f: (s: Sample) => number | undefined): number[] =>
    mine.map(f).filter((x): x is number => x !== undefined && Number.isFinite(x));
  const opt = (xs: number[]): Summary | undefined => (xs.length > 0 ? summarize(xs) : undefined);
  const totals = of((s) => s.totalMs);
  const parts = {
    detect: opt(of((s) => s.detectMs)),
    build: opt(of((s) => s.buildMs)),
    activate: opt(of((s) => s.activateMs)),
    visible: opt(of((s) => s.visibleMs)),
  };
  return {
    mode: mode.name,
    kind: mode.kind,
    settings: mode.summary,
    failures: mine.length - totals.length,
    total: summarize(totals.length > 0 ? totals : [NaN]),
    ...Object.fromEntries(Object.entries(parts).filter(([, v]) => v !== undefined)),
  };
}

// The readable report.
function render(
  results: readonly ModeResult[],
  builds: readonly BuildSample[],
  profile: readonly ProfileSample[],
): string {
  const out: string[] = [];
  const triple = (s: Summary | undefined): string => (s ? `${ms(s.p50)} / ${ms(s.p99)} / ${ms(s.max)}` : 'n/a');
  out.push(
    `## Change renamed in → first decision from it, ms (${CHANGES} changes per agent; n = ${CHANGES}: p99 is the largest)\n`,
  );
  out.push(
    table(
      ['agent', 'n', 'failed', 'p50', 'p90', 'p99', 'max', `goal p99 < ${GOAL_P99_MS} ms`],
      results.map((r) => [
        r.mode,
        String(r.total.n),
        String(r.failures),
        ms(r.total.p50),
        ms(r.total.p90),
        ms(r.total.p99),
        ms(r.total.max),
        r.kind === 'configmap' ? (r.failures === 0 && r.total.p99 < GOAL_P99_MS ? 'met' : 'MISSED') : '',
      ]),
    ),
  );
  out.push('\n## Where the time goes, ms (p50 / p99 / max)\n');
  out.push(
    table(
      [
        'agent',
        'detection (rename → change logged)',
        'build (→ activator starts)',
        'store + activation (duration_ms)',
        'visible (→ client saw it)',
      ],
      results.map((r) => [r.mode, triple(r.detect), triple(r.build), triple(r.activate), triple(r.visible)]),
    ),
  );
  const base = results.find((r) => r.kind === 'file');
  if (base) {
    out.push('\n## ConfigMap / file-source baseline (same run)\n');
    out.push(
      table(
        ['agent', 'p50', 'p99', 'max'],
        results
          .filter((r) => r.kind === 'configmap')
          .map((r) => [
            r.mode,
            ratio(r.total.p50 / base.total.p50),
            ratio(r.total.p99 / base.total.p99),
            ratio(r.total.max / base.total.max),
          ]),
      ),
    );
  }
  const cli = summarize(builds.map((b) => b.cliMs));
  const inProc = summarize(builds.map((b) => b.inProcessMs));
  const agentBuild = results.find((r) => r.kind === 'configmap')?.build;
  out.push('\n## The build alone, same folder, ms\n');
  out.push(
    table(
      ['measurement', 'n', 'p50', 'p99', 'max'],
      [
        ['`warden pack build DIR --out FILE` (fresh Node)', String(cli.n), ms(cli.p50), ms(cli.p99), ms(cli.max)],
        ['`buildPack` in-process (this process)', String(inProc.n), ms(inProc.p50), ms(inProc.p99), ms(inProc.max)],
        ...(agentBuild
          ? [
              [
                'build phase inside the agent (debounce 200 ms agent)',
                String(agentBuild.n),
                ms(agentBuild.p50),
                ms(agentBuild.p99),
                ms(agentBuild.max),
              ],
            ]
          : []),
      ],
    ),
  );
  const col = (f: (p: ProfileSample) => number): Summary => summarize(profile.map(f));
  out.push(`\n## Profile of the build, each step alone, ms (${profile.length} iterations)\n`);
  out.push(
    table(
      ['step', 'p50', 'p99', 'max'],
      (
        [
          ['spawn floor: `opa version`', col((p) => p.spawnFloorMs)],
          ['`opa build -b . -t wasm -e authz/allow -e authz/reasons`', col((p) => p.opaBuildMs)],
          ['`opa test --format json .` (2 tests)', col((p) => p.opaTestMs)],
          ['`loadWasmEngine` (opa-wasm instantiate + data)', col((p) => p.wasmLoadMs)],
          ['`buildPack` whole (stage, build, test, repack, engine, 4 golden)', col((p) => p.buildPackMs)],
          ['activator: `prepareCandidate`, unsigned (safe read, engine, 4 golden)', col((p) => p.prepareMs)],
          [
            'activator: one `writeFileAtomic` of the pack (store commit does 2 + dir fsyncs)',
            col((p) => p.atomicWriteMs),
          ],
        ] as const
      ).map(([label, s]) => [label, ms(s.p50), ms(s.p99), ms(s.max)]),
    ),
  );
  return out.join('\n');
}

// Progress goes to stderr so stdout holds only the report.
function log(message: string): void {
  process.stderr.write(`bench reload: ${message}\n`);
}

// Starts one agent per mode on version 1.
async function startAll(
  dir: string,
  example: ReadonlyMap<string, string>,
  v1: Publishable,
  publicPath: string,
  procs: ServerProcess[],
): Promise<ModeAgent[]> {
  const agents: ModeAgent[] = [];
  for (const [i, mode] of MODES.entries()) {
    const target = mode.target(dir);
    if (mode.kind === 'configmap') await writeConfigMap(target, configMapFiles(example, 1));
    else {
      await mkdir(join(target, '..'), { recursive: true });
      await publish(target, v1);
    }
    const configPath = join(dir, `agent-${i}.yaml`);
    await writeFile(configPath, agentConfig(dir, mode, publicPath, i));
    const { proc, url } = await startWardenAgent(`agent (${mode.name})`, configPath);
    procs.push(proc);
    const client = new KeepAliveClient(url);
    const first = await client.post(`/v1/data/${ENTRYPOINT}`, { input: INPUTS[0]?.input });
    const digest = first.headers['x-warden-digest'];
    if (first.status !== 200 || typeof digest !== 'string')
      throw new Error(`${mode.name}: no decision at start (${first.status})`);
    agents.push({ mode, proc, client, target, digest });
  }
  return agents;
}

// Builds the file-source versions, starts the agents, changes each in turn, reports, stops everything.
async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'warden-bench-reload-'));
  const procs: ServerProcess[] = [];
  const agents: ModeAgent[] = [];
  try {
    const example = new Map<string, string>();
    for (const name of EXAMPLE_FILES) example.set(name, await readFile(join(EXAMPLE_DIR, name), 'utf8'));
    log('building and signing examples/authz for the file-source baseline…');
    const key = await signingKey(dir);
    const base = await buildSignedExample(dir, key);
    const total = WARMUP + CHANGES + 1;
    const packs = new Map<number, Publishable>();
    for (let n = 1; n <= total; n++) packs.set(n, await publishable(exampleVersion(base.built, n), key.privateKey));
    agents.push(...(await startAll(dir, example, packs.get(1) as Publishable, key.publicPath, procs)));

    const samples: Sample[] = [];
    const builds: BuildSample[] = [];
    for (let i = 0; i < WARMUP + CHANGES; i++) {
      const n = i + 2;
      const warm = i < WARMUP;
      // Rotate which case goes first; the two build baselines are one case.
      const cases: Array<ModeAgent | 'builds'> = [...agents, 'builds'];
      for (let k = 0; k < cases.length; k++) {
        const c = cases[(i + k) % cases.length] as ModeAgent | 'builds';
        if (c === 'builds') {
          const b = await measureBuilds(dir, example, n);
          if (!warm) builds.push(b);
          continue;
        }
        await sleep(PAUSE_MS.min + Math.random() * PAUSE_MS.spread);
        const s = await measureOne(c, n, example, packs);
        if (!warm) samples.push(s);
        log(
          `${warm ? 'warm-up ' : ''}${c.mode.name} #${n - 1}: ${s.totalMs === undefined ? 'NOT SEEN' : `${ms(s.totalMs)} ms`}`,
        );
      }
    }
    for (const a of agents) a.client.close();
    await stopAll(procs);
    log('profiling the build…');
    const profile = await profileBuild(dir, example);

    const results = MODES.map((m) => summarizeMode(m, samples));
    const machine = machineInfo();
    process.stdout.write(
      `# ConfigMap change → first decision benchmark\n\n${machine.cores} cores, ${machine.cpuModel}, Node ${machine.node}\n\n${render(results, builds, profile)}\n`,
    );
    const path = await writeResults('reload', {
      benchmark: 'reload',
      goalP99Ms: GOAL_P99_MS,
      date: new Date().toISOString(),
      machine,
      settings: {
        changes: CHANGES,
        warmup: WARMUP,
        clientIntervalMs: CLIENT_INTERVAL_MS,
        pauseMs: PAUSE_MS,
        modes: MODES.map((m) => ({ name: m.name, settings: m.summary })),
      },
      results,
      builds,
      profile,
      samples,
    });
    process.stdout.write(`\nraw figures: ${path}\n`);
  } finally {
    for (const a of agents) a.client.close();
    await stopAll(procs);
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
