/**
 * The `http` source (SPEC 5): conditional GETs of a pack and its signature from
 * a pack server, on a jittered poll or a long poll, with exponential backoff
 * after failures. It hands changed bytes to the pipeline and never parses them;
 * the If-None-Match it sends is always the ETag of what is really active.
 * Only the poll loop holds requests open: fetchOnce (boot, an operator's reload)
 * and the loop's first request ask without waiting, so they answer at once.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { toWardenError, type WardenError } from '../errors.js';
import type { Logger } from '../observe/logger.js';
import { Backoff, nextPollDelayMs } from './backoff.js';
import { pairLooksConsistent } from './pairing.js';
import { fetchPack, fetchSignature, signatureUrlFor, type FetchResult, type TlsMaterial } from './http-fetch.js';
import type { PackSource, SourceContext, UpdateHandler, UpdateOutcome } from './types.js';

/** The `source.http` settings of one pack (TLS material as contents, not paths). */
export interface HttpSourceConfig {
  readonly url: string;
  /** Default `<url path>.sigstore.json`. */
  readonly signatureUrl?: string;
  readonly pollMinSeconds: number;
  readonly pollMaxSeconds: number;
  /** 0 = off; else `Prefer: wait=N` and re-request as soon as the server answers. */
  readonly longPollSeconds: number;
  readonly timeoutSeconds: number;
  readonly maxBytes: number;
  /** First retry ceiling after a failure; default 1. */
  readonly backoffBaseSeconds?: number;
  /** Cap on the retry delay; default 300. */
  readonly backoffMaxSeconds?: number;
  readonly tls?: TlsMaterial;
}

/** Schedules fn after ms; returns a function that cancels it. */
export type SetTimer = (fn: () => void, ms: number) => () => void;

/** Seams for tests: randomness, timers and the monotonic clock (ms). */
export interface HttpSourceDeps {
  readonly random?: () => number;
  readonly setTimer?: SetTimer;
  readonly now?: () => number;
}

/** Upper bound of the jittered pause between two long polls. */
export const LONG_POLL_FLOOR_MS = 100;

// An unref'd timeout: a sleeping poll loop never keeps the process alive.
const unrefTimer: SetTimer = (fn, ms) => {
  const t = setTimeout(fn, ms);
  t.unref();
  return () => clearTimeout(t);
};

// One completed fetch, with what the loop needs to pick the next delay.
interface Fetched {
  readonly outcome: UpdateOutcome | undefined;
  readonly notModified: boolean;
  readonly elapsedMs: number;
  /** True when the request was a long poll (the server could hold it). */
  readonly held: boolean;
}

/** A pack on a pack server. */
export class HttpSource implements PackSource {
  readonly kind = 'http' as const;
  readonly #config: HttpSourceConfig;
  readonly #ctx: SourceContext;
  readonly #random: () => number;
  readonly #setTimer: SetTimer;
  readonly #now: () => number;
  readonly #backoff: Backoff;
  readonly #signatureUrl: string;
  #active: string | undefined;
  #tail: Promise<unknown> = Promise.resolve();
  #lifecycle = new AbortController();
  #loop: Promise<void> | undefined;
  #cancelSleep: (() => void) | undefined;

