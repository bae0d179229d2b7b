/**
 * The decision log (docs/design.md#no-io-on-the-decision-path: artifact writing on the request
 * path is forbidden). enqueue() is the only request-path call: it stores the
 * event and its time in a preallocated ring (decision-log-queue.ts) and at most
 * schedules the writer; no I/O, no logging, no serialisation, never throws.
 * A full ring drops its oldest event, counted in
 * `warden_decision_log_dropped_total{reason="overflow"}`. Measured: ~60 ns
 * a call over a no-op call, two thirds of it Date.now() on a VM clock
 * (bench/decision-log.bench.ts).
 *
 * The lines are made and written by a writer thread (writer-thread.ts,
 * decision-log-writer.ts), not by the thread that answers decisions: the queue,
 * its drop counters and the metrics stay here; the thread owns the files and
 * the formatter. Every flushIntervalMs, and in between as soon as batchSize
 * events wait (full batches only), batches of at most batchSize are handed to
 * it, one at a time: the next leaves when the thread has answered the last
 * (so at most one batch is in flight). A failed write is counted, logged once
 * per failure episode, and its batch goes back in front of the ring, oldest
 * dropped if it does not fit, so a dead disk costs at most queueLimit +
 * batchSize events of memory (twice batchSize while one is in flight: the
 * thread holds its copy). While failing, only the timer retries. close() drains.
 *
 * A writer thread that ends unexpectedly is counted
 * (`warden_decision_log_writer_exit_total`), logged and replaced after a
 * backoff (100 ms doubling to 30 s, reset by a successful write); the batch it
 * held counts as a failed write and is retried, so it may be written twice
 * (the same decision_id) but is not lost. A batch in flight at two exits in a
 * row is dropped, counted as `dropped_total{reason="writer_exit"}`.
 *
 * With `service`, a shipper (shipper.ts) uploads the files to a collector from a
 * timer of this thread, reading what the writer wrote: never on enqueue.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Registry } from 'prom-client';
import { messageOf } from '../errors.js';
import type { Logger } from '../observe/logger.js';
import { WARDEN_VERSION } from '../project.js';
import { counter } from '../observe/register.js';
import { scrapedCounter } from '../observe/scraped-counter.js';
import { Backoff } from '../util/backoff.js';
import type { DecisionLogEvent, DecisionLogLabels } from './decision-log-event.js';
import { RingQueue, type Batch } from './decision-log-queue.js';
import { DecisionLogShipper, type ShipperSettings } from './shipper.js';
import { WriterExited, WriterThread, type WriterInit, type WriterReply } from './writer-thread.js';

export type { DecisionLogEvent, DecisionLogLabels } from './decision-log-event.js';
export { decisionEvent, jsonDecisionEvent } from './decision-log-event.js';

/** Options of a {@link DecisionLog}. */
export interface DecisionLogOptions {
  /** Folder of the `decisions-<timestamp>.ndjson` files; created when first written. */
  readonly dir: string;
  /** Events waiting at most; default 10,000. */
  readonly queueLimit?: number;
  /** Events per write at most; default 500. */
  readonly batchSize?: number;
  /** Longest wait before queued events are written; default 1000 ms. */
  readonly flushIntervalMs?: number;
  /** A file is rotated before it would pass this; default 64 MiB. */
  readonly maxFileBytes?: number;
  /** Files kept, the open one included; default 10. */
  readonly maxFiles?: number;
  /** Added to every line; `id` defaults to a fresh UUID, `version` to Warden's. */
  readonly labels?: Readonly<Record<string, string>>;
  /** Present: the files are also shipped to this collector (shipper.ts), off the request path. */
  readonly service?: ShipperSettings;
  /** Where `warden_decision_log_*` are registered (WardenMetrics.registry); none if absent. */
  readonly registry?: Registry;
  readonly log: Logger;
}

