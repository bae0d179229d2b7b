/**
 * In-process publish/subscribe for Warden's events (events.ts). Every subscriber
 * has its own bounded queue and its own delivery loop, so:
 * - publish() only enqueues: it never runs a handler, never blocks, never throws;
 * - a slow handler delays only its own queue; a throwing or rejecting handler is
 *   logged and counted, and its next event is still delivered;
 * - a full queue drops its oldest event (counted, logged once per overflow, and
 *   handed to the subscriber's `onDrop`).
 * One subscriber's handler runs one event at a time, in publish order. Isolation
 * is between promises: a handler that blocks the thread synchronously blocks
 * everyone, so anything slow must be asynchronous.
 */
import type { Counter, Registry } from 'prom-client';
import { messageOf } from '../errors.js';
import type { Logger } from '../observe/logger.js';
import type { WardenEvent, WardenEventType } from './events.js';
import { counter } from '../observe/register.js';

/** Receives one event; may be async. Its failures are logged and counted, never propagated. */
export type EventHandler = (e: WardenEvent) => void | Promise<void>;

/** Options of {@link EventBus.subscribe}. */
export interface SubscribeOptions {
  /** Metric label and log field; default `subscriber-<n>`. */
  readonly name?: string;
  /** Hears (synchronously, inside publish) of each event dropped from this subscriber's full queue. Must not block. */
  readonly onDrop?: (e: WardenEvent) => void;
}

/** Options of an {@link EventBus}. */
export interface EventBusOptions {
  /** Per-subscriber queue bound; default 1000. */
  readonly queueLimit?: number;
  readonly log: Logger;
  /** Where the bus's counters are registered (WardenMetrics.registry); none if absent. */
  readonly registry?: Registry;
}

const DEFAULT_QUEUE_LIMIT = 1000;
const DEFAULT_DRAIN_MS = 10_000;

// One subscriber: its filter, its queue and the state of its delivery loop.
interface Subscriber {
  readonly name: string;
  readonly types: ReadonlySet<WardenEventType> | '*';
  readonly handler: EventHandler;
  readonly onDrop: ((e: WardenEvent) => void) | undefined;
  readonly queue: WardenEvent[];
  active: boolean;
  /** Set while the delivery loop runs; settles when the queue is empty and no handler runs. */
  idle: Promise<void> | undefined;
  overflowing: boolean;
}

/** Typed in-process events with isolated, asynchronous, bounded delivery. */
export class EventBus {
  readonly #limit: number;
  readonly #log: Logger;
  readonly #subs = new Set<Subscriber>();
  /** Subscribers whose loop runs (unsubscribed ones included until their handler returns). */
  readonly #running = new Set<Subscriber>();
  readonly #delivered: Counter<'subscriber'>;
  readonly #failures: Counter<'subscriber'>;
  readonly #dropped: Counter<'subscriber'>;
  #serial = 0;
  #closed = false;

  constructor(opts: EventBusOptions) {
    this.#limit = Math.max(1, Math.floor(opts.queueLimit ?? DEFAULT_QUEUE_LIMIT));
    this.#log = opts.log;
    this.#delivered = counter(opts.registry, 'warden_event_delivered_total');
    this.#failures = counter(opts.registry, 'warden_event_handler_failure_total');
    this.#dropped = counter(opts.registry, 'warden_event_dropped_total');
  }

  /** Delivers events of `types` (or all, `'*'`) to `handler`; returns the unsubscribe function. */
  subscribe(types: readonly WardenEventType[] | '*', handler: EventHandler, opts: SubscribeOptions = {}): () => void {
    this.#serial += 1;
    const sub: Subscriber = {
      name: opts.name ?? `subscriber-${this.#serial}`,
      types: types === '*' ? '*' : new Set(types),
      handler,
      onDrop: opts.onDrop,
      queue: [],
      active: true,
      idle: undefined,
      overflowing: false,
    };
    this.#subs.add(sub);
    return () => {
      // Undelivered events are discarded; a handler already running finishes.
      sub.active = false;
      sub.queue.length = 0;
      this.#subs.delete(sub);
    };
  }

