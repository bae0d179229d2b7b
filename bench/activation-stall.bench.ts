/**
 * Decision workers, the longest decision wait while a big-data pack activates.
 * Goal: the worst decision wait during an activation ≤ 10 ms for a Warden agent
 * with decision workers (OPA's was ~1 s in an earlier measurement).
 *
 * One `warden pack serve` folder and five servers in the same run (`--targets` picks some), each
 * pulling its own copy of the pack from it (polling every 1–2 s, the same for
 * all three):
 *   - `warden agent`, decision_workers: 2 (the packs load and answer in worker threads);
 *   - `warden agent`, http_processes: 2 (two serving processes answer; each prepares the
 *     pack on its own preparer thread and swaps it in; memory summed over the processes);
 *   - `warden agent`, decision_workers: 0 (decisions on the main thread; its engine
 *     prepared on the engine preparer thread and adopted in O(1));
 *   - `warden agent`, decision_workers: 0 with WARDEN_ENGINE_PREPARER=off (everything on
 *     the main thread: the behaviour before the workers and the preparer, the baseline);
 *   - `opa run --server` with a bundles configuration (a Warden pack is an OPA bundle).
 * The pack (bench/lib/big-pack.ts) holds a user directory of ~100 bytes per
 * user, 10 000 users per MB: 10 MB by default (`--sizes 10,100` adds ~100 MB;
 * the agents' pack limits are raised for it).
 *
 * For each server in turn (order rotating every round): a closed-loop client
 * in its own process (bench/lib/timeline-child.ts) keeps 4 kept-alive
 * connections busy with `POST /v1/data/big/allow` and records every request's
 * send and answer times and which data version answered (variants A/B give
 * opposite answers for every user asked, so the answer itself names its
 * version, the same way for Warden and OPA); after 2 s the next version (same
 * size, the other variant) is published; the load goes on until the first
 * answer from it, then 3 s more. The pack server's log line for the download
 * of the new pack (its start = the line's time minus its duration) opens the
 * activation window; the window closes 1 s after the first new answer (so the
 * release of the old pack and the collection of its garbage are in it). A
 * request is in the window when it overlaps it.
 *
 * A control run joins each round: the workers-2 agent under the same load,
 * nothing published, while another process keeps one core busy for as long
 * as one engine load took in this run's in-process profile (step by step:
 * readPack, JSON.parse, engineJson, opa-wasm setData). It shows what one
 * loading worker's CPU alone does to the other threads on this machine.
 *
 * Run: `node --import tsx bench/activation-stall.bench.ts [--sizes 10,100] [--rounds 3] [--targets a,b]`
 * after `npx tsc -p tsconfig.build.json` (the agents run bin/warden.js → dist/).
 * Prints tables; raw figures go to bench/results/activation-stall-<timestamp>.json.
 */
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { engineJson } from '../src/engine/json-text.js';
import { loadWasmEngine } from '../src/engine/wasm.js';
import { locateOpa } from '../src/opa/locate.js';
import { assembleData } from '../src/pack/data.js';
import { readPack } from '../src/pack/reader.js';
import {
  BIG_ENTRYPOINT,
  BIG_PACK,
  bigCases,
  buildBigPolicy,
  USERS_PER_MB,
  usersData,
  variantOf,
} from './lib/big-pack.js';
import { treeMemoryMiB } from './lib/cpu.js';
import { packVersion, publish, publishable, signingKey, type Publishable, type SigningKey } from './lib/example.js';
import { resultOf, type KeepAliveClient } from './lib/http.js';
import { loadAverage, machineInfo } from './lib/machine.js';
import { startPackServer, stopAll, type ServerProcess } from './lib/procs.js';
import { ms, ratio, table, writeResults } from './lib/report.js';
import { summarize, type Summary } from './lib/stats.js';
import { startOpa, startWarden, type Target } from './lib/targets.js';
import { longestSilence, splitByWindow, startTimeline, summaryOf, type TimelineResult } from './lib/timeline.js';

