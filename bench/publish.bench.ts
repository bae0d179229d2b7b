/**
 * Issue 3, publish → first decision: how long after a new pack is renamed
 * into a `warden pack serve` folder a `warden agent` answers a decision from
 * it, with plain polling and with long polling, 20 publishes each. Goal: p99
 * within 2 s with long polling.
 *
 * One pack server and two agent processes (one per mode, each on its own pack
 * file), publishes alternating between them, so both modes see the same
 * machine at the same time. Before each publish the benchmark waits a random
 * 250–2250 ms, so a publish lands at a random point of the poll cycle. A
 * client asks the agent for a decision every ~5 ms and stops at the first
 * answer whose `x-warden-revision` names the new version. The agent's log
 * lines (`policy pack fetched`, `policy reloaded` with duration_ms) split the
 * time into wait + fetch, reload, and until the client saw it.
 *
 * Run: `npm run bench:publish`. Prints tables; raw figures go to bench/results/.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { IncomingHttpHeaders } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { ENTRYPOINT, INPUTS, publish, type Publishable, signedVersions } from './lib/example.js';
import { KeepAliveClient, pollUntil } from './lib/http.js';
import { machineInfo } from './lib/machine.js';
import { startPackServer, startWardenAgent, stopAll, type ServerProcess } from './lib/procs.js';
import { ms, ratio, table, writeResults } from './lib/report.js';
import { summarize, type Summary } from './lib/stats.js';

const GOAL_P99_MS = 2000;
const PUBLISHES = 20;
const CLIENT_INTERVAL_MS = 5;
const TIMEOUT_MS = 20_000;
const PAUSE_MS = { min: 250, spread: 2000 };

/** One way of fetching, with the agent configuration lines that select it. */
interface Mode {
  readonly name: 'poll' | 'long poll';
  readonly file: string;
  /** What the settings mean, for the report. */
  readonly summary: string;
  readonly http: readonly string[];
}

const MODES: readonly Mode[] = [
  {
    name: 'poll',
    file: 'authz-poll',
    summary: 'next poll 1–2 s after the last',
    http: ['poll_min_seconds: 1', 'poll_max_seconds: 2', 'long_poll_seconds: 0'],
  },
  {
    name: 'long poll',
    file: 'authz-long',
    summary: 'held up to 30 s, re-asked at once',
    http: ['long_poll_seconds: 30'],
  },
];

/** A running agent for one mode. */
interface ModeAgent {
  readonly mode: Mode;
  readonly proc: ServerProcess;
  readonly client: KeepAliveClient;
  readonly target: string;
}

/** One publish and what the agent did with it (ms; undefined when a log line was not found). */
interface Sample {
  readonly mode: Mode['name'];
  readonly version: number;
  readonly totalMs: number | undefined;
  /** Pack renamed → agent logged `policy pack fetched` (poll wait, server notice, pack + signature download). */
  readonly fetchMs: number | undefined;
  /** The agent's `policy reloaded` duration_ms (verify, read, engine, golden, store, swap). */
  readonly reloadMs: number | undefined;
  /** `policy reloaded` logged → the client's first answer from the new version. */
  readonly visibleMs: number | undefined;
  readonly requests: number;
}

// The agent configuration for one mode.
function agentConfig(dir: string, serverUrl: string, publicPath: string, mode: Mode): string {
  return [
    'listen: 127.0.0.1:0',
    `data_dir: ${join(dir, `data-${mode.file}`)}`,
    'log_level: info',
    'packs:',
    '  - name: authz',
    '    source:',
    '      http:',
    `        url: ${serverUrl}/v1/policy/packs/${mode.file}`,
    ...mode.http.map((l) => `        ${l}`),
    '    verify:',
    `      public_keys: [${publicPath}]`,
  ].join('\n');
}

// Asks the agent every CLIENT_INTERVAL_MS until it answers from `revision`; returns when that answer arrived.
async function firstDecisionFrom(
  client: KeepAliveClient,
  revision: string,
): Promise<{ at: number; requests: number } | undefined> {
  const accept = (h: IncomingHttpHeaders): true | undefined => (h['x-warden-revision'] === revision ? true : undefined);
  return pollUntil(client, `/v1/data/${ENTRYPOINT}`, { input: INPUTS[0]?.input }, accept, {
    intervalMs: CLIENT_INTERVAL_MS,
    timeoutMs: TIMEOUT_MS,
  });
}

