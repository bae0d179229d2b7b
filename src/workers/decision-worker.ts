/**
 * A decision worker thread: holds the engines of the packs it was given and
 * answers decisions on them, one message at a time. It reads each pack from its
 * verified bytes itself (decompress, parse, compile, set data, golden), so none
 * of that runs on the primary thread; while it loads, the primary asks the
 * other workers. It never writes anything: the primary owns the store.
 */
import { parentPort } from 'node:worker_threads';
import { loadPackEngine } from '../activate/load-engine.js';
import type { WasmEngine } from '../engine/wasm.js';
import { parseManifest, MANIFEST_PATH } from '../pack/manifest.js';
import { AGENT_LIMIT_KEYS } from '../pack/limits.js';
import { readPack } from '../pack/reader.js';
import type { FromWorker, ToWorker } from './protocol.js';
import { wireError } from './wire-error.js';

const port = parentPort;
if (!port) throw new Error('decision-worker.ts runs as a worker thread only');
const engines = new Map<number, WasmEngine>();
const send = (m: FromWorker): void => port.postMessage(m);

port.on('message', (m: ToWorker) => {
  if (m.t === 'decide') decide(m);
  else if (m.t === 'load') void load(m);
  else engines.delete(m.id);
});

function decide(m: Extract<ToWorker, { t: 'decide' }>): void {
  const engine = engines.get(m.id);
  if (!engine) {
    send({
      t: 'failed',
      n: m.n,
      error: { code: 'DECISION_WORKER_LOST', name: 'WardenError', message: `pack ${m.id} is not loaded here` },
    });
    return;
  }
  const started = process.hrtime.bigint();
  try {
    const result = engine.evaluateJson(m.path, m.input);
    send({ t: 'decided', n: m.n, result, ns: Number(process.hrtime.bigint() - started) });
  } catch (err) {
    send({ t: 'failed', n: m.n, error: wireError(err) });
  }
}

async function load(m: Extract<ToWorker, { t: 'load' }>): Promise<void> {
  try {
    // The agent's limits, named by its configuration keys in a refusal.
    const bytes = Buffer.from(m.pack.buffer, m.pack.byteOffset, m.pack.byteLength);
    const files = await readPack(bytes, m.limits, { limitKeys: AGENT_LIMIT_KEYS });
    const manifest = parseManifest(files.get(MANIFEST_PATH));
    const { engine, goldenRun } = await loadPackEngine(files, manifest);
    engines.set(m.id, engine);
    send({ t: 'loaded', id: m.id, entrypoints: engine.entrypoints, goldenRun });
  } catch (err) {
    send({ t: 'load-failed', id: m.id, error: wireError(err) });
  }
}