const GOAL_MAX_MS = 10;
const CONNECTIONS = 4;
const BEFORE_MS = 2000;
const AFTER_MS = 3000;
/** The window stays open this long after the first new answer. */
const WINDOW_TAIL_MS = 1000;
const ACTIVATION_TIMEOUT_MS = 180_000;
const WARMUP_MS = 2000;
const POLL = { min: 1, max: 2 };
const GiB = 1024 * 1024 * 1024;
/** Generous limits, for the 100 MB pack (the defaults refuse a 64 MiB+ file). */
const LIMITS = { max_pack_bytes: GiB, max_uncompressed_bytes: 4 * GiB, max_file_bytes: GiB };

/**
 * The servers; `--targets` picks some. warden-workers-0-in-thread is an agent with decision_workers: 0
 * that loads its engine on the main thread (WARDEN_ENGINE_PREPARER=off), the way every agent with 0
 * workers did before the engine preparer thread; warden-workers-0 prepares it on that thread.
 */
const ALL_TARGETS = [
  'warden-workers-2',
  'warden-processes-2',
  'warden-workers-0',
  'warden-workers-0-in-thread',
  'opa',
] as const;
type TargetName = (typeof ALL_TARGETS)[number];
/** The control run: the workers-2 agent with a core kept busy by another process, nothing published. */
const CONTROL = 'control: workers-2 + busy core' as const;
type RunName = TargetName | typeof CONTROL;

const { values: args } = parseArgs({
  options: {
    sizes: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '3' },
    'skip-profile': { type: 'boolean', default: false },
    targets: { type: 'string', default: ALL_TARGETS.join(',') },
  },
});
const TARGETS = (args.targets ?? '').split(',').map((t) => t.trim()) as TargetName[];
if (TARGETS.some((t) => !ALL_TARGETS.includes(t)))
  throw new Error(`--targets: a comma-separated list of ${ALL_TARGETS.join(', ')}`);
/** The control runs only beside the workers-2 agent. */
const WITH_CONTROL = TARGETS.includes('warden-workers-2');
const SIZES = (args.sizes ?? '10').split(',').map((s) => Number(s.trim()));
const ROUNDS = Number(args.rounds);
if (SIZES.some((s) => !(s > 0)) || !(ROUNDS >= 1))
  throw new Error('usage: [--sizes 10,100] [--rounds 3] [--skip-profile] [--targets warden-workers-0,opa,…]');

const epochNow = (): number => performance.timeOrigin + performance.now();

/** One publish to one server and what its clients saw. */
interface StallRun {
  readonly sizeMb: number;
  readonly target: RunName;
  readonly round: number;
  /** The version published (undefined: the control). */
  readonly version: number | undefined;
  /** Publish (pack renamed into the folder) → first answer from the new version, ms. */
  readonly activationMs: number | undefined;
  /** Start of the new pack's download → first answer from it, ms (undefined: no download line found). */
  readonly downloadToNewMs: number | undefined;
  /** The window's length, ms. */
  readonly windowMs: number;
  readonly inWindow: Summary | undefined;
  readonly outside: Summary | undefined;
  /** The longest wait in the window and when its request was sent, ms after the window opened. */
  readonly worst: { latency: number; afterWindowStartMs: number } | undefined;
  /**
   * The longest time no answer arrived on any connection: in the window, and in the steady state
   * before the publish (the machine's own noise, for comparison).
   */
  readonly silence: { inWindow: number; before: number };
  /** Requests per second in the window and outside it (closed loop: a stall lowers it). */
  readonly rpsInWindow: number;
  readonly rpsOutside: number;
  /** Answers from the old version to requests sent after the first new answer. */
  readonly regressions: number;
  /** Answers that matched neither version, failed or were not 200. */
  readonly other: number;
  readonly errors: number;
  readonly non200: number;
  readonly requests: number;
  /** The server's `policy reloaded` duration_ms (Warden only). */
  readonly reloadMs: number | undefined;
  /** The server's resident memory after the run and its peak so far, MiB. */
  readonly memory: { rss: number; peak: number };
  /** Load average (1 min) at the publish: how busy the shared machine was. */
  readonly loadAverage: number;
}

