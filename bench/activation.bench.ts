/**
 * Activation of big data packs: how long a `warden agent` takes from start to serving a
 * pack with 1, 10 and 100 MB of data.json, and how much memory it peaks at, against the
 * real `opa run --server` loading the same file (a Warden pack is an OPA bundle), in the
 * same run on the same machine.
 *
 * The data is a users directory, {"users":{"u0":{"role":"admin","name":"…","groups":[…]},…}},
 * ~100 bytes a user, with the policy `role := data.users[input.user].role` and one golden
 * decision. Each pack is built once with buildPack (the real opa) and signed.
 *
 * Warden is the agent itself (`node bin/warden.js agent`, a `file` source on the signed
 * pack, a fresh data_dir each start): what an operator runs, so the figure includes what
 * activation really does besides loading data (signature, safe read, golden decision, store
 * commit with fsync) and Node's start-up; the in-process profile below splits it. Each
 * server runs alone (one at a time: the machine has few cores), timed from spawn until
 *   - warden: `GET /readyz` answers 200 (the agent listens only once its pack is active);
 *   - opa: `GET /health?bundles` answers 200 (bundles activated);
 * polled every 20 ms, then one decision is checked on each (not timed) and the peak
 * resident memory read: VmHWM from /proc/<pid>/status. "Over baseline" subtracts the same
 * server's VmHWM with a pack of no data (the `0 MB` row), measured in the same run. The order
 * of the two servers alternates per round; ratios are medians of per-round Warden/OPA ratios
 * with their min–max.
 *
 * Then an in-process profile of the data path (one iteration per size): the safe read, the
 * data text (assembleDataText: the scan), instantiating policy.wasm and opa-wasm parsing the
 * text with the memory loadWasmEngine gives it (sized for the data), the engine's heap after;
 * and up to 10 MB what it replaced: assembleData's JSON.parse, JSON.stringify + encode, and
 * the parse in opa-wasm's default memory, grown page by page.
 *
 * Run: `node --import tsx bench/activation.bench.ts [--sizes 0,1,10,100] [--rounds 5]`
 * (needs dist/: `npx tsc -p tsconfig.build.json`; `npm run bench` runs it too), about 10
 * minutes; OPA peaks near 6 GiB at 100 MB. Prints tables; raw figures go to
 * bench/results/activation-<timestamp>.json.
 */
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { loadPolicy } from '@open-policy-agent/opa-wasm';
import { initialPages } from '../src/engine/wasm.js';
import { locateOpa } from '../src/opa/locate.js';
import { buildPack } from '../src/pack/build.js';
import { assembleData, assembleDataText } from '../src/pack/data.js';
import { readPack } from '../src/pack/reader.js';
import { signPack } from '../src/sign/sign.js';
import { toolVersion } from './lib/child.js';
import { signingKey, type SigningKey } from './lib/example.js';
import { machineInfo } from './lib/machine.js';
import { freePort, ServerProcess } from './lib/procs.js';
import { ms, ratio, table, writeResults } from './lib/report.js';
import { percentile } from './lib/stats.js';

const { values: args } = parseArgs({
  options: { sizes: { type: 'string', default: '0,1,10,100' }, rounds: { type: 'string', default: '5' } },
});
const SIZES_MB = (args.sizes ?? '').split(',').map(Number);
const ROUNDS = Number(args.rounds);
// Rounds for packs of 100 MB and more (each start takes seconds).
const BIG_ROUNDS = Math.min(ROUNDS, 3);
const POLL_MS = 20;
const READY_TIMEOUT_MS = 600_000;
const ENTRYPOINT = 'big/role';
const PROBE = { input: { user: 'u10' }, expect: 'admin' };
// Up to this size the profile also times the old path and opa-wasm's default memory.
const OLD_PATH_MAX_MB = 10;

type Server = 'warden' | 'opa';

interface Pack {
  readonly mb: number;
  readonly path: string;
  readonly dataBytes: number;
  readonly users: number;
  readonly packBytes: number;
  readonly buildMs: number;
}

interface Start {
  readonly ms: number;
  readonly hwmKiB: number;
}

