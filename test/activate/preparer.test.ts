/**
 * The engine preparer (src/workers/preparer.ts): a local engine loaded on the preparer
 * thread and adopted here answers exactly like one loaded on this thread (the example
 * packs, many decisions in a row, host builtins, a large data document); activating a
 * large pack through the real activation path leaves this thread's event loop turning;
 * a preparer thread that dies mid-load refuses the activation with ENGINE_PREPARER_LOST
 * and the last-known-good version keeps answering.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Activator } from '../../src/activate/activator.js';
import { loadPackEngine } from '../../src/activate/load-engine.js';
import { EnginePreparer } from '../../src/workers/preparer.js';
import type { EngineLoader } from '../../src/activate/prepare.js';
import { localEngine } from '../../src/engine/engine.js';
import type { WasmEngine } from '../../src/engine/wasm.js';
import { isWardenError } from '../../src/errors.js';
import { createLogger } from '../../src/observe/logger.js';
import { WardenMetrics } from '../../src/observe/metrics.js';
import { buildPack } from '../../src/pack/build.js';
import { GOLDEN_PATH, MANIFEST_PATH, parseManifest } from '../../src/pack/manifest.js';
import { AGENT_LIMIT_KEYS } from '../../src/pack/limits.js';
import { readPack } from '../../src/pack/reader.js';
import { keyTrust } from '../../src/verify/trust.js';
import { Rng } from '../helpers/fuzz.js';
import { buildFrom, p256, signedBundle } from '../helpers/packs.js';
import { variant } from '../helpers/variants.js';
import { MemoryStore } from './memory-store.js';

const EXAMPLES = new URL('../../examples/', import.meta.url).pathname;
const preparer = new EnginePreparer();
after(() => preparer.close());

type Files = ReadonlyMap<string, Uint8Array>;

// A copy of the files: the preparer takes the buffers of the files it is given.
function copyOf(files: Files): Files {
  return new Map([...files].map(([path, bytes]) => [path, new Uint8Array(bytes)]));
}

async function both(files: Files): Promise<{ here: WasmEngine; adopted: WasmEngine }> {
  const manifest = parseManifest(files.get(MANIFEST_PATH));
  const here = (await loadPackEngine(files, manifest)).engine;
  const adopted = (await preparer.load(copyOf(files), manifest)).engine;
  return { here, adopted };
}

// Inputs for a differential run: the pack's golden inputs, their fields shuffled across each
// other, and values of the wrong shape.
function inputsFor(files: Files, rng: Rng, count: number): Array<string | undefined> {
  const golden = JSON.parse(Buffer.from(files.get(GOLDEN_PATH) ?? Buffer.from('[]')).toString()) as Array<{
    input?: unknown;
  }>;
  const objects = golden
    .map((g) => g.input)
    .filter((i): i is Record<string, unknown> => typeof i === 'object' && i !== null);
  const fields = objects.flatMap((o) => Object.entries(o));
  const out: Array<string | undefined> = [undefined, 'null', '"x"', '[]', '{}', '42'];
  for (const g of golden) out.push(g.input === undefined ? undefined : JSON.stringify(g.input));
  while (out.length < count && fields.length > 0) {
    const base = { ...(objects.length > 0 ? rng.pick(objects) : {}) };
    for (let k = rng.int(4); k > 0; k--) {
      const [key, value] = rng.pick(fields);
      base[key] = value;
    }
    out.push(JSON.stringify(base));
  }
  return out;
}

function sameAnswers(here: WasmEngine, adopted: WasmEngine, inputs: ReadonlyArray<string | undefined>): number {
  assert.deepEqual(adopted.entrypoints, here.entrypoints);
  let n = 0;
  for (const e of here.entrypoints) {
    for (const input of inputs) {
      assert.equal(adopted.evaluateJson(e, input), here.evaluateJson(e, input), `${e} on ${input}`);
      n++;
    }
  }
  return n;
}

describe('engine preparer', () => {
  for (const name of ['authz', 'governance', 'killswitch', 'signalprocessing']) {
    it(`adopted engine answers like one loaded here: examples/${name}`, async (t) => {
      const files = await readPack((await buildPack({ dir: join(EXAMPLES, name), sequence: 1 })).bytes);
      const { here, adopted } = await both(files);
      const n = sameAnswers(here, adopted, inputsFor(files, new Rng(7), 300));
      t.diagnostic(`${n} decisions compared`);
    });
  }

  it('answers many decisions in a row on one adopted engine (its heap is reset each time)', async () => {
    const files = await readPack((await buildPack({ dir: join(EXAMPLES, 'authz'), sequence: 1 })).bytes);
    const { here, adopted } = await both(files);
    const inputs = inputsFor(files, new Rng(11), 60);
    for (let round = 0; round < 50; round++) sameAnswers(here, adopted, inputs);
  });

  it('calls this thread’s host builtins from an adopted engine', async () => {
    const built = await buildFrom({
      'warden.yaml': [
        'name: hb',
        'entrypoints: [hb/out]',
        'golden:',
        '  - { name: semver, entrypoint: hb/out, input: { a: "1.2.3", b: "1.10.0", s: "10KiB" }, expect: { cmp: -1, bytes: 10240, now: true, s: "1.2.3-x" } }',
      ].join('\n'),
      'hb.rego': [
        'package hb',
        'out := {"cmp": semver.compare(input.a, input.b), "bytes": units.parse_bytes(input.s), "now": time.now_ns() > 0, "s": sprintf("%s-%s", [input.a, "x"])}',
        '',
      ].join('\n'),
      'data.json': '{}',
    });
    const files = await readPack(built.bytes);
    const { here, adopted } = await both(files);
    const inputs = [
      '{"a":"1.2.3","b":"1.10.0","s":"10KiB"}',
      '{"a":"2.0.0","b":"1.0.0","s":"1MB"}',
      '{"a":"x","b":"1.0.0","s":"1"}',
    ];
    sameAnswers(here, adopted, inputs);
    assert.equal(adopted.evaluateJson('hb/out', inputs[1]), '{"bytes":1000000,"cmp":1,"now":true,"s":"2.0.0-x"}');
  });

  it('adopts a pack whose data is large, and answers from it', async () => {
    const files = await readPack(await variant(3, { ballast: 50_000 }));
    const { here, adopted } = await both(files);
    sameAnswers(here, adopted, ['{"level":3}', '{"level":12}', undefined]);
    assert.equal(adopted.evaluateJson('app/version', undefined), '3');
  });

  it('takes files that share a buffer or are views into a larger one', async () => {
    const files = await readPack(await variant(4));
    const manifest = parseManifest(files.get(MANIFEST_PATH));
    const handed = new Map<string, Uint8Array>();
    // Every file a view into one larger buffer (not moved: copied), and one file twice over one buffer.
    const joined = Buffer.concat([...files.values()]);
    let at = 0;
    for (const [path, bytes] of files) {
      handed.set(path, joined.subarray(at, at + bytes.byteLength));
      at += bytes.byteLength;
    }
    const twice = new Uint8Array(Buffer.from('{"extra":{"a":1}}'));
    handed.set('extra/data.json', twice);
    handed.set('extra2/data.json', twice);
    const { engine } = await preparer.load(handed, manifest);
    assert.equal(engine.evaluateJson('app/version', undefined), '4');
  });

  it('refuses with the same coded errors as a load here', async () => {
    // A pack whose golden decision is wrong.
    const files = new Map(await readPack(await variant(1)));
    files.set(GOLDEN_PATH, Buffer.from(JSON.stringify([{ name: 'wrong', entrypoint: 'app/version', expect: 99 }])));
    const manifest = parseManifest(files.get(MANIFEST_PATH));
    const here = await loadPackEngine(files, manifest).catch((err: unknown) => err);
    const there = await preparer.load(copyOf(files), manifest).catch((err: unknown) => err);
    assert.ok(isWardenError(here) && isWardenError(there), `${String(here)} / ${String(there)}`);
    assert.equal(there.code, here.code);
    assert.equal(there.message, here.message);
    assert.deepEqual(there.details, here.details);
  });

  it('reads a verified pack on the thread too (loadPack), and refuses one over a limit naming its key', async () => {
    const pack = await variant(5, { ballast: 2_000 });
    const { engine } = await preparer.loadPack(pack, {}, AGENT_LIMIT_KEYS);
    assert.equal(engine.evaluateJson('app/version', undefined), '5');
    assert.equal(engine.evaluateJson('app/allow', '{"level":1}'), 'true');
    const refused = await preparer.loadPack(pack, { maxFileBytes: 1024 }, AGENT_LIMIT_KEYS).catch((e: unknown) => e);
    assert.ok(isWardenError(refused), String(refused));
    assert.match(refused.message, /limits\.max_file_bytes/);
    const next = await preparer.loadPack(await variant(6), {}, AGENT_LIMIT_KEYS);
    assert.equal(next.engine.evaluateJson('app/version', undefined), '6', 'the thread takes the next pack');
  });
});

// Activation through the real path: an Activator whose local engines come from `engines`.
const key = p256();
function activator(engines: EngineLoader | undefined): Activator {
  return new Activator({
    name: 'app',
    sourceKind: 'http',
    origin: 'test',
    trust: keyTrust({ publicKeys: [{ pem: key.publicPem }] }),
    store: new MemoryStore(),
    limits: {},
    metrics: new WardenMetrics({ defaultMetrics: false }),
    log: createLogger('silent'),
    ...(engines ? { engines } : {}),
  });
}
async function update(n: number, ballast = 0): Promise<Parameters<Activator['submit']>[0]> {
  const pack = await variant(n, { ballast });
  return {
    pack,
    signature: await signedBundle(pack, key.privateKey),
    etag: undefined,
    origin: `test/v${n}`,
    correlationId: `c${n}`,
  };
}

// The longest time this thread's event loop did not turn while `work` ran (a 1 ms timer probe, which
// leaves the CPU to the other threads, where a setImmediate loop would keep a core busy).
async function longestStall(work: () => Promise<unknown>): Promise<number> {
  let longest = 0;
  let last = performance.now();
  let running = true;
  const probe = (): void => {
    const now = performance.now();
    longest = Math.max(longest, now - last);
    last = now;
    if (running) setTimeout(probe, 1);
  };
  setTimeout(probe, 1);
  try {
    await work();
    // The gap that ended with the work's last synchronous part is measured by the probe's next turn.
    await new Promise((resolve) => setTimeout(resolve, 2));
  } finally {
    running = false;
  }
  return longest;
}

describe('activation with the engine preparer', () => {
  it('keeps the event loop turning while a large pack is prepared (in-thread load measured in the same test)', async (t) => {
    const big = await update(2, 250_000); // ~25 MB of data
    const small = await update(1);
    const inThread = activator(undefined);
    assert.equal((await inThread.submit(small)).status, 'activated');
    const threadStall = await longestStall(async () => assert.equal((await inThread.submit(big)).status, 'activated'));

    const prepared = activator(preparer.loader);
    assert.equal((await prepared.submit(small)).status, 'activated');
    const preparerStall = await longestStall(async () =>
      assert.equal((await prepared.submit(big)).status, 'activated'),
    );
    t.diagnostic(
      `longest event-loop stall: in-thread ${threadStall.toFixed(0)} ms, preparer ${preparerStall.toFixed(0)} ms`,
    );
    const engine = localEngine(prepared.current?.engine ?? assert.fail('no active pack'));
    assert.equal(engine?.evaluateJson('app/version', undefined), '2');
    // What is left on this thread (reading the pack, copying its files to the preparer, adopting) is a small part of it.
    assert.ok(preparerStall * 4 < threadStall, `preparer ${preparerStall} ms vs in-thread ${threadStall} ms`);
  });

  it('refuses the activation with ENGINE_PREPARER_LOST when the preparer dies mid-load; last-known-good stays', async () => {
    const metrics = new WardenMetrics();
    const own = new EnginePreparer({ metrics });
    try {
      const a = activator(own.loader);
      assert.equal((await a.submit(await update(1))).status, 'activated');
      const pending = a.submit(await update(2, 200_000));
      // Killed while it loads: the load is in flight on the thread.
      await (async () => {
        while (own.state().loading === 0) await new Promise((r) => setImmediate(r));
      })();
      await own.kill();
      const outcome = await pending;
      assert.equal(outcome.status, 'refused');
      assert.ok(
        outcome.status === 'refused' && isWardenError(outcome.error, 'ENGINE_PREPARER_LOST'),
        JSON.stringify(outcome),
      );
      assert.equal(a.current?.revision, 'v1');
      assert.equal(localEngine(a.current.engine)?.evaluateJson('app/version', undefined), '1');
      const exits = (await metrics.registry.getSingleMetric('engine_preparer_exits_total')?.get())?.values;
      assert.equal(exits?.[0]?.value, 1, 'the exit is counted');
      // A new thread takes the next load.
      assert.equal((await a.submit(await update(3))).status, 'activated');
      assert.equal(localEngine(a.current.engine)?.evaluateJson('app/version', undefined), '3');
    } finally {
      await own.close();
    }
  });
});