// Progress goes to stderr so stdout holds only the report.
function log(message: string): void {
  process.stderr.write(`bench activation-stall: ${message}\n`);
}

/** One size's servers and pack files. */
interface Setup {
  readonly sizeMb: number;
  readonly users: number;
  readonly servers: Map<TargetName, Target>;
  /** The pack file (in the pack server's folder) each server pulls. */
  readonly files: Map<TargetName, string>;
  readonly versions: Map<number, Publishable>;
  /** data.json's size, bytes. */
  readonly dataBytes: number;
}

// Ready: root is allowed and the first user asked answers as version `n`'s variant.
function readyOn(users: number, n: number) {
  return async (client: KeepAliveClient): Promise<void> => {
    const root = await client.post(`/v1/data/${BIG_ENTRYPOINT}`, { input: { user: 'root' } });
    if (root.status !== 200 || resultOf(root.body) !== true)
      throw new Error(`root: ${root.status} ${JSON.stringify(root.body)}`);
    const c = bigCases(users)[0];
    const res = await client.post(`/v1/data/${BIG_ENTRYPOINT}`, c?.body);
    const want = c?.labels.find((l) => l.label === variantOf(n))?.result;
    if (resultOf(res.body) !== want) throw new Error(`not yet on version ${n}: ${JSON.stringify(res.body)}`);
  };
}

// Builds every version of one size, publishes version 1 for each server, starts the servers.
async function setUp(
  dir: string,
  packsDir: string,
  serverUrl: string,
  key: SigningKey,
  built: Awaited<ReturnType<typeof buildBigPolicy>>,
  sizeMb: number,
): Promise<Setup> {
  const users = sizeMb * USERS_PER_MB;
  log(`${sizeMb} MB: generating ${users} users × 2 variants and ${ROUNDS + 1} signed versions…`);
  const data = { A: usersData(users, 'A'), B: usersData(users, 'B') };
  const versions = new Map<number, Publishable>();
  for (let n = 1; n <= ROUNDS + 1; n++) {
    const pack = packVersion(built.files, n, new Map([['data.json', data[variantOf(n)]]]), 'big');
    versions.set(n, await publishable(pack, key.privateKey));
  }
  const v1 = versions.get(1) as Publishable;
  log(
    `${sizeMb} MB: data.json ${(data.A.length / 1e6).toFixed(1)} MB, pack ${(v1.pack.length / 1e6).toFixed(2)} MB compressed`,
  );
  const files = new Map<TargetName, string>(TARGETS.map((t) => [t, `${BIG_PACK}-${sizeMb}mb-${t}`]));
  for (const file of files.values()) await publish(join(packsDir, `${file}.tar.gz`), v1);
  const servers = new Map<TargetName, Target>();
  const sizeDir = join(dir, `size-${sizeMb}`);
  await mkdir(sizeDir, { recursive: true });
  const timeoutMs = 30_000 + sizeMb * 2_000;
  for (const t of TARGETS) {
    const url = `${serverUrl}/v1/policy/packs/${files.get(t)}`;
    if (t === 'opa') {
      const config = join(sizeDir, 'opa.yaml');
      await writeFile(
        config,
        [
          'services:',
          '  packs:',
          `    url: ${serverUrl}`,
          'bundles:',
          `  ${BIG_PACK}:`,
          '    service: packs',
          `    resource: v1/policy/packs/${files.get(t)}`,
          '    polling:',
          `      min_delay_seconds: ${POLL.min}`,
          `      max_delay_seconds: ${POLL.max}`,
        ].join('\n'),
      );
      servers.set(t, await startOpa(t, ['--config-file', config], readyOn(users, 1), timeoutMs));
    } else {
      const workers = t === 'warden-workers-2' ? 2 : 0;
      // warden-processes-2: two serving processes answer (each prepares the pack on its own preparer thread).
      const processes = t === 'warden-processes-2' ? { processes: 2 } : {};
      const env: Record<string, string> = t === 'warden-workers-0-in-thread' ? { WARDEN_ENGINE_PREPARER: 'off' } : {};
      const source = [
        'http:',
        `  url: ${url}`,
        `  poll_min_seconds: ${POLL.min}`,
        `  poll_max_seconds: ${POLL.max}`,
        '  long_poll_seconds: 0',
        '  timeout_seconds: 120',
        `  max_bytes: ${GiB}`,
      ];
      servers.set(
        t,
        await startWarden(
          {
            dir: sizeDir,
            name: t,
            packName: BIG_PACK,
            source,
            publicKeyPath: key.publicPath,
            workers,
            ...processes,
            logLevel: 'info',
            limits: LIMITS,
            env,
          },
          readyOn(users, 1),
          timeoutMs,
        ),
      );
    }
    log(`${sizeMb} MB: ${t} pid ${servers.get(t)?.proc.pid} answers version 1`);
  }
  return { sizeMb, users, servers, files, versions, dataBytes: data.A.length };
}