  /** Enqueues `e` for every matching subscriber. Never blocks, never throws; ignored after close(). */
  publish(e: WardenEvent): void {
    if (this.#closed) {
      this.#log.debug({ event_id: e.id, event_type: e.type }, 'event published after the bus closed; ignored');
      return;
    }
    for (const sub of this.#subs) {
      if (sub.types !== '*' && !sub.types.has(e.type)) continue;
      if (sub.queue.length >= this.#limit) this.#dropOldest(sub);
      sub.queue.push(e);
      this.#start(sub);
    }
  }

  /** Events waiting in all queues (not counting those being handled). */
  get queued(): number {
    let n = 0;
    for (const sub of this.#subs) n += sub.queue.length;
    return n;
  }

  /** Waits until every queue is empty and no handler runs, or `timeoutMs` passed (then logs what is left). */
  async drain(timeoutMs = DEFAULT_DRAIN_MS): Promise<void> {
    let timedOut = false;
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<void>((resolve) => {
      timer = setTimeout(
        () => {
          timedOut = true;
          resolve();
        },
        Math.max(0, timeoutMs),
      );
    });
    try {
      while (this.#running.size > 0 && !timedOut) {
        await Promise.race([Promise.all([...this.#running].map((s) => s.idle ?? Promise.resolve())), expired]);
      }
    } finally {
      clearTimeout(timer);
    }
    if (this.#running.size > 0) {
      const busy = [...this.#running].map((s) => s.name);
      this.#log.warn(
        { subscribers: busy, queued: this.queued, timeout_ms: timeoutMs },
        'event delivery not drained in time',
      );
    }
  }

  /** Stops accepting events, then drains (bounded by `timeoutMs`). */
  async close(timeoutMs = DEFAULT_DRAIN_MS): Promise<void> {
    this.#closed = true;
    await this.drain(timeoutMs);
  }

  // Makes room in a full queue: the oldest event goes, counted and reported.
  #dropOldest(sub: Subscriber): void {
    const old = sub.queue.shift();
    if (old === undefined) return;
    this.#dropped.inc({ subscriber: sub.name });
    if (!sub.overflowing) {
      // Once per overflow episode (until the queue empties), so a flood does not flood the log too.
      sub.overflowing = true;
      this.#log.warn(
        { code: 'EVENT_QUEUE_OVERFLOW', subscriber: sub.name, queue_limit: this.#limit, event_id: old.id },
        'subscriber queue full; dropping its oldest events',
      );
    }
    try {
      sub.onDrop?.(old);
    } catch (err) {
      this.#log.error(
        { code: 'EVENT_HANDLER_FAILED', subscriber: sub.name, err: messageOf(err) },
        'onDrop callback failed',
      );
    }
  }

  // Starts the subscriber's loop unless it runs; on a later tick, so publish never runs a handler.
  #start(sub: Subscriber): void {
    if (sub.idle !== undefined) return;
    this.#running.add(sub);
    sub.idle = new Promise<void>((resolve) => {
      setImmediate(() => void this.#deliver(sub).finally(resolve));
    });
  }

  // Hands queued events to the handler one at a time until the queue is empty.
  async #deliver(sub: Subscriber): Promise<void> {
    for (let e = sub.queue.shift(); e !== undefined; e = sub.queue.shift()) {
      try {
        await sub.handler(e);
        this.#delivered.inc({ subscriber: sub.name });
      } catch (err) {
        this.#failures.inc({ subscriber: sub.name });
        const fields = {
          code: 'EVENT_HANDLER_FAILED',
          subscriber: sub.name,
          event_id: e.id,
          event_type: e.type,
          pack: e.pack,
          err: messageOf(err),
        };
        this.#log.error(fields, 'event handler failed');
      }
    }
    sub.idle = undefined;
    sub.overflowing = false;
    this.#running.delete(sub);
  }
}
