/**
 * The `s3` source: a pack and its signature as two objects in an S3-compatible
 * bucket (AWS S3, MinIO …), fetched with the AWS SDK (SigV4-signed requests), on
 * a jittered poll with exponential backoff after failures (poll-loop.ts), and
 * what a poll found handled as by the http source (remote-fetch.ts).
 *
 * Change detection is the object's ETag: each poll is a conditional GET
 * (`If-None-Match`) of the pack, so an unchanged pack costs one 304 and is never
 * downloaded or verified again. S3 takes one entity tag per request, so the tag
 * sent is the active pack's or, after a refusal about the bytes (refused.ts), the
 * refused pack's: a store still serving the refused pack answers 304 (counted in
 * `policy_refused_unchanged_total`, not a confirmation of the active pack), and
 * its signature object is asked for with its own ETag, so a signature fixed on
 * its own brings the pair back to the pipeline. A 200 whose ETag is the active
 * one (the store went back to what runs) confirms the active pack without a new
 * verification. The signature object is fetched after the pack; a missing one is
 * SIGNATURE_FETCH_FAILED, as for http. A pair torn by a publish between the two
 * GETs is fetched once more (pairing.ts).
 */
import { performance } from 'node:perf_hooks';
import type { S3Client } from '@aws-sdk/client-s3';
import { WardenError, messageOf } from '../errors.js';
import type { Logger } from '../observe/logger.js';
import { SIGNATURE_MAX_BYTES, type FetchResult } from './http-fetch.js';
import { PollLoop, type PollDeps, type PollSchedule } from './poll-loop.js';
import { digestOrNone } from './refused.js';
import { remoteFetch, settlePair, type Found, type RemoteMemory, type SignedPair } from './remote-fetch.js';
import { createS3Client, getObject, s3Url, type S3ClientSettings, type S3GetOptions } from './s3-fetch.js';
import type { FetchOnceOptions, PackSource, SourceContext, UpdateHandler, UpdateOutcome } from './types.js';

/** The `source.s3` settings of one pack (the CA as contents, not a path). */
export interface S3SourceConfig extends S3ClientSettings, PollSchedule {
  readonly bucket: string;
  readonly key: string;
  /** Default `<key>.sigstore.json`. */
  readonly signatureKey?: string;
  readonly timeoutSeconds: number;
  readonly maxBytes: number;
  /** The setting maxBytes comes from, named when a pack is over it. */
  readonly maxBytesKey?: string;
}

/** Seams for tests: randomness, timers and the monotonic clock (ms). */
export interface S3SourceDeps extends PollDeps {
  readonly now?: () => number;
}

/** A pack in an S3-compatible bucket. */
export class S3Source implements PackSource {
  readonly kind = 's3' as const;
  readonly #config: S3SourceConfig;
  readonly #ctx: SourceContext;
  readonly #now: () => number;
  readonly #loop: PollLoop;
  readonly #signatureKey: string;
  readonly #origin: string;
  #client: Promise<S3Client> | undefined;
  readonly #memory: RemoteMemory = { active: undefined, refused: undefined };

  constructor(config: S3SourceConfig, ctx: SourceContext, deps: S3SourceDeps = {}) {
    this.#config = config;
    this.#ctx = ctx;
    this.#now = deps.now ?? (() => performance.now());
    this.#loop = new PollLoop(config, deps);
    this.#signatureKey = config.signatureKey ?? `${config.key}.sigstore.json`;
    this.#origin = s3Url(config.bucket, config.key);
    // Load the SDK now (it takes a while), not at the first fetch; a failure surfaces at that fetch.
    this.#client = createS3Client(config);
    this.#client.catch(() => undefined);
  }

  setActive(etag: string | undefined): void {
    this.#memory.active = etag;
  }

  /** One conditional GET now, after any fetch in flight; `force` forgets the refused pack first. */
  fetchOnce(handler: UpdateHandler, options: FetchOnceOptions = {}): Promise<UpdateOutcome | undefined> {
    return this.#loop.serial((signal) => this.#fetch(handler, signal, options.force === true));
  }

  /** Polls until stop(); a second start() while running is ignored. */
  start(handler: UpdateHandler): void {
    this.#loop.start((signal) => this.#fetch(handler, signal, false));
  }

  /** Aborts the request in flight and the pending timer; resolves when the loop has ended. */
  async stop(): Promise<void> {
    await this.#loop.stop();
    const client = this.#client;
    this.#client = undefined;
    if (client !== undefined) (await client.catch(() => undefined))?.destroy();
  }