// The start of the new pack's download (epoch ms) from the pack server's log line for `file`, after line `from`.
function downloadStart(packServer: ServerProcess, from: number, file: string): number | undefined {
  const line = packServer
    .jsonLines(from)
    .find(
      (l) =>
        l.entry['msg'] === 'pack request' &&
        l.entry['path'] === `/v1/policy/packs/${file}` &&
        l.entry['status'] === 200,
    );
  if (!line) return undefined;
  const time = line.entry['time'];
  const at = typeof time === 'string' ? Date.parse(time) : typeof time === 'number' ? time : NaN;
  const duration = Number(line.entry['duration_ms']);
  return Number.isFinite(at) && Number.isFinite(duration) ? at - duration : undefined;
}

// The duration_ms of the agent's `policy reloaded` line for revision big-n.
function reloadDuration(proc: ServerProcess, from: number, n: number): number | undefined {
  const line = proc
    .jsonLines(from)
    .find((l) => l.entry['msg'] === 'policy reloaded' && l.entry['revision'] === `big-${n}`);
  const d = line?.entry['duration_ms'];
  return typeof d === 'number' ? d : undefined;
}

// Runs the client for `ms` against a server, untimed (warm-up).
async function warmUp(s: Setup, t: TargetName): Promise<void> {
  const target = s.servers.get(t) as Target;
  const tl = startTimeline({
    url: target.url,
    path: `/v1/data/${BIG_ENTRYPOINT}`,
    connections: CONNECTIONS,
    cases: bigCases(s.users),
  });
  await tl.ready;
  await sleep(WARMUP_MS);
  await tl.stop();
}

// Starts the closed-loop client on a server and waits for its first answers.
async function loadOn(s: Setup, target: Target) {
  const tl = startTimeline({
    url: target.url,
    path: `/v1/data/${BIG_ENTRYPOINT}`,
    connections: CONNECTIONS,
    cases: bigCases(s.users),
  });
  await tl.ready;
  return tl;
}

// Publishes version n to one server under load and reads the timeline.
async function measure(
  s: Setup,
  t: TargetName,
  round: number,
  packServer: ServerProcess,
  packsDir: string,
): Promise<StallRun> {
  const n = round + 1;
  const target = s.servers.get(t) as Target;
  const file = s.files.get(t) as string;
  const tl = await loadOn(s, target);
  await sleep(BEFORE_MS);
  const fromServer = packServer.lines.length;
  const fromTarget = target.proc.lines.length;
  let publishAt = NaN;
  const loadAvg = loadAverage();
  await publish(join(packsDir, `${file}.tar.gz`), s.versions.get(n) as Publishable, () => {
    publishAt = epochNow();
  });
  let firstNew: number;
  try {
    firstNew = await tl.seen(variantOf(n), ACTIVATION_TIMEOUT_MS);
  } catch (err) {
    await tl.stop();
    throw new Error(`${t}: version ${n} never answered: ${String(err)}\n${target.proc.tail()}`);
  }
  await sleep(AFTER_MS);
  const r = await tl.stop();
  await sleep(50); // the pack server's last lines
  const downloadAt = downloadStart(packServer, fromServer, file);
  return analyse(s, t, round, r, {
    eventAt: publishAt,
    from: downloadAt ?? publishAt,
    to: firstNew + WINDOW_TAIL_MS,
    version: { n, firstNew, downloadAt },
    reloadMs: reloadDuration(target.proc, fromTarget, n),
    memory: treeMemoryMiB(target.proc.pid),
    loadAverage: loadAvg,
  });
}

