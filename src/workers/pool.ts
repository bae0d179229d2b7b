/**
 * The decision workers: `size` worker threads, each holding the engine of
 * every pack answered here, and the primary's side of them.
 *
 * - A decision goes to the ready worker with the fewest in flight. Only the
 *   input's and the result's JSON text cross threads.
 * - A pack is loaded one worker at a time (rolling): while one worker reads,
 *   compiles and golden-checks the new pack, the others keep answering, so no
 *   decision waits for an activation when there are two workers or more. The
 *   first worker's load is the candidate check (a refusal there refuses the
 *   pack); the handle is returned once every worker holds it, and the
 *   activator's swap is then one reference assignment.
 * - A worker that dies is replaced (with backoff) and given every pack again;
 *   its decisions in flight are sent once more to another worker, or answered
 *   DECISION_WORKER_LOST (503) when none is left.
 */
import { availableParallelism } from 'node:os';
import type { PooledEngine, RemoteEvaluation } from '../engine/engine.js';
import type { EngineLoader } from '../activate/prepare.js';
import { WardenError } from '../errors.js';
import type { Logger } from '../observe/logger.js';
import type { WardenMetrics } from '../observe/metrics.js';
import { counter, gauge } from '../observe/register.js';
import type { PackLimits } from '../pack/limits.js';
import { WorkerSlot, type Pending } from './worker-slot.js';

/** How the pool is built. */
export interface PoolOptions {
  /** Worker threads; 'auto': the cores available to the process. */
  readonly size: number | 'auto';
  readonly metrics: WardenMetrics;
  readonly log: Logger;
  /** Pack size limits the workers read with. */
  readonly limits: Partial<PackLimits>;
}

const RESTART_MIN_MS = 100;
const RESTART_MAX_MS = 5000;

/** The pool size `size` stands for. */
export function poolSize(size: number | 'auto'): number {
  return size === 'auto' ? Math.max(1, availableParallelism()) : size;
}

/** The decision worker pool. */
export class DecisionPool {
  readonly #slots: WorkerSlot[] = [];
  /** Packs loaded (or loading): what a replacement worker is given. */
  readonly #packs = new Map<number, { readonly name: string; readonly pack: Uint8Array }>();
  readonly #log: Logger;
  readonly #limits: Partial<PackLimits>;
  readonly #workers;
  readonly #restarts;
  readonly #lost;
  readonly #finalizer = new FinalizationRegistry<number>((id) => this.#unload(id));
  #nextId = 0;
  #nextDecision = 0;
  #restartDelay = RESTART_MIN_MS;
  #closed = false;

  constructor(opts: PoolOptions) {
    this.#log = opts.log.child({ component: 'decision-workers' });
    this.#limits = opts.limits;
    this.#workers = gauge(opts.metrics.registry, 'decision_workers');
    this.#restarts = counter(opts.metrics.registry, 'decision_worker_restarts_total');
    this.#lost = counter(opts.metrics.registry, 'decision_worker_lost_total');
    const size = poolSize(opts.size);
    for (let i = 0; i < size; i++) this.#slots.push(this.#spawn());
    this.#publish();
    this.#log.info({ workers: size }, 'decision workers started');
  }

  /** Worker threads in the pool. */
  get size(): number {
    return this.#slots.length;
  }

  /** The activator's engine loader (the workers read the verified bytes themselves). */
  readonly loader: EngineLoader = (pack) => this.load(pack);

  /**
   * Loads a verified pack in every worker, one at a time; rejects with the first
   * worker's coded error (the pack is refused) and then holds it nowhere.
   */
  async load(pack: Uint8Array): Promise<{ engine: PooledEngine; goldenRun: number }> {
    if (this.#closed) throw new WardenError('DECISION_WORKER_LOST', 'the decision workers are closed');
    const id = ++this.#nextId;
    const name = `pack-${id}`;
    this.#packs.set(id, { name, pack: Uint8Array.from(pack) });
    try {
      let first: { entrypoints: readonly string[]; goldenRun: number } | undefined;
      for (let i = 0; i < this.#slots.length; i++) {
        const slot = this.#slots[i];
        if (!slot?.alive || slot.holds.has(id)) continue;
        const loading = slot.load(id, name, pack, this.#limits);
        this.#publish();
        const loaded = await loading;
        first ??= loaded;
        this.#publish();
      }
      if (!first) throw new WardenError('DECISION_WORKER_LOST', 'no decision worker is running to load the pack');
      const engine = this.#handle(id, first.entrypoints);
      return { engine, goldenRun: first.goldenRun };
    } catch (err) {
      this.#unload(id);
      throw err;
    } finally {
      this.#publish();
    }
  }

  /** Terminates worker `index` as if it had crashed: for fault drills and tests. It is replaced like any dead worker. */
  async killWorker(index: number): Promise<void> {
    await this.#slots[index]?.kill();
  }

  /** Stops every worker; decisions in flight are answered DECISION_WORKER_LOST. */
  async close(): Promise<void> {
    this.#closed = true;
    const slots = this.#slots.splice(0);
    await Promise.all(slots.map((s) => s.terminate()));
    for (const s of slots) this.#fail(s, 'the decision workers closed', false);
    this.#packs.clear();
    this.#publish();
  }

  // The engine handle for pack `id`; unloaded from the workers when released (or collected).
  #handle(id: number, entrypoints: readonly string[]): PooledEngine {
    let released = false;
    const handle: PooledEngine = {
      kind: 'pooled',
      entrypoints,
      evaluateJsonAsync: (path, input) => this.#decide(id, path, input),
      release: () => {
        if (released) return;
        released = true;
        this.#finalizer.unregister(handle);
        this.#unload(id);
      },
    };
    this.#finalizer.register(handle, id, handle);
    return handle;
  }

  #decide(id: number, path: string, input: string | undefined): Promise<RemoteEvaluation> {
    return new Promise((resolve, reject) => {
      this.#send({ id, path, input, resolve, reject, retried: false });
    });
  }