const MiB = 2 ** 20;
const DEFAULT_DRAIN_MS = 10_000;
/** Pause between retries of a failing write while draining. */
const DRAIN_RETRY_MS = 100;
/** Wait before replacing a writer thread that ended: doubles per exit in a row. */
const RESTART = { baseMs: 100, maxMs: 30_000 } as const;

type DropReason = 'overflow' | 'closed' | 'invalid' | 'writer_exit';

let writerOfLog: (log: DecisionLog) => WriterThread | undefined;

/** Asynchronous, bounded, batched NDJSON decision log. */
export class DecisionLog {
  readonly #queue: RingQueue<DecisionLogEvent>;
  readonly #init: WriterInit;
  readonly #batchSize: number;
  readonly #intervalMs: number;
  readonly #log: Logger;
  readonly #dropped: Record<DropReason, number>;
  readonly #written;
  readonly #failures;
  readonly #writerExits;
  readonly #restart = new Backoff({ ...RESTART, jitter: 'equal' });
  /** The timer's wake: what was queued by now goes out, however little. */
  readonly #wake = (): void => void this.#pump(false);
  /** A full batch is waiting: write full batches only (the rest waits for the timer). */
  readonly #wakeFull = (): void => void this.#pump(true);
  #timer: NodeJS.Timeout | undefined;
  #writing: Promise<void> | undefined;
  #scheduled = false;
  #failing = false;
  #closed = false;
  #droppedReported = 0;
  #writer: WriterThread | undefined;
  readonly #shipper: DecisionLogShipper | undefined;
  /** No new writer thread before this (performance.now()): the backoff after one ended. */
  #restartAt = 0;
  /** Writer threads that ended holding a batch since the last successful write. */
  #exitsWithBatch = 0;
  /** close() has ended the writer thread: no other starts. */
  #ended = false;

  static {
    writerOfLog = (log) => log.#writer;
  }