/**
 * The control: the workers-2 agent under the same load, no publish; instead another process keeps
 * one core busy for as long as one engine load took in the profile (what a loading worker does to
 * the others on this machine, without anything of Warden's own in the way).
 */
async function measureControl(s: Setup, round: number, busyMs: number): Promise<StallRun> {
  const target = s.servers.get('warden-workers-2') as Target;
  const tl = await loadOn(s, target);
  await sleep(BEFORE_MS);
  const loadAvg = loadAverage();
  const busyFrom = epochNow();
  await new Promise<void>((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', `const end = Date.now() + ${busyMs}; while (Date.now() < end);`], {
      stdio: 'ignore',
    });
    child.on('error', reject);
    child.on('exit', () => resolve());
  });
  const busyTo = epochNow();
  await sleep(WINDOW_TAIL_MS + AFTER_MS);
  const r = await tl.stop();
  return analyse(s, CONTROL, round, r, {
    eventAt: busyFrom,
    from: busyFrom,
    to: busyTo + WINDOW_TAIL_MS,
    reloadMs: undefined,
    memory: treeMemoryMiB(target.proc.pid),
    loadAverage: loadAvg,
  });
}

// The run's figures from its timeline: the window is [from, to]; `eventAt` (the publish) ends the steady state before.
function analyse(
  s: Setup,
  t: RunName,
  round: number,
  r: TimelineResult,
  at: {
    eventAt: number;
    from: number;
    to: number;
    version?: { n: number; firstNew: number; downloadAt: number | undefined };
    reloadMs: number | undefined;
    memory: { rss: number; peak: number };
    loadAverage: number;
  },
): StallRun {
  const { from, to, version } = at;
  const split = splitByWindow(r, from, to);
  const oldLabel = version ? r.labels.indexOf(variantOf(version.n - 1)) : -1;
  const otherLabel = r.labels.indexOf('other');
  let regressions = 0;
  let other = 0;
  let first = Infinity;
  let last = -Infinity;
  for (let i = 0; i < r.start.length; i++) {
    const start = r.start[i] as number;
    first = Math.min(first, start);
    last = Math.max(last, r.end[i] as number);
    if (r.label[i] === otherLabel) other++;
    else if (version && r.label[i] === oldLabel && start > version.firstNew) regressions++;
  }
  const windowMs = to - from;
  const outsideMs = last - first - windowMs;
  return {
    sizeMb: s.sizeMb,
    target: t,
    round,
    version: version?.n,
    activationMs: version ? version.firstNew - at.eventAt : undefined,
    downloadToNewMs: version?.downloadAt === undefined ? undefined : version.firstNew - version.downloadAt,
    windowMs,
    inWindow: summaryOf(split.inside),
    outside: summaryOf(split.outside),
    worst: split.worstInside
      ? { latency: split.worstInside.latency, afterWindowStartMs: split.worstInside.start - from }
      : undefined,
    silence: {
      inWindow: longestSilence(r, from, to),
      before: longestSilence(r, first + 500, at.eventAt),
    },
    rpsInWindow: (split.inside.length * 1000) / windowMs,
    rpsOutside: (split.outside.length * 1000) / outsideMs,
    regressions,
    other,
    errors: r.errors,
    non200: r.non200,
    requests: r.start.length,
    reloadMs: at.reloadMs,
    memory: at.memory,
    loadAverage: at.loadAverage,
  };
}

// Median of a few numbers.
function median(xs: readonly number[]): number {
  return xs.length > 0 ? summarize(xs).p50 : NaN;
}

