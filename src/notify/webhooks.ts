/**
 * Webhooks: every configured URL receives each event it asked for as a JSON
 * POST (`JSON.stringify(event)`), with headers
 *
 *     Content-Type: application/json
 *     X-Warden-Event: <type>
 *     X-Warden-Delivery: <event id>          (the same on every retry: deduplicate on it)
 *     X-Warden-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>
 *
 * Receivers recompute the HMAC over the raw body, compare it in constant time,
 * and refuse timestamps older than a few minutes (replays): use
 * {@link verifyWebhookSignature}; the scheme is spelt out in signature.ts.
 *
 * Each webhook is its own bus subscriber, so its deliveries go in event order
 * and a slow or failing receiver delays only its own queue, never publish() nor
 * another webhook. A 2xx answer is delivered; anything else (status, network
 * error, timeout) is retried after an exponential, jittered, capped delay
 * (Backoff) up to maxAttempts, then the event is appended to the dead-letter
 * file. An event being retried holds back the ones behind it (order over
 * throughput); the bus's queue bound caps how many wait, and events dropped
 * from a full queue are dead-lettered too, so none vanishes unrecorded.
 *
 * Shutdown: `await dispatcher.close(graceMs)` (deliveries get `graceMs` to
 * finish; then retry waits and requests in flight end, and every event left is
 * dead-lettered without another attempt), then `await bus.close()`.
 */
import type { Counter, Registry } from 'prom-client';
import { setTimeout as sleep } from 'node:timers/promises';
import { messageOf } from '../errors.js';
import type { Logger } from '../observe/logger.js';
import { Backoff } from '../util/backoff.js';
import type { EventBus } from './bus.js';
import { DeadLetterFile } from './dead-letter.js';
import type { WardenEvent } from './events.js';
import { counter } from '../observe/register.js';
import { signWebhook } from './signature.js';
import { resolveWebhooks, type ResolvedWebhook, type WebhookConfig } from './webhook-config.js';
import { postWebhook, type PostOutcome } from './webhook-post.js';

export { verifyWebhookSignature, signWebhook, DEFAULT_TOLERANCE_SECONDS } from './signature.js';
export type { WebhookConfig } from './webhook-config.js';
export type { DeadLetterRecord } from './dead-letter.js';

/** Options of a {@link WebhookDispatcher}. */
export interface WebhookDispatcherOptions {
  readonly bus: EventBus;
  readonly webhooks: readonly WebhookConfig[];
  readonly log: Logger;
  /** Where `warden_webhook_delivery_total` is registered (WardenMetrics.registry); none if absent. */
  readonly registry?: Registry;
  /** Jitter draws; default Math.random. */
  readonly random?: () => number;
  /** Clock (ms) for signatures and records; default Date.now. */
  readonly now?: () => number;
}

type Result = 'delivered' | 'retry' | 'dead_letter';
type Failure = Extract<PostOutcome, { ok: false }>;

/** Sends bus events to webhooks: signed, retried, dead-lettered. Subscribes on construction. */
export class WebhookDispatcher {
  readonly #log: Logger;
  readonly #random: () => number;
  readonly #now: () => number;
  readonly #deliveries: Counter<'url' | 'result'>;
  readonly #bus: EventBus;
  readonly #stopping = new AbortController();
  readonly #unsubscribe: (() => void)[] = [];
  /** Dead-letter writes of dropped events, which no bus drain waits for. */
  readonly #writes = new Set<Promise<void>>();

  /** Throws CONFIG_INVALID (every bad field listed) before subscribing anything. */
  constructor(opts: WebhookDispatcherOptions) {
    const hooks = resolveWebhooks(opts.webhooks);
    this.#bus = opts.bus;
    this.#log = opts.log;
    this.#random = opts.random ?? Math.random;
    this.#now = opts.now ?? Date.now;
    this.#deliveries = counter(opts.registry, 'warden_webhook_delivery_total');
    // Webhooks sharing a dead-letter path share one writer, so their lines never interleave.
    const files = new Map<string, DeadLetterFile>();
    for (const hook of hooks) {
      const file = files.get(hook.deadLetterPath) ?? new DeadLetterFile(hook.deadLetterPath);
      files.set(hook.deadLetterPath, file);
      const onDrop = (e: WardenEvent): void =>
        this.#track(this.#deadLetter(hook, file, e, 0, { ok: false, error: 'dropped: the webhook queue was full' }));
      this.#unsubscribe.push(
        opts.bus.subscribe(hook.events, (e) => this.#deliver(hook, file, e), { name: `webhook ${hook.label}`, onDrop }),
      );
    }
  }

