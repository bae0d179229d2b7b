/**
 * A serving process's decision log: events go to the primary, which owns the log's files
 * and shipping. enqueue() is the request path's only call: it stores the event and its time
 * and at most arms a timer; batches leave every `intervalMs`, or at once when `batchSize`
 * wait. While the IPC channel is backed up, events wait here up to `limit`; past it the
 * oldest is dropped and counted in `warden_decision_log_dropped_total{reason="overflow"}`
 * (merged into the primary's /metrics).
 */
import type { Registry } from 'prom-client';
import type { DecisionLogEvent } from '../decision-log/decision-log-event.js';
import { counter } from '../observe/register.js';

/** How events are batched. */
export interface ForwarderOptions {
  /** Sends one batch; false when the channel is backed up (the next batch waits for `drained`). */
  readonly send: (events: DecisionLogEvent[], at: number[]) => boolean;
  readonly batchSize: number;
  readonly intervalMs: number;
  /** Events held at most while the channel is backed up (decision_log.queue_limit). */
  readonly limit: number;
  readonly registry: Registry;
}

/** Batches this process's decision-log events to the primary. */
export class DecisionForwarder {
  #events: DecisionLogEvent[] = [];
  #at: number[] = [];
  #timer: NodeJS.Timeout | undefined;
  #blocked = false;
  readonly #dropped;

  constructor(private readonly opts: ForwarderOptions) {
    this.#dropped = counter(opts.registry, 'warden_decision_log_dropped_total');
  }

  /** Queues one event: O(1), never throws. */
  enqueue(event: DecisionLogEvent, at: number = Date.now()): void {
    this.#events.push(event);
    this.#at.push(at);
    if (this.#events.length > this.opts.limit) {
      this.#events.shift();
      this.#at.shift();
      this.#dropped.inc({ reason: 'overflow' });
    }
    if (this.#blocked) return;
    if (this.#events.length >= this.opts.batchSize) this.flush();
    else this.#timer ??= setTimeout(() => this.flush(), this.opts.intervalMs);
  }

  /** Sends what waits now (unless the channel is backed up). */
  flush(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#events.length === 0 || this.#blocked) return;
    const events = this.#events;
    const at = this.#at;
    this.#events = [];
    this.#at = [];
    if (!this.opts.send(events, at)) this.#blocked = true;
  }

  /** The channel took what was sent: the next batch may leave. */
  drained(): void {
    this.#blocked = false;
    this.flush();
  }
}
