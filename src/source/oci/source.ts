/**
 * The `oci` source: a pack stored in an OCI registry as an OPA bundle artefact
 * (src/verify/oci-media-types.ts), its signature a Sigstore bundle attached as a referrer
 * (signature.ts). Change detection is by manifest digest: each poll is one
 * HEAD of the tag (the digest is the source's ETag); only a new digest costs
 * the manifest, the layer and the signature. A reference pinned by digest is
 * fetched once and then only confirmed. Polling, jitter, backoff after
 * failures and the memory of a refused pack (refused.ts) work as for `http`:
 * a refused manifest is not handed over again while its signature referrer
 * is the same one.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { messageOf, toWardenError, type WardenError } from '../../errors.js';
import type { Logger } from '../../observe/logger.js';
import { PollLoop, type PollDeps, type PollSchedule } from '../poll-loop.js';
import { isRefusedPair, rememberRefusal, skippedRefused, type RefusedPack } from '../refused.js';
import type { FetchOnceOptions, PackSource, SourceContext, UpdateHandler, UpdateOutcome } from '../types.js';
import type { OciCredentials } from './auth.js';
import { OciClient } from './client.js';
import { locatePack } from './manifest.js';
import { formatOciReference, type OciReference } from './reference.js';
import { fetchSignatureBytes, findSignature } from './signature.js';

/** The `source.oci` settings of one pack (credentials and CA as contents, not paths). */
export interface OciSourceConfig extends PollSchedule {
  readonly ref: OciReference;
  readonly credentials: OciCredentials;
  readonly insecureHttp: boolean;
  readonly ca?: Buffer;
  readonly timeoutSeconds: number;
  readonly maxBytes: number;
  readonly maxBytesKey?: string;
}

/** Seams for tests: randomness and timers. */
export type OciSourceDeps = PollDeps;

// What the requests of one poll found.
type Found =
  | { readonly kind: 'current' }
  | { readonly kind: 'refused'; readonly refused: RefusedPack }
  | {
      readonly kind: 'pair';
      readonly pair: { pack: Buffer; signature: Buffer | undefined; etag: string; signatureEtag: string | undefined };
    };

/** A pack in an OCI registry. */
export class OciSource implements PackSource {
  readonly kind = 'oci' as const;
  readonly #config: OciSourceConfig;
  readonly #ctx: SourceContext;
  readonly #client: OciClient;
  readonly #loop: PollLoop;
  readonly #origin: string;
  #active: string | undefined;
  #refused: RefusedPack | undefined;

  constructor(config: OciSourceConfig, ctx: SourceContext, deps: OciSourceDeps = {}) {
    this.#config = config;
    this.#ctx = ctx;
    this.#client = new OciClient({
      ref: config.ref,
      credentials: config.credentials,
      insecureHttp: config.insecureHttp,
      ...(config.ca === undefined ? {} : { ca: config.ca }),
      timeoutMs: config.timeoutSeconds * 1000,
    });
    this.#loop = new PollLoop(config, deps);
    this.#origin = formatOciReference(config.ref);
  }

  setActive(etag: string | undefined): void {
    this.#active = etag;
  }

  fetchOnce(handler: UpdateHandler, options: FetchOnceOptions = {}): Promise<UpdateOutcome | undefined> {
    return this.#loop.serial((signal) => this.#fetch(handler, signal, options.force === true));
  }

  start(handler: UpdateHandler): void {
    this.#loop.start((signal) => this.#fetch(handler, signal, false));
  }

  async stop(): Promise<void> {
    await this.#loop.stop();
    await this.#client.close();
  }

  // Resolve the digest → (unchanged | refused still served | pack + signature → handler).
  async #fetch(handler: UpdateHandler, signal: AbortSignal, force: boolean): Promise<UpdateOutcome | undefined> {
    const { pack, metrics } = this.#ctx;
    if (force) this.#refused = undefined;
    const correlationId = randomUUID();
    const log = this.#ctx.log.child({ pack, source: 'oci', correlation_id: correlationId });
    const started = performance.now();
    let found: Found;
    try {
      found = await this.#download(log, signal);
    } catch (err) {
      const e = toWardenError(err, 'FETCH_FAILED');
      if (!signal.aborted) this.#report(e, log, (performance.now() - started) / 1000);
      throw e;
    }
    const result = found.kind === 'pair' ? 'changed' : 'unchanged';
    metrics.fetchDuration.observe({ pack, source: 'oci', result }, (performance.now() - started) / 1000);
    if (found.kind === 'current') {
      log.debug({ digest: this.#active }, 'policy pack unchanged (same manifest digest)');
      this.#refused = undefined;
      this.#ctx.onConfirmed();
      return undefined;
    }
    if (found.kind === 'refused')
      return skippedRefused(this.#ctx, 'oci', found.refused, {
        correlation_id: correlationId,
        etag: found.refused.etag,
        digest: found.refused.digest,
      });
    const p = found.pair;
    log.info({ reference: this.#origin, manifest: p.etag, bytes: p.pack.length }, 'policy pack fetched');
    let outcome: UpdateOutcome;
    try {
      outcome = await handler({
        pack: p.pack,
        signature: p.signature,
        etag: p.etag,
        origin: this.#origin,
        correlationId,
      });
    } catch (err) {
      log.error({ code: toWardenError(err).code, err: messageOf(err) }, 'update handler failed');
      throw err;
    }
    this.#refused = rememberRefusal(outcome, p);
    if (outcome.status !== 'refused') {
      this.#active = p.etag;
      this.#ctx.onConfirmed();
    }
    return outcome;
  }

  // The requests of one poll.
  async #download(log: Logger, signal: AbortSignal): Promise<Found> {
    const { ref, maxBytes, maxBytesKey } = this.#config;
    const client = this.#client;
    const digest = ref.pinned ? ref.reference : await client.headManifest(ref.reference, signal);
    if (digest !== undefined && digest === this.#active) return { kind: 'current' };
    const refused = this.#refused;
    const top = await client.getManifest(digest ?? ref.reference, signal);
    if (top.digest === this.#active) return { kind: 'current' };
    const location = await locatePack(client, top, signal);
    const sigRef = await findSignature(client, location.manifest.digest, signal);
    // The refused manifest, still with the same signature referrer: not fetched nor handed over again.
    if (refused !== undefined && refused.etag === top.digest && refused.signatureEtag === sigRef?.digest)
      return { kind: 'refused', refused };
    const packBytes = await client.getBlob(location.layer.digest, maxBytes, maxBytesKey, signal);
    const signature =
      sigRef === undefined ? undefined : await fetchSignatureBytes(client, sigRef, location.manifest, signal);
    if (sigRef === undefined) log.warn({ manifest: location.manifest.digest }, 'no signature referrer found');
    if (isRefusedPair(refused, packBytes, signature)) return { kind: 'refused', refused };
    return {
      kind: 'pair',
      pair: { pack: packBytes, signature, etag: top.digest, signatureEtag: sigRef?.digest },
    };
  }

  #report(e: WardenError, log: Logger, seconds: number): void {
    const { pack, metrics } = this.#ctx;
    metrics.fetchDuration.observe({ pack, source: 'oci', result: 'error' }, seconds);
    metrics.fetchFailures.inc({ pack, source: 'oci', code: e.code });
    log.warn({ code: e.code, err: e.message, details: e.details }, 'policy fetch failed');
    this.#ctx.onFetchError(e);
  }
}
