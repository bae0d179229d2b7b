/**
 * Builds local engines off the calling thread: the agent's engine preparer. One
 * worker thread (preparer-thread.ts), started at the first load, compiles the
 * pack's module, parses its data into a shared memory and runs its golden
 * decisions; this thread then only adopts the result (adoptWasmEngine: a new
 * instance over that memory, O(1) in the data's size), so that activating a
 * pack with tens of MB of data does not hold up the decisions answered here.
 *
 * If the thread dies, every load in flight is refused with ENGINE_PREPARER_LOST
 * (the activation fails like any failed load; last-known-good stays) and the
 * next load starts a new thread. The thread is unreferenced while idle, so it
 * never keeps a process alive.
 */
import { Worker } from 'node:worker_threads';
import { adoptWasmEngine } from '../engine/wasm.js';
import { WardenError, messageOf } from '../errors.js';
import type { Logger } from '../observe/logger.js';
import type { WardenMetrics } from '../observe/metrics.js';
import { counter } from '../observe/register.js';
import type { LimitKeys, PackLimits } from '../pack/limits.js';
import type { PackManifest } from '../pack/manifest.js';
import type { LoadedEngine } from '../activate/load-engine.js';
import type { EngineLoader } from '../activate/prepare.js';
import type { PrepareReply, PrepareRequest } from './preparer-protocol.js';
import { threadEntry } from './thread-entry.js';
import { fromWire } from './wire-error.js';

const ENTRY = threadEntry('preparer-thread', import.meta.url);

// The view's buffer when the view spans all of it (so moving it takes nothing else along).
function ownsBuffer(bytes: Uint8Array): ArrayBuffer | undefined {
  const { buffer } = bytes;
  return buffer instanceof ArrayBuffer && bytes.byteOffset === 0 && bytes.byteLength === buffer.byteLength
    ? buffer
    : undefined;
}

interface Load {
  readonly resolve: (loaded: LoadedEngine) => void;
  readonly reject: (err: Error) => void;
}

/** The preparer's thread and the loads it has in flight. */
class PreparerThread {
  readonly loads = new Map<number, Load>();
  alive = true;
  readonly worker: Worker;

  constructor(onExit: (thread: PreparerThread, why: string) => void) {
    this.worker = new Worker(ENTRY);
    this.worker.unref();
    this.worker.on('message', (m: PrepareReply) => this.#receive(m));
    this.worker.on('error', (err) => this.#exit(onExit, err.message));
    this.worker.on('exit', (code) => this.#exit(onExit, `exited with status ${code}`));
  }

  post(request: PrepareRequest, load: Load): void {
    if (this.loads.size === 0) this.worker.ref();
    this.loads.set(request.id, load);
    // A file that is the whole of its buffer (readPack allocates each file its own) is moved to
    // the thread, not copied: copying 26 MB of data cost 130–210 ms on this thread here (fresh
    // pages), as does a structured clone. Anything else (a view into a larger buffer) is copied.
    // A pack's bytes (prepare-pack) are small next to its data: copied.
    if (request.t === 'prepare-pack') {
      this.worker.postMessage(request);
      return;
    }
    const transfer = new Set<ArrayBuffer>();
    const files = new Map<string, Uint8Array>();
    for (const [path, bytes] of request.files) {
      const owned = ownsBuffer(bytes);
      if (owned) transfer.add(owned);
      files.set(path, owned ? bytes : new Uint8Array(bytes));
    }
    try {
      this.worker.postMessage({ ...request, files }, [...transfer]);
    } catch {
      // A buffer that cannot be moved (marked untransferable): everything is copied instead.
      this.worker.postMessage(request);
    }
  }

  #settle(id: number): Load | undefined {
    const load = this.loads.get(id);
    this.loads.delete(id);
    if (this.loads.size === 0 && this.alive) this.worker.unref();
    return load;
  }

  #receive(m: PrepareReply): void {
    const load = this.#settle(m.id);
    if (!load) return;
    if (m.t === 'prepare-failed') {
      load.reject(fromWire(m.error));
      return;
    }
    try {
      load.resolve({ engine: adoptWasmEngine(m.handover), goldenRun: m.goldenRun });
    } catch (err) {
      // The module instantiated and answered on the preparer thread: only its adoption failed.
      load.reject(
        new WardenError('PACK_MANIFEST_INVALID', `policy.wasm does not load: its adoption failed: ${messageOf(err)}`, {
          cause: err,
        }),
      );
    }
  }

  #exit(onExit: (thread: PreparerThread, why: string) => void, why: string): void {
    if (!this.alive) return;
    this.alive = false;
    const err = new WardenError('ENGINE_PREPARER_LOST', `the engine preparer thread ${why} while loading the pack`, {
      details: { why },
    });
    for (const load of this.loads.values()) load.reject(err);
    this.loads.clear();
    onExit(this, why);
  }
}

