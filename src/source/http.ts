/**
 * The `http` source (docs/design.md#the-pack-server-protocol): conditional GETs of a pack and its signature from
 * a pack server, on a jittered poll or a long poll, with exponential backoff
 * after failures (poll-loop.ts). It hands changed bytes to the pipeline and never
 * parses them (remote-fetch.ts: what is done with what a poll found).
 *
 * `If-None-Match` lists the ETag of what is really active and, after a refusal
 * about the bytes (refused.ts), the refused pack's ETag. So a server still
 * serving the refused pack answers 304 (and holds a long poll, as for the
 * active one) instead of sending it again. Such a 304 — its ETag the refused
 * one, or no ETag when both were sent — is counted
 * (`policy_refused_unchanged_total`) and does not confirm the active pack. The
 * pack and its signature are a pair: on that 304 the signature is asked for
 * with its own remembered ETag, and if it changed (an operator fixed it without
 * touching the pack) the pack is fetched again and goes through the pipeline.
 * Only the poll loop holds requests open: fetchOnce (boot, an operator's reload)
 * and the loop's first request ask without waiting, so they answer at once.
 * A server without ETags sends the refused bytes in full: their digests (pack
 * and signature) are compared with the refused ones and, when equal, the pair
 * is not handed to the pipeline again. A forced reload forgets the refusal.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Logger } from '../observe/logger.js';
import { ATTR, inSpan } from '../observe/tracing.js';
import { PollLoop, type Pace, type PollDeps, type PollSchedule } from './poll-loop.js';
import { fetchPack, fetchSignature, signatureUrlFor, unexpected304, type TlsMaterial } from './http-fetch.js';
import { answersRefused, digestOrNone } from './refused.js';
import {
  remoteFetch,
  settlePair,
  type Found,
  type RemoteFetched,
  type RemoteMemory,
  type SignedPair,
} from './remote-fetch.js';
import type { FetchOnceOptions, PackSource, SourceContext, UpdateHandler, UpdateOutcome } from './types.js';

/** The `source.http` settings of one pack (TLS material as contents, not paths). */
export interface HttpSourceConfig extends PollSchedule {
  readonly url: string;
  /** Default `<url path>.sigstore.json`. */
  readonly signatureUrl?: string;
  /** 0 = off; else `Prefer: wait=N` and re-request as soon as the server answers. */
  readonly longPollSeconds: number;
  readonly timeoutSeconds: number;
  readonly maxBytes: number;
  /** The setting maxBytes comes from, named when a pack is over it. */
  readonly maxBytesKey?: string;
  readonly tls?: TlsMaterial;
}

export { LONG_POLL_FLOOR_MS, type SetTimer } from './poll-loop.js';

/** Seams for tests: randomness, timers and the monotonic clock (ms). */
export interface HttpSourceDeps extends PollDeps {
  readonly now?: () => number;
}

// The request settings every GET of one poll shares.
interface Common {
  readonly timeoutMs: number;
  readonly tls: TlsMaterial | undefined;
  readonly correlationId: string;
  readonly signal: AbortSignal;
}

// One completed fetch, with what the loop needs to pick the next delay.
interface Fetched extends RemoteFetched {
  /** True when the request was a long poll (the server could hold it). */
  readonly held: boolean;
}

/** A pack on a pack server. */
export class HttpSource implements PackSource {
  readonly kind = 'http' as const;
  readonly #config: HttpSourceConfig;
  readonly #ctx: SourceContext;
  readonly #now: () => number;
  readonly #loop: PollLoop;
  readonly #signatureUrl: string;
  readonly #memory: RemoteMemory = { active: undefined, refused: undefined };

  constructor(config: HttpSourceConfig, ctx: SourceContext, deps: HttpSourceDeps = {}) {
    this.#config = config;
    this.#ctx = ctx;
    this.#now = deps.now ?? (() => performance.now());
    this.#loop = new PollLoop(config, deps);
    this.#signatureUrl = signatureUrlFor(config.url, config.signatureUrl);
  }

  setActive(etag: string | undefined): void {
    this.#memory.active = etag;
  }

  /** One conditional GET now, never held open, after any fetch in flight (never two at once); `force` forgets the refused pack first. */
  async fetchOnce(handler: UpdateHandler, options: FetchOnceOptions = {}): Promise<UpdateOutcome | undefined> {
    const force = options.force === true;
    return (await this.#loop.serial((signal) => this.#fetch(handler, signal, false, force))).outcome;
  }

  /** Polls until stop(); a second start() while running is ignored. The first request answers at once: it confirms (or replaces) what boot loaded; later ones are long polls (if configured). */
  start(handler: UpdateHandler): void {
    this.#loop.start<Fetched>(
      (signal, previous) => this.#fetch(handler, signal, previous !== undefined, false),
      (fetched) => this.#pace(fetched),
    );
  }

  /** Aborts the request in flight and the pending timer; resolves when the loop has ended. */
  stop(): Promise<void> {
    return this.#loop.stop();
  }

