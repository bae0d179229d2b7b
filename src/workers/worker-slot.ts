/**
 * One decision worker thread as the primary sees it: the packs it holds, the
 * decisions it has in flight, whether it is loading. Messages to it are taken
 * in order, so a decision sent before an unload is answered before it.
 */
import { Worker } from 'node:worker_threads';
import type { RemoteEvaluation } from '../engine/engine.js';
import type { PackLimits } from '../pack/limits.js';
import type { FromWorker, ToWorker } from './protocol.js';
import { threadEntry } from './thread-entry.js';
import { fromWire } from './wire-error.js';

// The worker's entry beside this file: decision-worker.js when built, the .ts through tsx from source.
const ENTRY = threadEntry('decision-worker', import.meta.url);

/** A decision sent to a worker and not yet answered. */
export interface Pending {
  readonly id: number;
  readonly path: string;
  readonly input: string | undefined;
  readonly resolve: (answer: RemoteEvaluation) => void;
  readonly reject: (err: Error) => void;
  /** Set once the decision was re-sent after its first worker died. */
  retried: boolean;
}

/** What a load gives back. */
export interface LoadResult {
  readonly entrypoints: readonly string[];
  readonly goldenRun: number;
}

/** One worker thread. */
export class WorkerSlot {
  readonly inflight = new Map<number, Pending>();
  /** Pack ids this worker holds. */
  readonly holds = new Set<number>();
  /** Loads in progress: while > 0 the pool asks another worker when one is ready. */
  loading = 0;
  alive = true;
  readonly #worker: Worker;
  readonly #loads = new Map<
    number,
    { promise: Promise<LoadResult>; resolve: (r: LoadResult) => void; reject: (e: Error) => void }
  >();

  constructor(onExit: (slot: WorkerSlot, why: string) => void) {
    this.#worker = new Worker(ENTRY);
    this.#worker.on('message', (m: FromWorker) => this.#receive(m));
    this.#worker.on('error', (err) => {
      this.alive = false;
      onExit(this, err.message);
    });
    this.#worker.on('exit', (code) => {
      if (!this.alive) return;
      this.alive = false;
      onExit(this, `exited with status ${code}`);
    });
  }

  /** Loads pack `id` (verified bytes) into this worker; a second call while it loads gets the same promise. */
  load(id: number, name: string, pack: Uint8Array, limits: Partial<PackLimits>): Promise<LoadResult> {
    const running = this.#loads.get(id);
    if (running) return running.promise;
    this.loading++;
    let resolve!: (r: LoadResult) => void;
    let reject!: (e: Error) => void;
    const promise = new Promise<LoadResult>((res, rej) => {
      resolve = res;
      reject = rej;
    }).finally(() => this.loading--);
    this.#loads.set(id, { promise, resolve, reject });
    this.#post({ t: 'load', id, name, pack, limits });
    return promise;
  }

  /** Drops pack `id` from this worker. */
  unload(id: number): void {
    this.holds.delete(id);
    if (this.alive) this.#post({ t: 'unload', id });
  }

  /** Sends one decision; `n` identifies it. */
  decide(n: number, pending: Pending): void {
    this.inflight.set(n, pending);
    this.#post({ t: 'decide', n, id: pending.id, path: pending.path, input: pending.input });
  }

  /** Fails every load in progress (the worker died). */
  failLoads(err: Error): void {
    for (const l of this.#loads.values()) l.reject(err);
    this.#loads.clear();
  }

  /** Ends the thread abruptly; the pool sees an unexpected exit (a crash). */
  async kill(): Promise<void> {
    await this.#worker.terminate();
  }

  /** Stops the thread. */
  async terminate(): Promise<void> {
    this.alive = false;
    await this.#worker.terminate();
  }

  #post(m: ToWorker): void {
    this.#worker.postMessage(m);
  }

  #receive(m: FromWorker): void {
    if (m.t === 'decided' || m.t === 'failed') {
      const p = this.inflight.get(m.n);
      if (!p) return;
      this.inflight.delete(m.n);
      if (m.t === 'decided') p.resolve({ resultJson: m.result, ns: m.ns });
      else p.reject(fromWire(m.error));
      return;
    }
    const l = this.#loads.get(m.id);
    if (!l) return;
    this.#loads.delete(m.id);
    if (m.t === 'loaded') {
      this.holds.add(m.id);
      l.resolve({ entrypoints: m.entrypoints, goldenRun: m.goldenRun });
    } else {
      l.reject(fromWire(m.error));
    }
  }
}