/** The agent's engine preparer: an EngineLoader for local engines that loads on its own thread. */
export class EnginePreparer {
  #thread: PreparerThread | undefined;
  #next = 0;
  #closed = false;
  readonly #log: Logger | undefined;
  readonly #exits: { inc(): void } | undefined;

  constructor(opts: { readonly log?: Logger; readonly metrics?: WardenMetrics } = {}) {
    this.#log = opts.log;
    this.#exits =
      opts.metrics === undefined ? undefined : counter(opts.metrics.registry, 'engine_preparer_exits_total');
  }

  /** The loader to give an activator: (pack, files, manifest) → a local engine, adopted on this thread. */
  readonly loader: EngineLoader = (_pack, files, manifest) => this.load(files, manifest);

  /**
   * Loads a read pack's engine on the preparer thread and adopts it here; rejects with a coded error.
   * The files are handed over: a file whose bytes are the whole of their buffer is moved to the
   * thread (its buffer is detached here), so the caller must not read `files` afterwards.
   */
  load(files: ReadonlyMap<string, Uint8Array>, manifest: PackManifest): Promise<LoadedEngine> {
    if (this.#closed) {
      return Promise.reject(new WardenError('ENGINE_PREPARER_LOST', 'the engine preparer is closed'));
    }
    const thread = this.#running();
    const id = ++this.#next;
    return new Promise<LoadedEngine>((resolve, reject) => {
      thread.post({ t: 'prepare', id, files, manifest }, { resolve, reject });
    });
  }

  /**
   * Reads a verified pack and loads its engine, both on the preparer thread (a serving process:
   * nothing of the load runs on the thread that answers); rejects with a coded error.
   */
  loadPack(pack: Uint8Array, limits: Partial<PackLimits>, limitKeys: LimitKeys): Promise<LoadedEngine> {
    if (this.#closed) {
      return Promise.reject(new WardenError('ENGINE_PREPARER_LOST', 'the engine preparer is closed'));
    }
    const thread = this.#running();
    const id = ++this.#next;
    return new Promise<LoadedEngine>((resolve, reject) => {
      thread.post({ t: 'prepare-pack', id, pack, limits, limitKeys }, { resolve, reject });
    });
  }

  /** Whether a thread is running now (it starts at the first load), and how many loads it has in flight. */
  state(): { readonly running: boolean; readonly loading: number } {
    const thread = this.#thread;
    return { running: thread?.alive === true, loading: thread?.loads.size ?? 0 };
  }

  /** Ends the thread abruptly, as a crash would (fault drills and tests): loads in flight are refused. */
  async kill(): Promise<void> {
    await this.#thread?.worker.terminate();
  }

  /** Stops the thread; loads in flight are refused with ENGINE_PREPARER_LOST. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#thread?.worker.terminate();
    this.#thread = undefined;
  }

  #running(): PreparerThread {
    if (this.#thread?.alive) return this.#thread;
    this.#thread = new PreparerThread((dead, why) => {
      if (this.#closed) return;
      this.#exits?.inc();
      this.#log?.warn(
        { why, code: 'ENGINE_PREPARER_LOST' },
        'engine preparer thread stopped; the next load starts a new one',
      );
      if (this.#thread === dead) this.#thread = undefined;
    });
    return this.#thread;
  }
}