// The users directory, about `mb` × 1,000,000 bytes of JSON text.
function usersJson(mb: number): { text: string; users: number } {
  const target = mb * 1_000_000;
  const parts: string[] = [];
  let size = 0;
  let i = 0;
  while (size < target) {
    const role = i % 10 === 0 ? 'admin' : i % 3 === 0 ? 'editor' : 'viewer';
    const user = `"u${i}":{"role":"${role}","name":"User ${i} of the directory","groups":["g${i % 7}","team-${i % 13}","everyone"]}`;
    parts.push(user);
    size += user.length + 1;
    i++;
  }
  return { text: `{"users":{${parts.join(',')}}}`, users: i };
}

// Builds and signs the pack with `mb` MB of users.
async function makePack(dir: string, mb: number, key: SigningKey): Promise<Pack> {
  const folder = join(dir, `src-${mb}`);
  await mkdir(folder, { recursive: true });
  const { text, users } = mb > 0 ? usersJson(mb) : { text: '{"users":{"u10":{"role":"admin"}}}', users: 1 };
  await writeFile(join(folder, 'data.json'), text);
  await writeFile(join(folder, 'big.rego'), 'package big\n\nrole := data.users[input.user].role\n');
  await writeFile(
    join(folder, 'warden.yaml'),
    [
      'name: big',
      `entrypoints: [${ENTRYPOINT}]`,
      'golden:',
      `  - { name: u10 is admin, entrypoint: ${ENTRYPOINT}, input: { user: u10 }, expect: admin }`,
    ].join('\n'),
  );
  const path = join(dir, `big-${mb}.tar.gz`);
  const started = performance.now();
  const built = await buildPack({ dir: folder, out: path, sequence: 1 });
  const buildMs = performance.now() - started;
  await writeFile(`${path}.sigstore.json`, JSON.stringify(await signPack(built.bytes, key.privateKey)));
  return { mb, path, dataBytes: Buffer.byteLength(text), users, packBytes: built.bytes.length, buildMs };
}

// Peak resident memory of a process, in KiB.
function vmHwmKiB(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('VmHWM:'));
  return Number(/(\d+)/.exec(line ?? '')?.[1] ?? NaN);
}