  constructor(config: HttpSourceConfig, ctx: SourceContext, deps: HttpSourceDeps = {}) {
    this.#config = config;
    this.#ctx = ctx;
    this.#random = deps.random ?? Math.random;
    this.#setTimer = deps.setTimer ?? unrefTimer;
    this.#now = deps.now ?? (() => performance.now());
    this.#backoff = new Backoff({
      baseMs: (config.backoffBaseSeconds ?? 1) * 1000,
      maxMs: (config.backoffMaxSeconds ?? 300) * 1000,
      random: this.#random,
    });
    this.#signatureUrl = signatureUrlFor(config.url, config.signatureUrl);
  }

  setActive(etag: string | undefined): void {
    this.#active = etag;
  }

  /** One conditional GET now, never held open, after any fetch in flight (never two at once). */
  async fetchOnce(handler: UpdateHandler): Promise<UpdateOutcome | undefined> {
    return (await this.#serial(handler, false)).outcome;
  }

  /** Polls until stop(); a second start() while running is ignored. */
  start(handler: UpdateHandler): void {
    if (this.#loop !== undefined) return;
    if (this.#lifecycle.signal.aborted) this.#lifecycle = new AbortController();
    this.#loop = this.#run(handler, this.#lifecycle.signal);
  }

  /** Aborts the request in flight and the pending timer; resolves when the loop has ended. */
  async stop(): Promise<void> {
    this.#lifecycle.abort();
    this.#cancelSleep?.();
    await this.#loop;
    await this.#tail;
    this.#loop = undefined;
  }

  // Queues a fetch behind the one in flight; `hold`: a long poll, if configured.
  #serial(handler: UpdateHandler, hold: boolean): Promise<Fetched> {
    const run = this.#tail.then(() => this.#fetch(handler, hold));
    this.#tail = run.catch(() => undefined);
    return run;
  }

  // Fetch → (signature) → handler; reports fetch failures once (log, metrics, ctx) and rethrows.
  async #fetch(handler: UpdateHandler, hold: boolean): Promise<Fetched> {
    const { pack, metrics } = this.#ctx;
    const { url, timeoutSeconds, tls } = this.#config;
    const correlationId = randomUUID();
    const log = this.#ctx.log.child({ pack, source: 'http', correlation_id: correlationId });
    const signal = this.#lifecycle.signal;
    const started = this.#now();
    const common = { timeoutMs: timeoutSeconds * 1000, tls, correlationId, signal };
    let res: FetchResult;
    let signature: Buffer | undefined;
    try {
      res = await fetchPack({ ...common, url, etag: this.#active, waitSeconds: hold ? this.#config.longPollSeconds : 0, maxBytes: this.#config.maxBytes });
      if (res.status === 200) signature = await fetchSignature({ ...common, url: this.#signatureUrl });
      // A publish landed between the two requests: fetch the pair once more (no wait, no ETag).
      if (res.status === 200 && !pairLooksConsistent(res.body, signature)) {
        log.info({ url }, 'pack and signature fetched mid-publish; fetching the pair again');
        res = await fetchPack({ ...common, url, maxBytes: this.#config.maxBytes });
        if (res.status === 200) signature = await fetchSignature({ ...common, url: this.#signatureUrl });
      }
    } catch (err) {
      const e = toWardenError(err, 'FETCH_FAILED');
      if (!signal.aborted) this.#report(e, log, (this.#now() - started) / 1000);
      throw e;
    }
    const elapsedMs = this.#now() - started;
    const result = res.status === 200 ? 'changed' : 'unchanged';
    metrics.fetchDuration.observe({ pack, source: 'http', result }, elapsedMs / 1000);
    if (res.status === 304) {
      log.debug({ etag: this.#active }, 'policy pack unchanged (304)');
      this.#ctx.onConfirmed();
      return { outcome: undefined, notModified: true, elapsedMs, held: hold };
    }
    log.info({ url, etag: res.etag, bytes: res.body.length }, 'policy pack fetched');
    let outcome: UpdateOutcome;
    try {
      outcome = await handler({ pack: res.body, signature, etag: res.etag, origin: url, correlationId });
    } catch (err) {
      log.error({ code: toWardenError(err).code, err: (err as Error).message }, 'update handler failed');
      throw err;
    }
    // A refused pack leaves the old ETag, so the next request fetches it again.
    if (outcome.status !== 'refused') {
      this.#active = res.etag;
      this.#ctx.onConfirmed();
    }
    return { outcome, notModified: false, elapsedMs, held: hold };
  }

  // Logs, counts and reports one fetch failure.
  #report(e: WardenError, log: Logger, seconds: number): void {
    const { pack, metrics } = this.#ctx;
    metrics.fetchDuration.observe({ pack, source: 'http', result: 'error' }, seconds);
    metrics.fetchFailures.inc({ pack, source: 'http', code: e.code });
    log.warn({ code: e.code, err: e.message, details: e.details }, 'policy fetch failed');
    this.#ctx.onFetchError(e);
  }

  // The poll loop: fetch, pick a delay, sleep; ends when the signal is aborted.
  async #run(handler: UpdateHandler, signal: AbortSignal): Promise<void> {
    let hold = false; // the first request answers at once: it confirms (or replaces) what boot loaded
    while (!signal.aborted) {
      let delay: number;
      try {
        const fetched = await this.#serial(handler, hold);
        hold = true;
        this.#backoff.reset();
        delay = this.#delayAfter(fetched);
      } catch {
        delay = this.#backoff.next(); // already logged and counted
      }
      if (signal.aborted) break;
      await this.#sleep(delay);
    }
  }

  // Long poll re-requests at once after a held 304, an activation or a request that was not held; everything else waits a poll interval.
  #delayAfter(f: Fetched): number {
    const { longPollSeconds, pollMinSeconds, pollMaxSeconds } = this.#config;
    const poll = (): number => nextPollDelayMs(pollMinSeconds, pollMaxSeconds, this.#random);
    if (longPollSeconds <= 0) return poll();
    if (!f.held) return Math.round(this.#random() * LONG_POLL_FLOOR_MS);
    // A 304 faster than half the wait: the server does not hold requests, so poll instead of hammering it.
    const held = f.notModified && f.elapsedMs >= (longPollSeconds * 1000) / 2;
    if (held || f.outcome?.status === 'activated') return Math.round(this.#random() * LONG_POLL_FLOOR_MS);
    return poll();
  }

  // Sleeps ms; stop() cancels the timer and wakes the loop.
  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = (): void => {
        this.#cancelSleep = undefined;
        resolve();
      };
      const cancel = this.#setTimer(wake, ms);
      this.#cancelSleep = () => {
        cancel();
        wake();
      };
    });
  }
}
