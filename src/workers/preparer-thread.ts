/**
 * The engine preparer thread: loads a local engine the way the agent's thread
 * would (loadPackEngine: compile, set the data, check the entrypoints, run the
 * golden decisions; for `prepare-pack`, reading the verified pack first), but on a shared memory, and hands it over: the compiled
 * module, the memory and where the data is. It keeps nothing: the engine it
 * built is dropped as soon as it is posted, and this thread never touches that
 * memory again; the agent's thread adopts it (adoptWasmEngine).
 */
import { parentPort } from 'node:worker_threads';
import { loadSharedPackEngine } from '../activate/load-engine.js';
import { MANIFEST_PATH, parseManifest, type PackManifest } from '../pack/manifest.js';
import { readPack } from '../pack/reader.js';
import type { PrepareReply, PrepareRequest } from './preparer-protocol.js';
import { wireError } from './wire-error.js';

const port = parentPort;
if (!port) throw new Error('preparer-thread.ts runs as a worker thread only');
const send = (m: PrepareReply): void => port.postMessage(m);

port.on('message', (m: PrepareRequest) => void prepare(m));

async function prepare(m: PrepareRequest): Promise<void> {
  try {
    const { files, manifest } = m.t === 'prepare' ? m : await read(m);
    const { handover, goldenRun } = await loadSharedPackEngine(files, manifest);
    send({ t: 'prepared', id: m.id, handover, goldenRun });
  } catch (err) {
    send({ t: 'prepare-failed', id: m.id, error: wireError(err) });
  }
}

// A verified pack's files and manifest, read here (decompress, untar, limits) instead of on the caller's thread.
async function read(
  m: Extract<PrepareRequest, { t: 'prepare-pack' }>,
): Promise<{ files: ReadonlyMap<string, Uint8Array>; manifest: PackManifest }> {
  const files = await readPack(Buffer.from(m.pack.buffer, m.pack.byteOffset, m.pack.byteLength), m.limits, {
    limitKeys: m.limitKeys,
  });
  return { files, manifest: parseManifest(files.get(MANIFEST_PATH)) };
}