  // Sends a decision to the best worker holding its pack, or rejects it when none can take it.
  #send(p: Pending): void {
    const slot = this.#pick(p.id);
    if (!slot) {
      p.reject(
        new WardenError('DECISION_WORKER_LOST', 'no decision worker is running to answer', {
          details: { retried: p.retried },
        }),
      );
      return;
    }
    slot.decide(++this.#nextDecision, p);
  }

  // A ready worker (not loading) with the fewest in flight; a loading one only when no other holds the pack.
  #pick(id: number): WorkerSlot | undefined {
    let best: WorkerSlot | undefined;
    let bestScore = Infinity;
    for (const s of this.#slots) {
      if (!s.alive || !s.holds.has(id)) continue;
      const score = s.inflight.size + (s.loading > 0 ? 1_000_000 : 0);
      if (score < bestScore) {
        best = s;
        bestScore = score;
      }
    }
    return best;
  }

  #unload(id: number): void {
    this.#packs.delete(id);
    for (const s of this.#slots) if (s.holds.has(id)) s.unload(id);
  }

  #spawn(): WorkerSlot {
    return new WorkerSlot((slot, why) => this.#died(slot, why));
  }

  // A worker died: its decisions go elsewhere (once), and a replacement is started after a backoff.
  #died(slot: WorkerSlot, why: string): void {
    if (this.#closed) return;
    this.#log.error({ why, inflight: slot.inflight.size }, 'decision worker died; replacing it');
    this.#fail(slot, `the decision worker died (${why})`, true);
    this.#publish();
    const delay = this.#restartDelay;
    this.#restartDelay = Math.min(this.#restartDelay * 2, RESTART_MAX_MS);
    setTimeout(() => void this.#replace(slot), delay).unref();
  }

  // Answers or re-sends what `slot` had in flight.
  #fail(slot: WorkerSlot, message: string, retry: boolean): void {
    const err = new WardenError('DECISION_WORKER_LOST', message);
    slot.failLoads(err);
    const pending = [...slot.inflight.values()];
    slot.inflight.clear();
    for (const p of pending) {
      if (retry && !p.retried) {
        p.retried = true;
        this.#lost.inc({ outcome: 'retried' });
        this.#send(p);
      } else {
        this.#lost.inc({ outcome: 'lost' });
        p.reject(err);
      }
    }
  }

  async #replace(dead: WorkerSlot): Promise<void> {
    const at = this.#slots.indexOf(dead);
    if (this.#closed || at < 0) return;
    const slot = this.#spawn();
    this.#slots[at] = slot;
    this.#restarts.inc();
    try {
      for (const [id, p] of [...this.#packs]) {
        const loading = slot.load(id, p.name, p.pack, this.#limits);
        this.#publish();
        await loading;
        // Released while this worker was loading it.
        if (!this.#packs.has(id)) slot.unload(id);
      }
      this.#restartDelay = RESTART_MIN_MS;
      this.#log.info({ packs: slot.holds.size }, 'decision worker replaced');
    } catch (err) {
      this.#log.error(
        { err: err instanceof Error ? err.message : String(err) },
        'replacement decision worker failed to load',
      );
    } finally {
      this.#publish();
    }
  }

  /** How many workers are ready, loading a pack, or down (for /healthz). */
  state(): { size: number; ready: number; loading: number; down: number } {
    let ready = 0;
    let loading = 0;
    let down = 0;
    for (const s of this.#slots) {
      if (!s.alive) down++;
      else if (s.loading > 0) loading++;
      else ready++;
    }
    return { size: this.#slots.length, ready, loading, down };
  }

  #publish(): void {
    const { ready, loading, down } = this.state();
    this.#workers.set({ state: 'ready' }, ready);
    this.#workers.set({ state: 'loading' }, loading);
    this.#workers.set({ state: 'down' }, down);
  }
}
