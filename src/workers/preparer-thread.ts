/**
 * The engine preparer thread: loads a local engine the way the agent's thread
 * would (loadPackEngine: compile, set the data, check the entrypoints, run the
 * golden decisions), but on a shared memory, and hands it over: the compiled
 * module, the memory and where the data is. It keeps nothing: the engine it
 * built is dropped as soon as it is posted, and this thread never touches that
 * memory again; the agent's thread adopts it (adoptWasmEngine).
 */
import { parentPort } from 'node:worker_threads';
import { loadSharedPackEngine } from '../activate/load-engine.js';
import type { PrepareReply, PrepareRequest } from './preparer-protocol.js';
import { wireError } from './wire-error.js';

const port = parentPort;
if (!port) throw new Error('preparer-thread.ts runs as a worker thread only');
const send = (m: PrepareReply): void => port.postMessage(m);

port.on('message', (m: PrepareRequest) => void prepare(m));

async function prepare(m: PrepareRequest): Promise<void> {
  try {
    const { handover, goldenRun } = await loadSharedPackEngine(m.files, m.manifest);
    send({ t: 'prepared', id: m.id, handover, goldenRun });
  } catch (err) {
    send({ t: 'prepare-failed', id: m.id, error: wireError(err) });
  }
}