// Polls `url` until it answers 200; rejects if the process exits or the time runs out.
async function until200(url: string, proc: ServerProcess): Promise<void> {
  const deadline = performance.now() + READY_TIMEOUT_MS;
  for (;;) {
    try {
      const res = await fetch(url);
      await res.arrayBuffer();
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    if (proc.child.exitCode !== null) throw new Error(`${proc.name} exited:\n${proc.tail()}`);
    if (performance.now() > deadline) throw new Error(`${proc.name}: not ready in time:\n${proc.tail()}`);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

// Checks one decision: both servers answer the OPA data API.
async function checkDecision(base: string, name: string): Promise<void> {
  const res = await fetch(`${base}/v1/data/${ENTRYPOINT}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ input: PROBE.input }),
  });
  const body = (await res.json()) as { result?: unknown };
  if (body.result !== PROBE.expect) throw new Error(`${name} answered ${JSON.stringify(body)}`);
}

// One start of `server` on `pack`: time to ready and peak memory.
async function start(server: Server, pack: Pack, dir: string, keyPath: string): Promise<Start> {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  let proc: ServerProcess;
  let started: number;
  let dataDir: string | undefined;
  if (server === 'opa') {
    started = performance.now();
    proc = ServerProcess.start('opa', locateOpa().path, [
      'run',
      '--server',
      '--addr',
      `127.0.0.1:${port}`,
      '--log-level',
      'error',
      '-b',
      pack.path,
    ]);
  } else {
    dataDir = await mkdtemp(join(dir, 'data-'));
    const config = join(dataDir, 'agent.yaml');
    await writeFile(
      config,
      [
        `listen: 127.0.0.1:${port}`,
        `data_dir: ${join(dataDir, 'store')}`,
        'log_level: warn',
        'packs:',
        '  - name: big',
        `    source: { file: { path: ${pack.path}, poll_seconds: 3600 } }`,
        `    verify: { public_keys: [${keyPath}] }`,
      ].join('\n'),
    );
    started = performance.now();
    proc = ServerProcess.warden('warden', ['agent', '--config', config]);
  }
  try {
    await until200(server === 'opa' ? `${base}/health?bundles` : `${base}/readyz`, proc);
    const elapsed = performance.now() - started;
    const hwmKiB = vmHwmKiB(proc.pid);
    await checkDecision(base, server);
    return { ms: elapsed, hwmKiB };
  } finally {
    await proc.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  }
}

interface Profile {
  readonly mb: number;
  readonly readMs: number;
  readonly textMs: number;
  readonly instantiateMs: number;
  readonly setDataMs: number;
  readonly heapMB: number;
  readonly parseMs?: number;
  readonly stringifyMs?: number;
  readonly setDataDefaultMemoryMs?: number;
}

// The top of the engine's heap, in bytes.
function heapBytes(policy: Awaited<ReturnType<typeof loadPolicy>>): number {
  const exports = (policy as unknown as { wasmInstance: { exports: { opa_heap_ptr_get: () => number } } }).wasmInstance
    .exports;
  return exports.opa_heap_ptr_get();
}

// The data path in this process, step by step, as loadWasmEngine runs it (memory sized by
// initialPages), and, up to OLD_PATH_MAX_MB, the old path and opa-wasm's default memory.
async function profile(pack: Pack): Promise<Profile> {
  const bytes = await readFile(pack.path);
  let t = performance.now();
  const files = await readPack(bytes);
  const readMs = performance.now() - t;
  const wasm = files.get('policy.wasm') ?? Buffer.alloc(0);
  t = performance.now();
  const text = assembleDataText(files);
  const textMs = performance.now() - t;
  t = performance.now();
  const policy = await loadPolicy(Uint8Array.from(wasm).buffer, { initial: initialPages(text.length) });
  const instantiateMs = performance.now() - t;
  const buffer = Uint8Array.from(text).buffer;
  t = performance.now();
  policy.setData(buffer);
  const setDataMs = performance.now() - t;
  const answer = policy.evaluate(PROBE.input, ENTRYPOINT) as Array<{ result: unknown }>;
  if (answer[0]?.result !== PROBE.expect) throw new Error(`the profiled engine answers ${JSON.stringify(answer)}`);
  const heapMB = heapBytes(policy) / 1e6;
  const old: { -readonly [K in keyof Profile]?: Profile[K] } = {};
  if (pack.mb <= OLD_PATH_MAX_MB) {
    t = performance.now();
    const doc = assembleData(files);
    old.parseMs = performance.now() - t;
    t = performance.now();
    new TextEncoder().encode(JSON.stringify(doc));
    old.stringifyMs = performance.now() - t;
    const grown = await loadPolicy(Uint8Array.from(wasm).buffer, { initial: 5 });
    t = performance.now();
    grown.setData(buffer);
    old.setDataDefaultMemoryMs = performance.now() - t;
  }
  return { mb: pack.mb, readMs, textMs, instantiateMs, setDataMs, heapMB, ...old };
}

function median(xs: readonly number[]): number {
  return percentile(
    [...xs].sort((a, b) => a - b),
    50,
  );
}

function spread(xs: readonly number[], f: (x: number) => string): string {
  return `${f(Math.min(...xs))}–${f(Math.max(...xs))}`;
}

const MB = (kib: number): string => (kib / 1024).toFixed(0);

async function main(): Promise<void> {
  const machine = machineInfo();
  const opaVersion = toolVersion(locateOpa().path, 'version').replace(/^Version: /, 'opa ');
  const dir = await mkdtemp(join(tmpdir(), 'warden-activation-'));
  try {
    const key = await signingKey(dir);
    const packs: Pack[] = [];
    for (const mb of SIZES_MB) {
      const p = await makePack(dir, mb, key);
      console.log(
        `built ${mb} MB: data.json ${p.dataBytes} B (${p.users} users), pack ${p.packBytes} B, buildPack ${ms(p.buildMs)} ms`,
      );
      packs.push(p);
    }
    const starts = new Map<string, Start[]>();
    for (let round = 0; round < ROUNDS; round++) {
      for (const pack of packs) {
        if (pack.mb >= 100 && round >= BIG_ROUNDS) continue;
        const order: Server[] = round % 2 === 0 ? ['warden', 'opa'] : ['opa', 'warden'];
        for (const server of order) {
          const s = await start(server, pack, dir, key.publicPath);
          const k = `${server}:${pack.mb}`;
          starts.set(k, [...(starts.get(k) ?? []), s]);
          console.log(`round ${round + 1} ${server} ${pack.mb} MB: ${ms(s.ms)} ms, VmHWM ${MB(s.hwmKiB)} MiB`);
        }
      }
    }
    const profiles: Profile[] = [];
    for (const pack of packs.filter((p) => p.mb > 0)) profiles.push(await profile(pack));

    const of = (server: Server, mb: number): Start[] => starts.get(`${server}:${mb}`) ?? [];
    const base = {
      warden: median(of('warden', 0).map((s) => s.hwmKiB)),
      opa: median(of('opa', 0).map((s) => s.hwmKiB)),
    };
    const timeRows: string[][] = [];
    const memRows: string[][] = [];
    const summary: Record<string, unknown>[] = [];
    for (const pack of packs) {
      const w = of('warden', pack.mb);
      const o = of('opa', pack.mb);
      const timeRatios = w.map((s, i) => s.ms / (o[i]?.ms ?? NaN));
      const wOver = w.map((s) => s.hwmKiB - base.warden);
      const oOver = o.map((s) => s.hwmKiB - base.opa);
      const memRatios = pack.mb > 0 ? wOver.map((x, i) => x / (oOver[i] ?? NaN)) : [];
      timeRows.push([
        `${pack.mb} MB`,
        String(w.length),
        `${ms(median(w.map((s) => s.ms)))} (${spread(
          w.map((s) => s.ms),
          ms,
        )})`,
        `${ms(median(o.map((s) => s.ms)))} (${spread(
          o.map((s) => s.ms),
          ms,
        )})`,
        `${ratio(median(timeRatios))} (${spread(timeRatios, ratio)})`,
      ]);
      memRows.push([
        `${pack.mb} MB`,
        `${MB(median(w.map((s) => s.hwmKiB)))} / ${pack.mb > 0 ? MB(median(wOver)) : '–'}`,
        `${MB(median(o.map((s) => s.hwmKiB)))} / ${pack.mb > 0 ? MB(median(oOver)) : '–'}`,
        pack.mb > 0 ? `${ratio(median(memRatios))} (${spread(memRatios, ratio)})` : '–',
      ]);
      summary.push({
        mb: pack.mb,
        timeRatio: median(timeRatios),
        memoryOverBaselineRatio: pack.mb > 0 ? median(memRatios) : undefined,
      });
    }
    const opt = (x: number | undefined): string => (x === undefined ? '–' : ms(x));
    const profileRows = profiles.map((p) => [
      `${p.mb} MB`,
      ms(p.readMs),
      ms(p.textMs),
      ms(p.instantiateMs),
      ms(p.setDataMs),
      p.heapMB.toFixed(0),
      opt(p.parseMs),
      opt(p.stringifyMs),
      opt(p.setDataDefaultMemoryMs),
    ]);
    console.log(
      [
        '',
        '# Activation of big data packs: warden agent vs opa run --server',
        '',
        `${machine.cores} cores, ${machine.cpuModel}, ${machine.memoryGiB} GiB, Node ${machine.node}, ${opaVersion}; ${ROUNDS} rounds (${BIG_ROUNDS} at 100 MB and more)`,
        '',
        '## Spawn → serving the pack, ms: median (min–max); ratio: median of per-round Warden/OPA (min–max)',
        '',
        table(['data.json', 'rounds', 'warden agent', 'opa run --server', 'warden / opa'], timeRows),
        '',
        '## Peak resident memory (VmHWM), MiB: median / over the 0 MB baseline; ratio of the over-baseline figures',
        '',
        table(['data.json', 'warden agent', 'opa run --server', 'warden / opa'], memRows),
        '',
        '## In-process profile of the data path, ms (one iteration)',
        '',
        table(
          [
            'data.json',
            'readPack',
            'assembleDataText',
            'instantiate',
            'engine parse',
            'engine heap MB',
            'was: JSON.parse',
            'was: stringify',
            'engine parse, default memory',
          ],
          profileRows,
        ),
      ].join('\n'),
    );
    const path = await writeResults('activation', {
      machine,
      opaVersion,
      packs,
      starts: Object.fromEntries(starts),
      profiles,
      summary,
    });
    console.log(`\nraw results: ${path}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