// "median (min–max)" of per-round figures.
function spread(xs: readonly number[], f: (x: number) => string = ms): string {
  if (xs.length === 0) return '–';
  const s = summarize(xs);
  return xs.length === 1 ? f(s.p50) : `${f(s.p50)} (${f(s.min)}–${f(s.max)})`;
}

const opt = (x: number | undefined): string => (x === undefined ? '–' : ms(x));

// The readable report for one size.
function render(sizeMb: number, runs: readonly StallRun[]): string {
  const mine = runs.filter((r) => r.sizeMb === sizeMb);
  const out: string[] = [];
  out.push(`## ${sizeMb} MB of data (${sizeMb * USERS_PER_MB} users), every run (ms)\n`);
  out.push(
    table(
      [
        'round',
        'target',
        'activation (publish → new)',
        'download → new',
        'reload (log)',
        'window',
        'n in window',
        'max in window',
        'worst sent at (after window start)',
        'p50 / p99 in window',
        'p50 / p99 outside',
        'max outside',
        'no answer, longest: in window / before',
        'req/s in / outside window',
        'old after new',
        'other / errors',
        'RSS / peak MiB',
        'load avg',
      ],
      mine.map((r) => [
        String(r.round),
        r.target,
        opt(r.activationMs),
        opt(r.downloadToNewMs),
        opt(r.reloadMs),
        ms(r.windowMs),
        String(r.inWindow?.n ?? 0),
        opt(r.worst?.latency),
        opt(r.worst?.afterWindowStartMs),
        `${opt(r.inWindow?.p50)} / ${opt(r.inWindow?.p99)}`,
        `${opt(r.outside?.p50)} / ${opt(r.outside?.p99)}`,
        opt(r.outside?.max),
        `${ms(r.silence.inWindow)} / ${ms(r.silence.before)}`,
        `${r.rpsInWindow.toFixed(0)} / ${r.rpsOutside.toFixed(0)}`,
        String(r.regressions),
        `${r.other} / ${r.errors + r.non200}`,
        `${r.memory.rss.toFixed(0)} / ${r.memory.peak.toFixed(0)}`,
        r.loadAverage.toFixed(1),
      ]),
    ),
  );
  const of = (t: RunName): StallRun[] => mine.filter((r) => r.target === t);
  const field = (t: RunName, f: (r: StallRun) => number | undefined): number[] =>
    of(t)
      .map(f)
      .filter((x): x is number => x !== undefined);
  out.push(`\n## ${sizeMb} MB, per target over ${ROUNDS} rounds: median (min–max of the rounds), ms\n`);
  out.push(
    table(
      [
        'target',
        'max in window',
        'worst of all rounds',
        'p99 in window',
        'p50 in window',
        'p99 outside',
        'p50 outside',
        'no answer, longest: in window / before',
        'activation',
        'download → new',
        `goal max ≤ ${GOAL_MAX_MS} ms`,
      ],
      ([...TARGETS, ...(WITH_CONTROL ? [CONTROL] : [])] as RunName[]).map((t) => {
        const maxes = field(t, (r) => r.worst?.latency);
        const worst = maxes.length > 0 ? Math.max(...maxes) : NaN;
        return [
          t,
          spread(maxes),
          ms(worst),
          spread(field(t, (r) => r.inWindow?.p99)),
          spread(field(t, (r) => r.inWindow?.p50)),
          spread(field(t, (r) => r.outside?.p99)),
          spread(field(t, (r) => r.outside?.p50)),
          `${ms(median(field(t, (r) => r.silence.inWindow)))} / ${ms(median(field(t, (r) => r.silence.before)))}`,
          spread(field(t, (r) => r.activationMs)),
          spread(field(t, (r) => r.downloadToNewMs)),
          t === 'warden-workers-2' ? (worst <= GOAL_MAX_MS ? 'met' : 'MISSED') : '',
        ];
      }),
    ),
  );
  // Paired per round: the runs of one round are minutes apart at most.
  const paired = (a: RunName, b: RunName, f: (r: StallRun) => number | undefined): number[] =>
    of(a)
      .map((x) => {
        const y = of(b).find((r) => r.round === x.round);
        const fx = f(x);
        const fy = y ? f(y) : undefined;
        return fx === undefined || fy === undefined ? NaN : fx / fy;
      })
      .filter((x) => Number.isFinite(x));
  const pairs = (
    [
      ['warden-workers-2', 'opa'],
      ['warden-processes-2', 'opa'],
      ['warden-workers-2', 'warden-workers-0'],
      ['warden-workers-0', 'opa'],
      ['warden-workers-0', 'warden-workers-0-in-thread'],
      ['warden-workers-0-in-thread', 'opa'],
      ['warden-workers-2', CONTROL],
    ] as Array<[RunName, RunName]>
  ).filter((pair) => pair.every((t) => (t === CONTROL ? WITH_CONTROL : TARGETS.includes(t))));
  out.push(`\n## ${sizeMb} MB, ratios: median of the per-round ratios (min–max)\n`);
  out.push(
    table(
      ['ratio', 'max in window', 'p99 in window', 'p50 in window', 'p99 outside', 'activation', 'download → new'],
      pairs.map(([a, b]) => [
        `${a} / ${b}`,
        spread(
          paired(a, b, (r) => r.worst?.latency),
          ratio,
        ),
        spread(
          paired(a, b, (r) => r.inWindow?.p99),
          ratio,
        ),
        spread(
          paired(a, b, (r) => r.inWindow?.p50),
          ratio,
        ),
        spread(
          paired(a, b, (r) => r.outside?.p99),
          ratio,
        ),
        spread(
          paired(a, b, (r) => r.activationMs),
          ratio,
        ),
        spread(
          paired(a, b, (r) => r.downloadToNewMs),
          ratio,
        ),
      ]),
    ),
  );
  return out.join('\n');
}