  // One poll in a `warden.fetch` span (the parent of the reload it triggers; its requests carry its traceparent).
  #fetch(handler: UpdateHandler, signal: AbortSignal, hold: boolean, force: boolean): Promise<Fetched> {
    const correlationId = randomUUID();
    const attributes = {
      [ATTR.pack]: this.#ctx.pack,
      [ATTR.source]: 'http',
      [ATTR.correlationId]: correlationId,
      [ATTR.url]: this.#config.url,
    };
    return inSpan('warden.fetch', attributes, async (span) => {
      const fetched = await this.#fetchTraced(handler, signal, hold, force, correlationId);
      span.setAttribute(ATTR.outcome, fetched.outcome?.status ?? 'not_modified');
      return fetched;
    });
  }

  // Fetch → (signature) → handler (remote-fetch.ts: timing, failure report, confirmation, refusal memory).
  async #fetchTraced(
    handler: UpdateHandler,
    signal: AbortSignal,
    hold: boolean,
    force: boolean,
    correlationId: string,
  ): Promise<Fetched> {
    const { url, timeoutSeconds, tls } = this.#config;
    const common = { timeoutMs: timeoutSeconds * 1000, tls, correlationId, signal };
    const fetched = await remoteFetch(
      {
        source: 'http',
        origin: url,
        now: this.#now,
        download: (_signal, log) => this.#download(common, log, hold),
        unchanged: { message: 'policy pack unchanged (304)', tagField: 'etag' },
        fetchedFields: (pair) => ({ url, etag: pair.etag }),
      },
      this.#ctx,
      this.#memory,
      { handler, signal, force },
      correlationId,
    );
    return { ...fetched, held: hold };
  }

  // The requests of one poll: the pack (If-None-Match: active and refused ETags), the signature when needed.
  async #download(common: Common, log: Logger, hold: boolean): Promise<Found<SignedPair>> {
    const { url, maxBytes, maxBytesKey, longPollSeconds } = this.#config;
    const memory = this.#memory;
    const refused = memory.refused;
    const sent = [memory.active, refused?.etag].filter(
      (t, i, all): t is string => t !== undefined && all.indexOf(t) === i,
    );
    const res = await fetchPack({
      ...common,
      url,
      ifNoneMatch: sent,
      waitSeconds: hold ? longPollSeconds : 0,
      maxBytes,
      ...(maxBytesKey === undefined ? {} : { maxBytesKey }),
    });
    let pair: SignedPair;
    if (res.status === 304) {
      if (refused === undefined || !answersRefused(res.etag, sent, refused.etag)) return { kind: 'current' };
      // The refused pack is still served; its signature may have been fixed on its own (a small, conditional GET).
      const sig = await fetchSignature({
        ...common,
        url: this.#signatureUrl,
        ifNoneMatch: refused.signatureEtag === undefined ? [] : [refused.signatureEtag],
      });
      if (sig.status === 304 || digestOrNone(sig.body) === refused.signatureDigest)
        return { kind: 'refused', refused, how: 'not_modified' };
      log.info(
        { url: this.#signatureUrl, etag: sig.etag },
        'the signature of the refused pack changed; fetching the pack again',
      );
      pair = { ...(await this.#fetchFull(common)), signature: sig.body, signatureEtag: sig.etag };
    } else {
      pair = { pack: res.body, etag: res.etag, ...(await this.#fetchSignatureFull(common)) };
    }
    // A torn pair is fetched once more (no wait, no ETag); the refused bytes sent again are not verified again.
    const refetch = async (): Promise<SignedPair> => ({
      ...(await this.#fetchFull(common)),
      ...(await this.#fetchSignatureFull(common)),
    });
    return settlePair(memory, refused, pair, refetch, log, url);
  }

  // An unconditional GET of the pack: it must be a 200.
  async #fetchFull(common: Common): Promise<{ pack: Buffer; etag: string | undefined }> {
    const { url, maxBytes, maxBytesKey } = this.#config;
    const res = await fetchPack({ ...common, url, maxBytes, ...(maxBytesKey === undefined ? {} : { maxBytesKey }) });
    if (res.status === 304) throw unexpected304(url);
    return { pack: res.body, etag: res.etag };
  }

  // An unconditional GET of the signature.
  async #fetchSignatureFull(common: Common): Promise<{ signature: Buffer; signatureEtag: string | undefined }> {
    const sig = await fetchSignature({ ...common, url: this.#signatureUrl });
    if (sig.status === 304) throw unexpected304(this.#signatureUrl); // not reached: fetchSignature refuses it
    return { signature: sig.body, signatureEtag: sig.etag };
  }

  // Long poll re-requests at once after a held 304, an activation, a request that was not held, or a refusal remembered with its ETag; everything else waits a poll interval.
  #pace(f: Fetched): Pace {
    const { longPollSeconds } = this.#config;
    if (longPollSeconds <= 0) return 'interval';
    if (!f.held) return 'at_once';
    // A 304 faster than half the wait: the server does not hold requests, so poll instead of hammering it.
    const held = f.notModified && f.elapsedMs >= (longPollSeconds * 1000) / 2;
    // Just refused and remembered by ETag: the next request is a conditional long poll on it, which the server holds.
    const waitsOnRefused =
      !f.notModified && f.outcome?.status === 'refused' && this.#memory.refused?.etag !== undefined;
    return held || waitsOnRefused || f.outcome?.status === 'activated' ? 'at_once' : 'interval';
  }
}
