/**
 * Offline replay (`warden pack replay`, src/replay/): throughput against the raw
 * engine on the same inputs in the same run, and peak memory on a 1 GB log.
 *
 * 1. Throughput, in-process, ROUNDS interleaved rounds (order alternating) over
 *    the same DECISIONS inputs of examples/authz:
 *    - raw engine: loadWasmEngine + evaluateJson('authz/allow', input) over the
 *      inputs held in memory as JSON text (no log, no parsing, no comparison);
 *    - replay: the functions the CLI runs, on a decision log of those inputs
 *      written by Warden's own line formatter: prepareCandidate (signature,
 *      digest, safe read, engine, golden decisions) + CandidateEngine, then
 *      replay() (stream, split lines, parse, evaluate, compare, tally). Decisions/s
 *      over replay() alone, and with the candidate's preparation included.
 *    Goal: replay ≥ 0.8× the raw engine's decisions/s (paired per round).
 * 2. The CLI as a child process (`node bin/warden.js pack replay … --json`) on the
 *    same log: wall time, with Node's start-up and the verification, and the same
 *    CLI on a one-line log (the fixed cost).
 * 3. Peak RSS: logs of about 16 MB and 1 GB (the first 10,000 lines repeated),
 *    each replayed by the CLI as a child process, its VmHWM read from
 *    /proc/<pid>/status every 50 ms (the last read is the peak up to ≤ 50 ms before
 *    exit). Bounded memory: the two peaks are about equal. The files are deleted.
 *
 * 1% of the recorded answers are flipped, so the changed-decision grouping runs too.
 *
 * Run: `npx tsc -p tsconfig.build.json && node --import tsx bench/replay.bench.ts`
 * (`REPLAY_BENCH_GB=0.25` for a smaller big log). Prints tables; raw figures go to bench/results/.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, open, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { prepareCandidate } from '../src/activate/prepare.js';
import { loadTrust } from '../src/config/trust-files.js';
import { jsonDecisionEvent, lineFormatter } from '../src/decision-log/decision-log-event.js';
import { loadWasmEngine } from '../src/engine/wasm.js';
import { assembleDataText } from '../src/pack/data.js';
import { CLI_LIMIT_KEYS } from '../src/pack/limits.js';
import { CandidateEngine } from '../src/replay/candidate-engine.js';
import { replay } from '../src/replay/replay.js';
import { buildSignedExample, ENTRYPOINT, signingKey } from './lib/example.js';
import { loadAverage, machineInfo } from './lib/machine.js';
import { ServerProcess } from './lib/procs.js';
import { ratio, table, writeResults } from './lib/report.js';
import { pairedRatio, summarize } from './lib/stats.js';

const GOAL = 0.8;
const DECISIONS = 100_000;
const ROUNDS = 6;
const CLI_RUNS = 3;
const FLIP_EVERY = 100;
/** Lines of the block the memory logs repeat (about 5 MB). */
const BLOCK_LINES = 10_000;
const SMALL_BYTES = 16 * 2 ** 20;
const BIG_BYTES = Math.round(Number(process.env.REPLAY_BENCH_GB ?? '1') * 2 ** 30);

const USERS = ['ada', 'bob', 'cy', 'dee', 'eve', 'fay', 'gus', 'hal', 'ivy', 'joe'];
const ROLES = [['admin'], ['viewer'], ['editor', 'viewer'], ['editor'], ['auditor'], []];
const ACTIONS = ['read', 'write', 'delete', 'approve'];
const TENANTS = ['acme', 'globex', 'initech', 'umbrella'];

// A realistic input (~300 bytes): who, what, on which resource, from where.
function inputOf(i: number): string {
  return JSON.stringify({
    user: {
      name: USERS[i % USERS.length],
      roles: ROLES[(i >> 2) % ROLES.length],
      tenant: TENANTS[(i >> 3) % TENANTS.length],
      groups: ['staff', `team-${i % 17}`],
    },
    action: ACTIONS[(i >> 1) % ACTIONS.length],
    resource: { tenant: TENANTS[(i >> 5) % TENANTS.length], kind: 'document', id: `doc-${(i * 7919) % 100_003}` },
    request: { ip: `10.${(i >> 8) & 255}.${i & 255}.7`, method: 'POST', path: `/api/v1/documents/${i % 1000}` },
  });
}

// Wall time of `warden pack replay` on `log`; its JSON report.
async function cliReplay(
  pack: string,
  pub: string,
  log: string,
  sampleRss = false,
): Promise<{ ms: number; report: { replayed: number; changed: number; lines: number }; peakKiB: number }> {
  const t0 = performance.now();
  const proc = ServerProcess.warden('pack replay', [
    'pack',
    'replay',
    pack,
    '--decisions',
    log,
    '--public-key',
    pub,
    '--json',
  ]);
  let peakKiB = 0;
  const timer = sampleRss
    ? setInterval(() => {
        peakKiB = Math.max(peakKiB, vmHWM(proc.pid) ?? 0);
      }, 50)
    : undefined;
  const status = await proc.exited;
  const ms = performance.now() - t0;
  if (timer) clearInterval(timer);
  if (status !== 0) throw new Error(`pack replay exited ${status}:\n${proc.tail()}`);
  const line = proc.lines.find((l) => l.text.startsWith('{'));
  if (!line) throw new Error(`pack replay printed no report:\n${proc.tail()}`);
  return { ms, report: JSON.parse(line.text) as { replayed: number; changed: number; lines: number }, peakKiB };
}