// The agent's log lines about `revision`: when the fetch and the reload were logged, and the reload's own duration.
async function logTimes(
  proc: ServerProcess,
  from: number,
  revision: string,
): Promise<{ fetchedAt?: number; reloadedAt?: number; durationMs?: number }> {
  for (let i = 0; i < 100; i++) {
    const lines = proc.jsonLines(from);
    const reloaded = lines.find((l) => l.entry['msg'] === 'policy reloaded' && l.entry['revision'] === revision);
    if (reloaded) {
      const id = reloaded.entry['correlation_id'];
      const fetched = lines.find((l) => l.entry['msg'] === 'policy pack fetched' && l.entry['correlation_id'] === id);
      const d = reloaded.entry['duration_ms'];
      return {
        reloadedAt: reloaded.at,
        ...(fetched ? { fetchedAt: fetched.at } : {}),
        ...(typeof d === 'number' ? { durationMs: d } : {}),
      };
    }
    await sleep(10);
  }
  return {};
}

// Publishes version n for one mode's agent and times it to the first decision.
async function measureOne(a: ModeAgent, n: number, p: Publishable): Promise<Sample> {
  const revision = `bench-${n}`;
  const from = a.proc.lines.length;
  let t0 = NaN;
  await publish(a.target, p, () => {
    t0 = performance.now();
  });
  const seen = await firstDecisionFrom(a.client, revision);
  const logs = await logTimes(a.proc, from, revision);
  const d = (x: number | undefined, y: number | undefined): number | undefined =>
    x === undefined || y === undefined ? undefined : x - y;
  return {
    mode: a.mode.name,
    version: n,
    totalMs: d(seen?.at, t0),
    fetchMs: d(logs.fetchedAt, t0),
    reloadMs: logs.durationMs,
    visibleMs: d(seen?.at, logs.reloadedAt),
    requests: seen?.requests ?? 0,
  };
}

/** Figures of one mode. */
interface ModeResult {
  readonly mode: Mode['name'];
  readonly settings: string;
  readonly failures: number;
  readonly total: Summary;
  readonly fetch?: Summary;
  readonly reload?: Summary;
  readonly visible?: Summary;
}

// Summaries of one mode's samples.
function summarizeMode(mode: Mode, samples: readonly Sample[]): ModeResult {
  const mine = samples.filter((s) => s.mode === mode.name);
  const of = (f: (s: Sample) => number | undefined): number[] =>
    mine.map(f).filter((x): x is number => x !== undefined);
  const opt = (xs: number[]): Summary | undefined => (xs.length > 0 ? summarize(xs) : undefined);
  const fetch = opt(of((s) => s.fetchMs));
  const reload = opt(of((s) => s.reloadMs));
  const visible = opt(of((s) => s.visibleMs));
  const totals = of((s) => s.totalMs);
  return {
    mode: mode.name,
    settings: `${mode.summary} (${mode.http.join(', ')})`,
    failures: mine.length - totals.length,
    total: summarize(totals.length > 0 ? totals : [NaN]),
    ...(fetch ? { fetch } : {}),
    ...(reload ? { reload } : {}),
    ...(visible ? { visible } : {}),
  };
}