/** Where one load of the engine goes (what each decision worker, or the main thread with 0 workers, does), ms. */
interface LoadProfile {
  readonly sizeMb: number;
  /** readPack: gunzip + tar (1 MiB pieces). */
  readonly readPack: number;
  /** assembleData: JSON.parse of data.json. */
  readonly parseData: number;
  /** engineJson: the document back to JSON text, UTF-8. */
  readonly engineJson: number;
  /** loadWasmEngine (instantiate, engineJson again, opa-wasm setData = opa_json_parse in wasm) minus engineJson. */
  readonly setData: number;
  /** The first decision on the new engine. */
  readonly firstDecision: number;
}

// Times the steps of one engine load in this process, once (the servers are idle meanwhile).
async function profileLoad(sizeMb: number, pack: Buffer): Promise<LoadProfile> {
  const time = async <T>(f: () => Promise<T> | T): Promise<[T, number]> => {
    const start = performance.now();
    const value = await f();
    return [value, performance.now() - start];
  };
  const [files, readMs] = await time(() =>
    readPack(pack, { maxCompressedBytes: GiB, maxUncompressedBytes: 4 * GiB, maxFileBytes: GiB }),
  );
  const [data, parseMs] = await time(() => assembleData(files));
  const [, jsonMs] = await time(() => engineJson(data));
  const wasm = files.get('policy.wasm') ?? new Uint8Array();
  const [engine, loadMs] = await time(() => loadWasmEngine(wasm, data));
  const [, firstMs] = await time(() => engine.evaluateJson(BIG_ENTRYPOINT, '{"user":"root"}'));
  return {
    sizeMb,
    readPack: readMs,
    parseData: parseMs,
    engineJson: jsonMs,
    setData: loadMs - jsonMs,
    firstDecision: firstMs,
  };
}

// The profile table.
function renderProfiles(profiles: readonly LoadProfile[]): string {
  return table(
    [
      'size',
      'readPack',
      'JSON.parse (assembleData)',
      'engineJson',
      'setData (opa_json_parse in wasm)',
      'first decision',
    ],
    profiles.map((p) => [
      `${p.sizeMb} MB`,
      ms(p.readPack),
      ms(p.parseData),
      ms(p.engineJson),
      ms(p.setData),
      ms(p.firstDecision),
    ]),
  );
}