// The process's peak resident set (VmHWM, KiB), or undefined once it has gone.
function vmHWM(pid: number): number | undefined {
  try {
    const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

// Writes `block` repeatedly to `path` until it holds at least `bytes`; the number of lines written.
async function repeatToSize(path: string, block: Buffer, linesPerBlock: number, bytes: number): Promise<number> {
  const file = await open(path, 'w');
  let written = 0;
  let lines = 0;
  try {
    while (written < bytes) {
      await file.write(block);
      written += block.length;
      lines += linesPerBlock;
    }
  } finally {
    await file.close();
  }
  return lines;
}

const dir = await mkdtemp(join(tmpdir(), 'warden-bench-replay-'));
try {
  const key = await signingKey(dir);
  const signed = await buildSignedExample(dir, key);
  const wasm = signed.built.files.get('policy.wasm');
  if (wasm === undefined) throw new Error('the example pack has no policy.wasm');
  const raw = await loadWasmEngine(wasm, assembleDataText(signed.built.files));

  // The decision log: Warden's lines, the recorded answer the engine's (1 in FLIP_EVERY flipped).
  const inputs = Array.from({ length: DECISIONS }, (_, i) => inputOf(i));
  const format = lineFormatter({ id: '5f0c6c1e-0000-4000-8000-000000000000', version: '0.0.0' });
  let flipped = 0;
  const lines = inputs.map((input, i) => {
    const answer = raw.evaluateJson(ENTRYPOINT, input);
    const flip = i % FLIP_EVERY === 0;
    if (flip) flipped++;
    const resultJson = flip ? String(answer !== 'true') : answer;
    const decision = {
      decisionId: `0000${i.toString(16)}`.slice(-8).padStart(36, 'd'),
      pack: 'authz',
      revision: 'bench-1',
      digest: signed.built.digest,
      defined: resultJson !== undefined,
      ...(resultJson === undefined ? {} : { resultJson }),
    };
    return format(
      jsonDecisionEvent(ENTRYPOINT, input, decision, { requested_by: '10.0.0.1:51234' }),
      1_760_000_000_000 + i,
    );
  });
  const logText = lines.join('');
  const log = join(dir, 'decisions.ndjson');
  await writeFile(log, logText);
  const oneLine = join(dir, 'one.ndjson');
  await writeFile(oneLine, lines[0] ?? '');
  const logBytes = Buffer.byteLength(logText);
  const packBytes = await readFile(signed.path);
  const signature = await readFile(signed.signaturePath);
  const trust = await loadTrust({ publicKeys: [key.publicPath] });

  const rawRound = (): number => {
    let allowed = 0;
    const t0 = performance.now();
    for (const input of inputs) if (raw.evaluateJson(ENTRYPOINT, input) === 'true') allowed++;
    const ms = performance.now() - t0;
    if (allowed === 0) throw new Error('the raw engine allowed nothing');
    return ms;
  };
  const replayRound = async (): Promise<{ prepareMs: number; replayMs: number }> => {
    const t0 = performance.now();
    const candidate = await prepareCandidate(undefined, packBytes, signature, trust, {}, undefined, {
      limitKeys: CLI_LIMIT_KEYS,
    });
    const engine = new CandidateEngine(candidate, signed.path);
    const t1 = performance.now();
    const tally = await replay(engine, { files: [log], maxLineBytes: 1024 * 1024, sample: 5 });
    const t2 = performance.now();
    if (tally.replayed !== DECISIONS || tally.changed !== flipped)
      throw new Error(`replay counted ${tally.replayed} replayed, ${tally.changed} changed`);
    return { prepareMs: t1 - t0, replayMs: t2 - t1 };
  };

  // Warm-up (JIT, page cache), then interleaved rounds.
  rawRound();
  await replayRound();
  const rawMs: number[] = [];
  const replayMs: number[] = [];
  const prepareMs: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const runReplay = async (): Promise<void> => {
      const r = await replayRound();
      replayMs.push(r.replayMs);
      prepareMs.push(r.prepareMs);
    };
    if (round % 2 === 0) {
      rawMs.push(rawRound());
      await runReplay();
    } else {
      await runReplay();
      rawMs.push(rawRound());
    }
  }
  const perSecond = (ms: number): number => DECISIONS / (ms / 1000);
  const rawRate = rawMs.map(perSecond);
  const replayRate = replayMs.map(perSecond);
  const withPrepareRate = replayMs.map((ms, i) => perSecond(ms + (prepareMs[i] ?? 0)));
  const paired = pairedRatio(replayRate, rawRate);
  const pairedWithPrepare = pairedRatio(withPrepareRate, rawRate);

  // The CLI as a child process.
  const cliMs: number[] = [];
  const floorMs: number[] = [];
  for (let i = 0; i < CLI_RUNS; i++) {
    const full = await cliReplay(signed.path, key.publicPath, log);
    if (full.report.replayed !== DECISIONS) throw new Error(`the CLI replayed ${full.report.replayed}`);
    cliMs.push(full.ms);
    floorMs.push((await cliReplay(signed.path, key.publicPath, oneLine)).ms);
  }
  const cli = summarize(cliMs);
  const floor = summarize(floorMs);

  // Peak RSS on a small and a big log (the same block of lines repeated).
  const block = Buffer.from(lines.slice(0, BLOCK_LINES).join(''));
  const memory: Array<{ label: string; bytes: number; lines: number; ms: number; peakKiB: number }> = [];
  for (const [label, bytes] of [
    ['small', SMALL_BYTES],
    ['big', BIG_BYTES],
  ] as const) {
    const path = join(dir, `${label}.ndjson`);
    const written = await repeatToSize(path, block, BLOCK_LINES, bytes);
    const size = (await stat(path)).size;
    process.stderr.write(`replaying a ${(size / 2 ** 20).toFixed(0)} MiB log (${written} lines)…\n`);
    const run = await cliReplay(signed.path, key.publicPath, path, true);
    await rm(path, { force: true });
    if (run.report.replayed !== written) throw new Error(`the CLI replayed ${run.report.replayed} of ${written}`);
    memory.push({ label, bytes: size, lines: written, ms: run.ms, peakKiB: run.peakKiB });
  }

  const rate = (x: number): string => Math.round(x).toLocaleString('en-US');
  const r = summarize(rawRate);
  const p = summarize(replayRate);
  const w = summarize(withPrepareRate);
  process.stdout.write(
    `\nReplay throughput: ${DECISIONS.toLocaleString('en-US')} decisions of ${ENTRYPOINT} (log ${(logBytes / 2 ** 20).toFixed(1)} MiB), ${ROUNDS} interleaved rounds; load ${loadAverage().toFixed(2)}\n\n`,
  );
  process.stdout.write(
    `${table(
      ['case', 'median decisions/s', 'min', 'max', 'vs raw (paired median)'],
      [
        ['raw engine: evaluateJson over inputs in memory', rate(r.p50), rate(r.min), rate(r.max), ratio(1)],
        ['replay(): stream, parse, evaluate, compare, tally', rate(p.p50), rate(p.min), rate(p.max), ratio(paired)],
        [
          'prepareCandidate + replay() (verification included)',
          rate(w.p50),
          rate(w.min),
          rate(w.max),
          ratio(pairedWithPrepare),
        ],
      ],
    )}\n`,
  );
  process.stdout.write(
    `goal ≥ ${GOAL}× (replay() vs raw): ${paired >= GOAL ? 'met' : 'NOT met'}; prepareCandidate median ${summarize(prepareMs).p50.toFixed(1)} ms\n\n`,
  );
  process.stdout.write(
    `${table(
      ['CLI as a child process', 'median wall ms', 'decisions/s'],
      [
        ['pack replay, one-line log (start-up + verification)', floor.p50.toFixed(0), ''],
        [`pack replay, ${DECISIONS.toLocaleString('en-US')} decisions`, cli.p50.toFixed(0), rate(perSecond(cli.p50))],
        ['  the same without the one-line run', (cli.p50 - floor.p50).toFixed(0), rate(perSecond(cli.p50 - floor.p50))],
      ],
    )}\n\n`,
  );
  process.stdout.write(
    `${table(
      ['log', 'size', 'lines', 'wall s', 'decisions/s', 'peak RSS (VmHWM)'],
      memory.map((m) => [
        m.label,
        `${(m.bytes / 2 ** 20).toFixed(0)} MiB`,
        m.lines.toLocaleString('en-US'),
        (m.ms / 1000).toFixed(1),
        rate(m.lines / (m.ms / 1000)),
        `${(m.peakKiB / 1024).toFixed(0)} MiB`,
      ]),
    )}\n`,
  );
  const path = await writeResults('replay', {
    machine: machineInfo(),
    decisions: DECISIONS,
    rounds: ROUNDS,
    logBytes,
    flipped,
    rawPerSecond: rawRate,
    replayPerSecond: replayRate,
    withPreparePerSecond: withPrepareRate,
    prepareMs,
    paired,
    pairedWithPrepare,
    cli: { ms: cliMs, oneLineMs: floorMs },
    memory,
  });
  process.stdout.write(`\nraw figures: ${path}\n`);
} finally {
  await rm(dir, { recursive: true, force: true });
}