  /** Ends retry waits and requests in flight; every event not yet delivered is dead-lettered without another attempt. */
  stop(): void {
    this.#stopping.abort();
  }

  /**
   * Gives queued deliveries up to `graceMs` (a bus drain), then stop()s, dead-letters
   * what is left, waits for every dead-letter write and unsubscribes.
   */
  async close(graceMs = 10_000): Promise<void> {
    if (!this.#stopping.signal.aborted) await this.#bus.drain(graceMs);
    this.stop();
    await this.#bus.drain(graceMs);
    await Promise.all(this.#writes);
    for (const unsubscribe of this.#unsubscribe.splice(0)) unsubscribe();
  }

  // Attempts one event until a 2xx, the last attempt, or stop(); then records a dead letter.
  async #deliver(hook: ResolvedWebhook, file: DeadLetterFile, e: WardenEvent): Promise<void> {
    const body = Buffer.from(JSON.stringify(e));
    const signal = this.#stopping.signal;
    const backoff = new Backoff({ baseMs: hook.baseMs, maxMs: hook.maxMs, jitter: 'equal', random: this.#random });
    let last: Failure = { ok: false, error: 'stopped before the first attempt' };
    let attempts = 0;
    while (!signal.aborted) {
      attempts += 1;
      const outcome = await postWebhook({
        url: hook.url,
        headers: this.#headers(hook, e, body),
        body,
        timeoutMs: hook.timeoutMs,
        signal,
      });
      if (outcome.ok) {
        this.#count(hook, 'delivered');
        this.#log.debug(
          { url: hook.label, event_id: e.id, event_type: e.type, attempts, status: outcome.status },
          'webhook delivered',
        );
        return;
      }
      last = outcome;
      if (attempts >= hook.maxAttempts || signal.aborted) break;
      const delayMs = backoff.next();
      this.#count(hook, 'retry');
      const fields = {
        code: 'WEBHOOK_DELIVERY_FAILED',
        url: hook.label,
        event_id: e.id,
        event_type: e.type,
        attempt: attempts,
        status: last.status,
        err: last.error,
        delay_ms: delayMs,
      };
      this.#log.warn(fields, 'webhook attempt failed; retrying');
      if (!(await pause(delayMs, signal))) break;
    }
    await this.#deadLetter(hook, file, e, attempts, last);
  }

  // The headers of one attempt, signed at the time of sending.
  #headers(hook: ResolvedWebhook, e: WardenEvent, body: Buffer): Record<string, string> {
    return {
      'content-type': 'application/json',
      'x-warden-event': e.type,
      'x-warden-delivery': String(e.id),
      'x-warden-signature': signWebhook(hook.secret, body, this.#now() / 1000),
    };
  }

  // Records an event given up on; never throws (a failed append is logged as IO_FAILED).
  async #deadLetter(
    hook: ResolvedWebhook,
    file: DeadLetterFile,
    e: WardenEvent,
    attempts: number,
    last: Failure,
  ): Promise<void> {
    this.#count(hook, 'dead_letter');
    const { status, error } = last;
    const fields = {
      code: 'WEBHOOK_DELIVERY_FAILED',
      url: hook.label,
      event_id: e.id,
      event_type: e.type,
      attempts,
      status,
      err: error,
      dead_letter: file.path,
    };
    this.#log.error(fields, 'webhook delivery given up; event written to the dead-letter file');
    const time = new Date(this.#now()).toISOString();
    const record = {
      time,
      url: hook.label,
      attempts,
      last_error: error,
      ...(status === undefined ? {} : { last_status: status }),
      event: e,
    };
    try {
      await file.append(record);
    } catch (err) {
      this.#log.error(
        { code: 'IO_FAILED', url: hook.label, event_id: e.id, path: file.path, err: messageOf(err) },
        'cannot write the webhook dead-letter record',
      );
    }
  }

  // Keeps a fire-and-forget write visible to close().
  #track(write: Promise<void>): void {
    this.#writes.add(write);
    void write.finally(() => this.#writes.delete(write));
  }

  #count(hook: ResolvedWebhook, result: Result): void {
    this.#deliveries.inc({ url: hook.label, result });
  }
}

// Waits `ms`, or less if `signal` aborts; true if the wait ran its course.
async function pause(ms: number, signal: AbortSignal): Promise<boolean> {
  try {
    await sleep(ms, undefined, { signal });
    return true;
  } catch {
    return false;
  }
}
