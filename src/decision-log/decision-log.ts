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
 * The background writer wakes every flushIntervalMs and writes what is
 * queued, and in between as soon as batchSize events wait, writing full
 * batches only; batches of at most batchSize as NDJSON, one write per batch (decision-log-files.ts rotates and prunes). A failed write is
 * counted, logged once per failure episode, and its batch goes back in front
 * of the ring, oldest dropped if it does not fit, so a dead disk costs at most
 * queueLimit + batchSize events of memory. While failing, only the timer
 * retries. close() drains.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Registry } from 'prom-client';
import { messageOf } from '../errors.js';
import type { Logger } from '../observe/logger.js';
import { WARDEN_VERSION } from '../project.js';
import { counter } from '../observe/register.js';
import { scrapedCounter } from '../observe/scraped-counter.js';
import { lineFormatter, type DecisionLogEvent, type DecisionLogLabels } from './decision-log-event.js';
import { RotatingFiles } from './decision-log-files.js';
import { RingQueue, type Batch } from './decision-log-queue.js';

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
  /** Where `warden_decision_log_*` are registered (WardenMetrics.registry); none if absent. */
  readonly registry?: Registry;
  readonly log: Logger;
}

const MiB = 2 ** 20;
const DEFAULT_DRAIN_MS = 10_000;
/** Pause between retries of a failing write while draining. */
const DRAIN_RETRY_MS = 100;

type DropReason = 'overflow' | 'closed' | 'invalid';

/** Asynchronous, bounded, batched NDJSON decision log. */
export class DecisionLog {
  readonly #queue: RingQueue<DecisionLogEvent>;
  readonly #files: RotatingFiles;
  readonly #batchSize: number;
  readonly #intervalMs: number;
  readonly #format: (event: DecisionLogEvent, enqueuedAt: number) => string;
  readonly #log: Logger;
  readonly #dropped: Record<DropReason, number>;
  readonly #written;
  readonly #failures;
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

  constructor(opts: DecisionLogOptions) {
    const positive = (name: string, v: number): number => {
      if (!Number.isSafeInteger(v) || v < 1) throw new RangeError(`${name} must be a positive integer, got ${v}`);
      return v;
    };
    this.#queue = new RingQueue(positive('queueLimit', opts.queueLimit ?? 10_000));
    this.#batchSize = positive('batchSize', opts.batchSize ?? 500);
    this.#intervalMs = positive('flushIntervalMs', opts.flushIntervalMs ?? 1000);
    this.#files = new RotatingFiles(
      opts.dir,
      positive('maxFileBytes', opts.maxFileBytes ?? 64 * MiB),
      positive('maxFiles', opts.maxFiles ?? 10),
    );
    const labels: DecisionLogLabels = Object.freeze({
      ...opts.labels,
      id: opts.labels?.id ?? randomUUID(),
      version: opts.labels?.version ?? WARDEN_VERSION,
    });
    this.#format = lineFormatter(labels);
    this.#log = opts.log;
    this.#dropped = scrapedCounter(opts.registry, 'warden_decision_log_dropped_total', [
      'overflow',
      'closed',
      'invalid',
    ]);
    this.#written = counter(opts.registry, 'warden_decision_log_written_total');
    this.#failures = counter(opts.registry, 'warden_decision_log_write_failure_total');
  }

  /** Queues one event for the writer: O(1), no I/O, never throws. A full queue drops its oldest event. */
  enqueue(event: DecisionLogEvent): void {
    if (this.#closed) {
      this.#dropped.closed++;
      return;
    }
    if (this.#queue.push(event, Date.now())) this.#dropped.overflow++;
    if (this.#queue.length >= this.#batchSize && !this.#scheduled && !this.#failing && this.#timer !== undefined) {
      this.#scheduled = true;
      setImmediate(this.#wakeFull);
    }
  }

  /** Events waiting to be written. */
  get queued(): number {
    return this.#queue.length;
  }

  /** Starts the background writer (idempotent). */
  start(): void {
    if (this.#timer !== undefined || this.#closed) return;
    this.#timer = setInterval(this.#wake, this.#intervalMs);
    this.#timer.unref();
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
        { code: 'DECISION_LOG_WRITE_FAILED', dir: this.#files.dir, queued: this.#queue.length, timeout_ms: timeoutMs },
        'decision log not drained in time',
      );
    }
  }

  /** Stops accepting events (later ones are counted as dropped), drains, closes the file. */
  async close(timeoutMs = DEFAULT_DRAIN_MS): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    await this.drain(timeoutMs);
    await this.#files
      .close()
      .catch((err: unknown) =>
        this.#log.warn(
          { code: 'DECISION_LOG_WRITE_FAILED', dir: this.#files.dir, err: messageOf(err) },
          'closing the decision log failed',
        ),
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

  // Writes one batch; on failure puts it back (dropping what no longer fits) and returns false.
  async #writeBatch(): Promise<boolean> {
    const batch = this.#queue.take(this.#batchSize);
    const kept: Batch<DecisionLogEvent> = { items: [], times: [] };
    let text = '';
    batch.items.forEach((event, i) => {
      const time = batch.times[i] ?? Date.now();
      try {
        text += this.#format(event, time);
        kept.items.push(event);
        kept.times.push(time);
      } catch {
        this.#dropped.invalid++;
      }
    });
    const lines = kept.items.length;
    if (lines === 0) return true;
    try {
      await this.#files.append(text);
    } catch (err) {
      this.#failures.inc();
      this.#dropped.overflow += this.#queue.restore(kept);
      if (!this.#failing)
        this.#log.error(
          { code: 'DECISION_LOG_WRITE_FAILED', dir: this.#files.dir, err: messageOf(err) },
          'writing the decision log failed; retrying',
        );
      this.#failing = true;
      return false;
    }
    this.#written.inc(lines);
    if (this.#failing) this.#log.info({ dir: this.#files.dir }, 'decision log writes recovered');
    this.#failing = false;
    return true;
  }
}
