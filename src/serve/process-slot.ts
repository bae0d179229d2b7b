/**
 * The primary's side of one serving process: the node:cluster worker, the packs sent to
 * it, and the answers it owes (prepares, listen, metrics). When the process ends, what it
 * owed is settled at once: prepares reject with ServingProcessLost (the pack is not
 * refused for it), a metrics request gets nothing, so nothing waits on a dead process.
 */
import type { Worker } from 'node:cluster';
import type { DecisionLogEvent } from '../decision-log/decision-log-event.js';
import { fromWire } from '../workers/wire-error.js';
import type { FromServing, MetricJson, PackMeta, ToServing } from './protocol.js';

/** A serving process ended while it owed an answer. */
export class ServingProcessLost extends Error {
  override readonly name = 'ServingProcessLost';
}

interface Waiter<T> {
  resolve(value: T): void;
  reject(err: Error): void;
}

/** What the slot reports to the process set. */
export interface SlotHooks {
  readonly onDecisions: (events: readonly DecisionLogEvent[], at: readonly number[]) => void;
  readonly onExit: (slot: ProcessSlot, why: string) => void;
  /** The process is about to be killed for not answering. */
  readonly onHung: (slot: ProcessSlot, why: string) => void;
}

/** One serving process, seen from the primary. */
export class ProcessSlot {
  state: 'starting' | 'ready' | 'down' = 'starting';
  /** Pack ids sent to it (prepared, being prepared, or committed). */
  readonly holds = new Set<number>();
  readonly #prepares = new Map<number, Waiter<void>[]>();
  readonly #metrics = new Map<number, (m: readonly MetricJson[] | undefined) => void>();
  #listening: Waiter<number> | undefined;
  #exited: Promise<void>;
  #closing = false;
  #n = 0;
  /** Messages sent before the process said it takes them. */
  #queued: ToServing[] | undefined = [];
  /** Prepare timers to start once the process takes messages. */
  #armOnReady: (() => void)[] = [];

  constructor(
    readonly worker: Worker,
    private readonly hooks: SlotHooks,
  ) {
    worker.on('message', (m: FromServing) => this.#received(m));
    // An IPC write to a process that just died: its exit settles everything.
    worker.on('error', () => undefined);
    this.#exited = new Promise((resolve) => {
      worker.on('exit', (code, signal) => {
        this.#ended(signal ? `killed by ${signal}` : `exited with code ${code}`);
        resolve();
      });
    });
  }

  /** Whether the slot is stopping on the primary's request (its exit is no crash). */
  get closing(): boolean {
    return this.#closing;
  }

  send(m: ToServing): void {
    if (this.state === 'down') return;
    if (this.#queued) this.#queued.push(m);
    else if (this.worker.isConnected()) this.worker.send(m);
  }

  /**
   * Sends pack `id` to be prepared; resolves when it is, rejects with its coded error or
   * ServingProcessLost. A process that has not answered after `timeoutMs` is taken for hung and
   * killed (its exit rejects the prepare; it is replaced like a process that died).
   */
  prepare(id: number, name: string, pack: Uint8Array, timeoutMs: number): Promise<void> {
    if (this.state === 'down') return Promise.reject(new ServingProcessLost('the serving process is down'));
    this.holds.add(id);
    return new Promise((resolve, reject) => {
      const waiting = this.#prepares.get(id);
      if (waiting) {
        waiting.push({ resolve, reject });
        return;
      }
      // The clock starts when the process takes messages (a new process boots first).
      let timer: NodeJS.Timeout | undefined;
      const arm = (): void => {
        if (!this.#prepares.has(id)) return;
        timer = setTimeout(() => {
          if (!this.#prepares.has(id)) return;
          this.hooks.onHung(this, `did not prepare pack ${name} within ${timeoutMs} ms`);
          this.worker.process.kill('SIGKILL');
        }, timeoutMs);
        timer.unref();
      };
      const done =
        <T>(f: (v: T) => void) =>
        (v: T) => {
          clearTimeout(timer);
          f(v);
        };
      this.#prepares.set(id, [{ resolve: done(resolve), reject: done(reject) }]);
      this.send({ t: 'prepare', id, name, pack });
      if (this.#queued) this.#armOnReady.push(arm);
      else arm();
    });
  }

  commit(id: number, seq: number, meta: PackMeta): void {
    this.send({ t: 'commit', id, seq, meta });
  }

  drop(id: number): void {
    if (this.holds.delete(id)) this.send({ t: 'drop', id });
  }

  /** Asks the process to listen on the agent's address; its port. */
  listen(): Promise<number> {
    return new Promise((resolve, reject) => {
      this.#listening = { resolve, reject };
      this.send({ t: 'listen' });
    });
  }

  /** The process's counters and histograms; undefined when it does not answer within `timeoutMs`. */
  metrics(timeoutMs: number): Promise<readonly MetricJson[] | undefined> {
    if (this.state === 'down') return Promise.resolve(undefined);
    const n = ++this.#n;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#metrics.delete(n);
        resolve(undefined);
      }, timeoutMs);
      this.#metrics.set(n, (m) => {
        clearTimeout(timer);
        resolve(m);
      });
      this.send({ t: 'metrics', n });
    });
  }

  /** Asks the process to finish what is in flight and exit; killed after `timeoutMs`. */
  async close(timeoutMs: number): Promise<void> {
    this.#closing = true;
    if (this.state !== 'down') {
      this.send({ t: 'close' });
      const timer = setTimeout(() => this.worker.process.kill('SIGKILL'), timeoutMs);
      await this.#exited;
      clearTimeout(timer);
    }
  }

  /** Ends the process abruptly, as a crash would (fault drills and tests). */
  async kill(): Promise<void> {
    this.worker.process.kill('SIGKILL');
    await this.#exited;
  }

  #received(m: FromServing): void {
    switch (m.t) {
      case 'ready': {
        const queued = this.#queued ?? [];
        this.#queued = undefined;
        for (const q of queued) this.send(q);
        for (const arm of this.#armOnReady.splice(0)) arm();
        return;
      }
      case 'prepared':
      case 'prepare-failed': {
        const waiting = this.#prepares.get(m.id) ?? [];
        this.#prepares.delete(m.id);
        if (m.t === 'prepare-failed') this.holds.delete(m.id);
        for (const w of waiting) {
          if (m.t === 'prepared') w.resolve();
          else w.reject(fromWire(m.error));
        }
        return;
      }
      case 'listening':
        this.#listening?.resolve(m.port);
        this.#listening = undefined;
        return;
      case 'listen-failed':
        this.#listening?.reject(fromWire(m.error));
        this.#listening = undefined;
        return;
      case 'metrics':
        this.#metrics.get(m.n)?.(m.metrics);
        this.#metrics.delete(m.n);
        return;
      case 'decisions':
        this.hooks.onDecisions(m.events, m.at);
        return;
      case 'closed':
        return;
    }
  }

  #ended(why: string): void {
    this.state = 'down';
    const lost = new ServingProcessLost(`the serving process ${why}`);
    for (const waiting of this.#prepares.values()) for (const w of waiting) w.reject(lost);
    this.#prepares.clear();
    for (const answer of this.#metrics.values()) answer(undefined);
    this.#metrics.clear();
    this.#listening?.reject(lost);
    this.#listening = undefined;
    this.holds.clear();
    this.hooks.onExit(this, why);
  }
}