// Builds the packs, starts the servers per size, measures each in turn, reports, stops everything.
async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'warden-bench-stall-'));
  const packsDir = join(dir, 'packs');
  await mkdir(packsDir);
  let packServer: { proc: ServerProcess; url: string } | undefined;
  let current: Setup | undefined;
  const runs: StallRun[] = [];
  const packBytes: Record<number, { data: number; pack: number }> = {};
  const profiles: LoadProfile[] = [];
  try {
    log('building the big policy (opa build)…');
    const key = await signingKey(dir);
    const built = await buildBigPolicy(dir);
    packServer = await startPackServer(packsDir);
    for (const sizeMb of SIZES) {
      current = await setUp(dir, packsDir, packServer.url, key, built, sizeMb);
      const v1 = current.versions.get(1) as Publishable;
      packBytes[sizeMb] = { data: current.dataBytes, pack: v1.pack.length };
      if (!args['skip-profile']) {
        log(`${sizeMb} MB: profiling one engine load in-process…`);
        profiles.push(await profileLoad(sizeMb, v1.pack));
      }
      for (const t of TARGETS) {
        log(`${sizeMb} MB: warm-up ${t}…`);
        await warmUp(current, t);
      }
      // The control keeps a core busy as long as one engine load took (else 5 s).
      const profile = profiles.find((p) => p.sizeMb === sizeMb);
      const busyMs = Math.round(
        profile ? profile.readPack + profile.parseData + profile.engineJson + profile.setData : 5000,
      );
      const names: RunName[] = [...TARGETS, ...(WITH_CONTROL ? [CONTROL] : [])];
      for (let round = 1; round <= ROUNDS; round++) {
        const order = names.map((_, i) => names[(i + round - 1) % names.length] as RunName);
        for (const t of order) {
          log(
            `${sizeMb} MB, round ${round}: ${t}, ${t === CONTROL ? `a core busy for ${busyMs} ms` : `publishing version ${round + 1}`}…`,
          );
          const r =
            t === CONTROL
              ? await measureControl(current, round, busyMs)
              : await measure(current, t, round, packServer.proc, packsDir);
          runs.push(r);
          log(
            `  activation ${opt(r.activationMs)} ms, max in window ${opt(r.worst?.latency)} ms, p99 ${opt(r.inWindow?.p99)} ms`,
          );
        }
      }
      await stopAll([...current.servers.values()].map((s) => s.proc));
      current = undefined;
    }
    const machine = machineInfo();
    const opaVersion = locateOpa().version;
    process.stdout.write(
      `# Activation stall: the longest decision wait while a big-data pack activates\n\n${machine.cores} cores, ${machine.cpuModel}, Node ${machine.node}, opa ${opaVersion}; ${CONNECTIONS} closed-loop connections; publish ${BEFORE_MS} ms into the run, load until the first new answer + ${AFTER_MS} ms; window = download start → first new answer + ${WINDOW_TAIL_MS} ms; polling ${POLL.min}–${POLL.max} s for every server\n\n`,
    );
    process.stdout.write(SIZES.map((s) => render(s, runs)).join('\n\n'));
    if (profiles.length > 0)
      process.stdout.write(
        `\n\n## One engine load, step by step (in the benchmark's process, once per size, ms)\n\n${renderProfiles(profiles)}`,
      );
    const path = await writeResults('activation-stall', {
      benchmark: 'activation-stall',
      goalMaxMs: GOAL_MAX_MS,
      date: new Date().toISOString(),
      machine,
      opaVersion,
      settings: {
        sizes: SIZES,
        rounds: ROUNDS,
        connections: CONNECTIONS,
        beforeMs: BEFORE_MS,
        afterMs: AFTER_MS,
        windowTailMs: WINDOW_TAIL_MS,
        poll: POLL,
        limits: LIMITS,
      },
      packBytes,
      profiles,
      runs,
    });
    process.stdout.write(`\n\nraw figures: ${path}\n`);
  } finally {
    await stopAll([...(current?.servers.values() ?? [])].map((s) => s.proc));
    await stopAll([packServer?.proc]);
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