  // Fetch → (signature) → handler (remote-fetch.ts: timing, failure report, confirmation, refusal memory).
  async #fetch(handler: UpdateHandler, signal: AbortSignal, force: boolean): Promise<UpdateOutcome | undefined> {
    const fetched = await remoteFetch(
      {
        source: 's3',
        origin: this.#origin,
        now: this.#now,
        download: (s, log) => this.#download(s, log),
        unchanged: { message: 'policy pack unchanged', tagField: 'etag' },
        fetchedFields: (pair) => ({ url: this.#origin, etag: pair.etag }),
      },
      this.#ctx,
      this.#memory,
      { handler, signal, force },
    );
    return fetched.outcome;
  }

  // The GETs of one poll: the pack (If-None-Match: the refused ETag if any, else the active one), the signature when needed.
  async #download(signal: AbortSignal, log: Logger): Promise<Found<SignedPair>> {
    const memory = this.#memory;
    const refused = memory.refused;
    const tag = refused?.etag ?? memory.active;
    const res = await this.#get(this.#config.key, signal, tag);
    let pair: SignedPair;
    if (res.status === 304) {
      if (refused?.etag === undefined) return { kind: 'current' };
      // The refused pack is still served; its signature may have been fixed on its own (a small, conditional GET).
      const sig = await this.#getSignature(signal, refused.signatureEtag);
      if (sig.status === 304 || digestOrNone(sig.body) === refused.signatureDigest)
        return { kind: 'refused', refused, how: 'not_modified' };
      log.info({ url: s3Url(this.#config.bucket, this.#signatureKey) }, 'the signature of the refused pack changed');
      pair = { ...(await this.#getPack(signal)), signature: sig.body, signatureEtag: sig.etag };
    } else {
      // The active pack again (the store went back to it after a refusal): confirmed, not verified again.
      if (res.etag !== undefined && res.etag === memory.active) return { kind: 'current' };
      pair = { pack: res.body, etag: res.etag, ...(await this.#getSignatureFull(signal)) };
    }
    // A torn pair is fetched once more, unconditionally; the refused bytes sent again are not verified again.
    const refetch = async (): Promise<SignedPair> => ({
      ...(await this.#getPack(signal)),
      ...(await this.#getSignatureFull(signal)),
    });
    return settlePair(memory, refused, pair, refetch, log, this.#origin);
  }

  // An unconditional GET of the pack.
  async #getPack(signal: AbortSignal): Promise<{ pack: Buffer; etag: string | undefined }> {
    const res = await this.#get(this.#config.key, signal, undefined);
    if (res.status === 304) throw unexpected304(this.#origin);
    return { pack: res.body, etag: res.etag };
  }

  // An unconditional GET of the signature.
  async #getSignatureFull(signal: AbortSignal): Promise<{ signature: Buffer; signatureEtag: string | undefined }> {
    const sig = await this.#getSignature(signal, undefined);
    if (sig.status === 304) throw unexpected304(s3Url(this.#config.bucket, this.#signatureKey));
    return { signature: sig.body, signatureEtag: sig.etag };
  }

  // GET of the signature object; any failure → SIGNATURE_FETCH_FAILED wrapping the cause (as the http source).
  async #getSignature(signal: AbortSignal, ifNoneMatch: string | undefined): Promise<FetchResult> {
    const url = s3Url(this.#config.bucket, this.#signatureKey);
    try {
      return await this.#get(this.#signatureKey, signal, ifNoneMatch, SIGNATURE_MAX_BYTES);
    } catch (err) {
      const cause = err instanceof WardenError ? err : undefined;
      throw new WardenError('SIGNATURE_FETCH_FAILED', `cannot fetch the signature ${url}: ${messageOf(err)}`, {
        cause: err,
        details: { url, cause_code: cause?.code, ...cause?.details },
      });
    }
  }

  // One GET with this source's client, deadline and limit.
  async #get(key: string, signal: AbortSignal, ifNoneMatch: string | undefined, limit?: number): Promise<FetchResult> {
    const { bucket, timeoutSeconds, maxBytes, maxBytesKey } = this.#config;
    this.#client ??= createS3Client(this.#config);
    const opts: S3GetOptions = {
      bucket,
      key,
      timeoutMs: timeoutSeconds * 1000,
      signal,
      ...(ifNoneMatch === undefined ? {} : { ifNoneMatch }),
      ...(limit === undefined
        ? { maxBytes, ...(maxBytesKey === undefined ? {} : { maxBytesKey }) }
        : { maxBytes: Math.min(limit, maxBytes) }),
    };
    return getObject(await this.#client, opts);
  }
}

// A 304 to a GET that sent no entity tag: the store (or a cache in between) is broken.
function unexpected304(url: string): WardenError {
  return new WardenError('FETCH_HTTP_STATUS', `unexpected HTTP 304 for ${url}: the request was not conditional`, {
    details: { status: 304, url },
  });
}