// The readable report.
function render(results: readonly ModeResult[]): string {
  const out: string[] = [];
  const cells = (s: Summary | undefined): string[] => (s ? [ms(s.p50), ms(s.p99), ms(s.max)] : ['', '', '']);
  out.push(`## Publish (pack renamed) → first decision from it, ms (${PUBLISHES} publishes per mode)\n`);
  out.push(
    table(
      ['mode', 'n', 'failed', 'p50', 'p99', 'max', `goal p99 ≤ ${GOAL_P99_MS} ms`, 'settings'],
      results.map((r) => [
        r.mode,
        String(r.total.n),
        String(r.failures),
        ...cells(r.total),
        r.mode === 'long poll' ? (r.failures === 0 && r.total.p99 <= GOAL_P99_MS ? 'met' : 'MISSED') : '',
        r.settings,
      ]),
    ),
  );
  out.push('\n## Where the time goes, ms (p50 / p99 / max)\n');
  const triple = (s: Summary | undefined): string => (s ? `${ms(s.p50)} / ${ms(s.p99)} / ${ms(s.max)}` : 'n/a');
  out.push(
    table(
      ['mode', 'renamed → fetched (wait + download)', 'reload (duration_ms)', 'reloaded → client saw it'],
      results.map((r) => [r.mode, triple(r.fetch), triple(r.reload), triple(r.visible)]),
    ),
  );
  const poll = results.find((r) => r.mode === 'poll');
  const long = results.find((r) => r.mode === 'long poll');
  if (poll && long) {
    out.push('\n## Long poll / poll\n');
    out.push(
      table(
        ['', 'p50', 'p99', 'max'],
        [
          [
            'total',
            ratio(long.total.p50 / poll.total.p50),
            ratio(long.total.p99 / poll.total.p99),
            ratio(long.total.max / poll.total.max),
          ],
        ],
      ),
    );
  }
  return out.join('\n');
}

// Progress goes to stderr so stdout holds only the report.
function log(message: string): void {
  process.stderr.write(`bench publish: ${message}\n`);
}

// Starts the pack server and one agent per mode on version 1 of its own pack file.
async function startAll(
  dir: string,
  packsDir: string,
  publicPath: string,
  v1: Publishable,
  procs: ServerProcess[],
): Promise<ModeAgent[]> {
  for (const mode of MODES) await publish(join(packsDir, `${mode.file}.tar.gz`), v1);
  const server = await startPackServer(packsDir);
  procs.push(server.proc);
  const agents: ModeAgent[] = [];
  for (const mode of MODES) {
    const configPath = join(dir, `${mode.file}.yaml`);
    await writeFile(configPath, agentConfig(dir, server.url, publicPath, mode));
    const { proc, url } = await startWardenAgent(`agent (${mode.name})`, configPath);
    procs.push(proc);
    agents.push({ mode, proc, client: new KeepAliveClient(url), target: join(packsDir, `${mode.file}.tar.gz`) });
  }
  return agents;
}

// Builds the versions, starts the processes, publishes alternately, reports, stops everything.
async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'warden-bench-publish-'));
  const procs: ServerProcess[] = [];
  const agents: ModeAgent[] = [];
  try {
    log('building and signing examples/authz and its versions…');
    const { key, versions } = await signedVersions(dir, PUBLISHES * MODES.length + 1);
    const packsDir = join(dir, 'packs');
    await mkdir(packsDir);
    agents.push(...(await startAll(dir, packsDir, key.publicPath, versions[0] as Publishable, procs)));
    const samples: Sample[] = [];
    for (let i = 0; i < PUBLISHES * MODES.length; i++) {
      const a = agents[i % agents.length] as ModeAgent;
      const n = i + 2;
      await sleep(PAUSE_MS.min + Math.random() * PAUSE_MS.spread);
      const s = await measureOne(a, n, versions[n - 1] as Publishable);
      samples.push(s);
      log(
        `${a.mode.name} #${Math.floor(i / agents.length) + 1}: ${s.totalMs === undefined ? 'NOT SEEN' : `${ms(s.totalMs)} ms`}`,
      );
    }
    const results = MODES.map((m) => summarizeMode(m, samples));
    const machine = machineInfo();
    process.stdout.write(
      `# Publish → first decision benchmark\n\n${machine.cores} cores, ${machine.cpuModel}, Node ${machine.node}\n\n${render(results)}\n`,
    );
    const path = await writeResults('publish', {
      benchmark: 'publish',
      goalP99Ms: GOAL_P99_MS,
      date: new Date().toISOString(),
      machine,
      settings: { publishes: PUBLISHES, clientIntervalMs: CLIENT_INTERVAL_MS, pauseMs: PAUSE_MS, modes: MODES },
      results,
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
