/**
 * The engine preparer's handover: what a local engine's activation leaves on the
 * calling thread, per data size. For each size (bench/lib/big-pack.ts's user
 * directory; 10 and 100 MB by default):
 *   - the adoption alone (`adoptWasmEngine`: a new instance over the prepared shared
 *     memory + opa_heap_ptr_set), ROUNDS times on one prepared handover;
 *   - one load through the EnginePreparer (thread prepares, this thread adopts):
 *     its time, the longest gap of this thread's event loop meanwhile (a 1 ms timer
 *     probe), and this process's resident memory before, at its peak and after;
 *   - the same for one load on this thread (loadPackEngine), for comparison.
 * Resident memory is the whole process's (the preparer thread is in it): a memory
 * copied on handover would show the data's engine heap twice.
 *
 * The probe is a 1 ms timer (a setImmediate loop would keep a core busy and slow the thread).
 *
 * Run: `node --import tsx bench/engine-adoption.bench.ts [--sizes 10,100] [--rounds 20]`.
 * Prints tables; raw figures go to bench/results/engine-adoption-<timestamp>.json.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { loadPackEngine, loadSharedPackEngine } from '../src/activate/load-engine.js';
import { EnginePreparer } from '../src/workers/preparer.js';
import { adoptWasmEngine } from '../src/engine/wasm.js';
import type { PackManifest } from '../src/pack/manifest.js';
import { BIG_ENTRYPOINT, buildBigPolicy, USERS_PER_MB, usersData } from './lib/big-pack.js';
import { loadAverage, machineInfo } from './lib/machine.js';
import { ms, table, writeResults } from './lib/report.js';
import { summarize, type Summary } from './lib/stats.js';

const { values: args } = parseArgs({
  options: { sizes: { type: 'string', default: '10,100' }, rounds: { type: 'string', default: '20' } },
});
const SIZES = (args.sizes ?? '').split(',').map(Number);
const ROUNDS = Number(args.rounds);
const MiB = 1024 * 1024;

function log(message: string): void {
  process.stderr.write(`bench engine-adoption: ${message}\n`);
}

/** One load: its time, this thread's longest event-loop gap, and resident memory (MiB). */
interface LoadRun {
  readonly ms: number;
  readonly longestGapMs: number;
  readonly rss: { readonly before: number; readonly peak: number; readonly after: number };
}

// Runs `load` with a 1 ms timer probe (longest gap) and an RSS sampler (peak).
async function observed(load: () => Promise<unknown>): Promise<LoadRun> {
  const before = process.memoryUsage.rss() / MiB;
  let peak = before;
  let longest = 0;
  let last = performance.now();
  let running = true;
  const probe = (): void => {
    const now = performance.now();
    longest = Math.max(longest, now - last);
    last = now;
    peak = Math.max(peak, process.memoryUsage.rss() / MiB);
    if (running) setTimeout(probe, 1);
  };
  setTimeout(probe, 1);
  const start = performance.now();
  await load();
  const took = performance.now() - start;
  await new Promise((resolve) => setTimeout(resolve, 2));
  running = false;
  const after = process.memoryUsage.rss() / MiB;
  return { ms: took, longestGapMs: longest, rss: { before, peak: Math.max(peak, after), after } };
}

interface SizeResult {
  readonly sizeMb: number;
  readonly dataBytes: number;
  readonly adoptMs: Summary;
  readonly preparer: LoadRun;
  readonly inThread: LoadRun;
  readonly loadAverage: number;
}

async function measure(sizeMb: number, files: Map<string, Uint8Array>, manifest: PackManifest): Promise<SizeResult> {
  const data = usersData(sizeMb * USERS_PER_MB, 'A');
  files.set('data.json', data);
  const loadAvg = loadAverage();
  log(`${sizeMb} MB: ${(data.length / 1e6).toFixed(1)} MB of data; adoption alone, ${ROUNDS} times…`);
  const { handover } = await loadSharedPackEngine(files, manifest);
  const adopt: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const start = performance.now();
    const engine = adoptWasmEngine(handover);
    adopt.push(performance.now() - start);
    if (engine.evaluateJson(BIG_ENTRYPOINT, '{"user":"root"}') !== 'true') throw new Error('root not allowed');
  }
  globalThis.gc?.();
  log(`${sizeMb} MB: one load through the preparer…`);
  const preparer = new EnginePreparer();
  let kept: unknown;
  // The preparer takes the files' buffers: it is given a copy, made before the measurement.
  const handed = new Map([...files].map(([path, bytes]) => [path, new Uint8Array(bytes)]));
  const viaPreparer = await observed(async () => {
    kept = (await preparer.load(handed, manifest)).engine;
  });
  await preparer.close();
  kept = undefined;
  globalThis.gc?.();
  log(`${sizeMb} MB: one load on this thread…`);
  const here = await observed(async () => {
    kept = (await loadPackEngine(files, manifest)).engine;
  });
  void kept;
  return {
    sizeMb,
    dataBytes: data.length,
    adoptMs: summarize(adopt),
    preparer: viaPreparer,
    inThread: here,
    loadAverage: loadAvg,
  };
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'warden-bench-adoption-'));
  try {
    const built = await buildBigPolicy(dir);
    const files = new Map<string, Uint8Array>(built.files);
    const results: SizeResult[] = [];
    for (const size of SIZES) results.push(await measure(size, files, built.manifest));
    const machine = machineInfo();
    process.stdout.write(
      `# Engine adoption (${machine.cores} cores, ${machine.cpuModel}, Node ${machine.node})\n\n## Adoption alone, ${ROUNDS} times, ms\n\n`,
    );
    process.stdout.write(
      table(
        ['data', 'p50', 'p90', 'p99', 'max'],
        results.map((r) => [
          `${(r.dataBytes / 1e6).toFixed(1)} MB`,
          ms(r.adoptMs.p50),
          ms(r.adoptMs.p90),
          ms(r.adoptMs.p99),
          ms(r.adoptMs.max),
        ]),
      ),
    );
    process.stdout.write('\n\n## One load: time, longest event-loop gap on this thread, resident memory (MiB)\n\n');
    process.stdout.write(
      table(
        ['data', 'path', 'load', 'longest gap', 'RSS before', 'RSS peak', 'RSS after', 'load average'],
        results.flatMap((r) =>
          (
            [
              ['preparer thread + adoption', r.preparer],
              ['this thread (in-thread)', r.inThread],
            ] as const
          ).map(([path, run]) => [
            `${(r.dataBytes / 1e6).toFixed(1)} MB`,
            path,
            ms(run.ms),
            ms(run.longestGapMs),
            run.rss.before.toFixed(0),
            run.rss.peak.toFixed(0),
            run.rss.after.toFixed(0),
            r.loadAverage.toFixed(1),
          ]),
        ),
      ),
    );
    const path = await writeResults('engine-adoption', {
      benchmark: 'engine-adoption',
      date: new Date().toISOString(),
      machine,
      rounds: ROUNDS,
      results,
    });
    process.stdout.write(`\n\nraw figures: ${path}\n`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