  constructor(opts: DecisionLogOptions) {
    const positive = (name: string, v: number): number => {
      if (!Number.isSafeInteger(v) || v < 1) throw new RangeError(`${name} must be a positive integer, got ${v}`);
      return v;
    };
    this.#queue = new RingQueue(positive('queueLimit', opts.queueLimit ?? 10_000));
    this.#batchSize = positive('batchSize', opts.batchSize ?? 500);
    this.#intervalMs = positive('flushIntervalMs', opts.flushIntervalMs ?? 1000);
    const labels: DecisionLogLabels = Object.freeze({
      ...opts.labels,
      id: opts.labels?.id ?? randomUUID(),
      version: opts.labels?.version ?? WARDEN_VERSION,
    });
    this.#init = {
      dir: opts.dir,
      maxFileBytes: positive('maxFileBytes', opts.maxFileBytes ?? 64 * MiB),
      maxFiles: positive('maxFiles', opts.maxFiles ?? 10),
      labels,
    };
    this.#log = opts.log;
    this.#dropped = scrapedCounter(opts.registry, 'warden_decision_log_dropped_total', [
      'overflow',
      'closed',
      'invalid',
      'writer_exit',
    ]);
    this.#written = counter(opts.registry, 'warden_decision_log_written_total');
    this.#failures = counter(opts.registry, 'warden_decision_log_write_failure_total');
    this.#writerExits = counter(opts.registry, 'warden_decision_log_writer_exit_total');
    this.#shipper =
      opts.service === undefined
        ? undefined
        : new DecisionLogShipper({
            ...opts.service,
            dir: opts.dir,
            log: opts.log,
            ...(opts.registry === undefined ? {} : { registry: opts.registry }),
          });
  }

  /** The shipper, when `service` is configured. */
  get shipper(): DecisionLogShipper | undefined {
    return this.#shipper;
  }

  /**
   * Queues one event for the writer: O(1), no I/O, never throws. A full queue drops its oldest event.
   * `at` (epoch ms) is when the decision was made; default now (a serving process gives its own, src/serve/).
   */
  enqueue(event: DecisionLogEvent, at: number = Date.now()): void {
    if (this.#closed) {
      this.#dropped.closed++;
      return;
    }
    if (this.#queue.push(event, at)) this.#dropped.overflow++;
    if (this.#queue.length >= this.#batchSize && !this.#scheduled && !this.#failing && this.#timer !== undefined) {
      this.#scheduled = true;
      setImmediate(this.#wakeFull);
    }
  }

  /** Events waiting to be written. */
  get queued(): number {
    return this.#queue.length;
  }

  /** Starts the background writer and its thread (idempotent). */
  start(): void {
    if (this.#timer !== undefined || this.#closed) return;
    this.#writerNow();
    this.#timer = setInterval(this.#wake, this.#intervalMs);
    this.#timer.unref();
    this.#shipper?.start();
  }

  /** Writes everything queued, retrying failed writes until `timeoutMs`; then logs what is left. Never rejects. */
  async drain(timeoutMs = DEFAULT_DRAIN_MS): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, Math.max(0, timeoutMs));
    });
    try {
      while ((this.#queue.length > 0 || this.#writing !== undefined) && performance.now() < deadline) {
        await Promise.race([this.#pump(false), expired]);
        if (this.#failing && this.#queue.length > 0)
          await Promise.race([new Promise((r) => setTimeout(r, DRAIN_RETRY_MS)), expired]);
      }
    } finally {
      clearTimeout(timer);
    }
    if (this.#queue.length > 0) {
      this.#log.warn(
        { code: 'DECISION_LOG_WRITE_FAILED', dir: this.#init.dir, queued: this.#queue.length, timeout_ms: timeoutMs },
        'decision log not drained in time',
      );
    }
  }

  /** Stops accepting events (later ones are counted as dropped), drains, closes the file and ends the writer thread. */
  async close(timeoutMs = DEFAULT_DRAIN_MS): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    const deadline = performance.now() + timeoutMs;
    await this.drain(timeoutMs);
    this.#ended = true;
    const writer = this.#writer;
    this.#writer = undefined;
    const err = await writer?.close(deadline - performance.now());
    await this.#shipper?.close();
    if (err !== undefined)
      this.#log.warn(
        { code: 'DECISION_LOG_WRITE_FAILED', dir: this.#init.dir, err },
        'closing the decision log failed',
      );
  }

  // Runs one write loop at a time; callers during a loop share it.
  #pump(fullOnly: boolean): Promise<void> {
    this.#scheduled = false;
    this.#writing ??= this.#writeAll(fullOnly)
      .catch((err: unknown) => this.#log.error({ code: 'INTERNAL', err: messageOf(err) }, 'decision log writer failed'))
      .finally(() => {
        this.#writing = undefined;
      });
    return this.#writing;
  }

  // Writes full batches, and (unless fullOnly) the events queued when it started; stops on a failed write;
  // reports drops since last time. Events arriving during a write wait for a full batch or the next tick
  // of the timer: writing them as they trickle in would serialise two events per write under steady load
  // (measured: bench/verdict.bench.ts), costing the request path a turn per verdict.
  async #writeAll(fullOnly: boolean): Promise<void> {
    let owed = fullOnly ? 0 : this.#queue.length;
    while (this.#queue.length >= this.#batchSize || (owed > 0 && this.#queue.length > 0)) {
      owed -= Math.min(this.#batchSize, this.#queue.length);
      if (!(await this.#writeBatch())) break;
    }
    const dropped = this.#dropped.overflow + this.#dropped.invalid;
    if (dropped > this.#droppedReported) {
      this.#log.warn(
        { code: 'DECISION_LOG_OVERFLOW', dropped: dropped - this.#droppedReported, queue_limit: this.#queue.capacity },
        'decision log events dropped',
      );
      this.#droppedReported = dropped;
    }
  }

  // Hands one batch to the writer thread; on failure puts it back (dropping what no longer fits) and returns false.
  // Without a writer thread (one ended and the backoff runs) nothing is taken.
  async #writeBatch(): Promise<boolean> {
    const writer = this.#writerNow();
    if (writer === undefined) return false;
    const batch = this.#queue.take(this.#batchSize);
    if (batch.items.length === 0) return true;
    let reply: WriterReply;
    try {
      reply = await writer.write(batch.items, batch.times);
    } catch (err) {
      return this.#failed(err instanceof WriterExited ? this.#heldByExited(batch) : batch, messageOf(err));
    }
    if (reply.invalid.length > 0) this.#dropped.invalid += reply.invalid.length;
    if (reply.error !== undefined) return this.#failed(withoutInvalid(batch, reply.invalid), reply.error);
    this.#written.inc(reply.lines);
    this.#exitsWithBatch = 0;
    this.#restart.reset();
    if (this.#failing) this.#log.info({ dir: this.#init.dir }, 'decision log writes recovered');
    this.#failing = false;
    return true;
  }

  // A failed write: counted, logged once per episode, its batch (if any) back in front of the ring.
  #failed(batch: Batch<DecisionLogEvent> | undefined, err: string): false {
    this.#failures.inc();
    if (batch !== undefined) this.#dropped.overflow += this.#queue.restore(batch);
    if (!this.#failing)
      this.#log.error(
        { code: 'DECISION_LOG_WRITE_FAILED', dir: this.#init.dir, err },
        'writing the decision log failed; retrying',
      );
    this.#failing = true;
    return false;
  }

  // The batch a writer thread held when it ended: retried, unless the last thread also ended holding one.
  #heldByExited(batch: Batch<DecisionLogEvent>): Batch<DecisionLogEvent> | undefined {
    this.#exitsWithBatch++;
    if (this.#exitsWithBatch < 2) return batch;
    this.#dropped.writer_exit += batch.items.length;
    this.#log.error(
      { code: 'DECISION_LOG_WRITE_FAILED', dir: this.#init.dir, dropped: batch.items.length },
      'decision log events dropped: the writer thread ended twice in a row while writing them',
    );
    return undefined;
  }

  // The writer thread, started if there is none and no backoff runs; undefined while one does.
  #writerNow(): WriterThread | undefined {
    if (this.#writer !== undefined || this.#ended || performance.now() < this.#restartAt) return this.#writer;
    try {
      const writer = new WriterThread(this.#init, (reason) => this.#writerExited(writer, reason));
      this.#writer = writer;
    } catch (err) {
      this.#writerExited(undefined, messageOf(err));
    }
    return this.#writer;
  }

  // A writer thread ended unexpectedly (or could not start): counted, logged, replaced after the backoff.
  #writerExited(writer: WriterThread | undefined, reason: string): void {
    if (writer === undefined || this.#writer === writer) this.#writer = undefined;
    this.#writerExits.inc();
    const delayMs = this.#restart.next();
    this.#restartAt = performance.now() + delayMs;
    this.#failing = true;
    this.#log.error(
      { code: 'DECISION_LOG_WRITE_FAILED', dir: this.#init.dir, err: reason, restart_in_ms: delayMs },
      'decision log writer thread ended; a new one starts after the backoff',
    );
  }
}

/** The writer thread of `log`, while one runs: for tests and diagnostics (not exported by the package). */
export function writerThreadOf(log: DecisionLog): WriterThread | undefined {
  return writerOfLog(log);
}

// A batch without the events at `invalid` (ascending indices).
function withoutInvalid(batch: Batch<DecisionLogEvent>, invalid: readonly number[]): Batch<DecisionLogEvent> {
  if (invalid.length === 0) return batch;
  const skip = new Set(invalid);
  return {
    items: batch.items.filter((_, i) => !skip.has(i)),
    times: batch.times.filter((_, i) => !skip.has(i)),
  };
}
