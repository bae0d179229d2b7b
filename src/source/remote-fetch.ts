/**
 * One fetch of a remote source (`http`, `oci`, `s3`), around the source's own
 * requests: a correlation id and a child logger, the fetch timed
 * (`policy_fetch_duration_seconds`), a failure reported once (log, metrics,
 * `onFetchError`) and rethrown, then what the requests found: the active pack
 * still served (confirmed), the refused pair still served (skipped and counted,
 * refused.ts), or a new pair handed to the pipeline — its outcome decides the
 * active version tag and the refusal remembered. The source brings `download`
 * (requests and change detection) and how its log lines name things.
 */
import { randomUUID } from 'node:crypto';
import { messageOf, toWardenError, type WardenError } from '../errors.js';
import type { Logger } from '../observe/logger.js';
import { pairLooksConsistent } from './pairing.js';
import { isRefusedPair, rememberRefusal, skippedRefused, type HandedPair, type RefusedPack } from './refused.js';
import type { SourceContext, UpdateHandler, UpdateOutcome } from './types.js';

/** What a remote source remembers between fetches; `download` reads it and may update `refused`. */
export interface RemoteMemory {
  /** The version tag (ETag, manifest digest) of the pack now active. */
  active: string | undefined;
  refused: RefusedPack | undefined;
}

/** A pack and its signature, as fetched. */
export interface FetchedPair extends HandedPair {
  readonly etag: string | undefined;
}

/** A pack and its signature fetched as two files or objects (`http`, `s3`): the signature is never absent. */
export interface SignedPair extends FetchedPair {
  readonly signature: Buffer;
  readonly signatureEtag: string | undefined;
}

/** What the requests of one fetch found. */
export type Found<P extends FetchedPair> =
  | { readonly kind: 'current' } // the active pack, still served
  | { readonly kind: 'refused'; readonly refused: RefusedPack; readonly how?: 'not_modified' | 'same_digest' } // the refused pair, still served
  | { readonly kind: 'pair'; readonly pair: P }; // a pack and signature for the pipeline

/** One remote source's side of a fetch. */
export interface RemoteFetchSpec<P extends FetchedPair> {
  readonly source: 'http' | 'oci' | 's3';
  /** URL or reference the pack comes from (the update's origin). */
  readonly origin: string;
  /** The monotonic clock (ms). */
  readonly now: () => number;
  /** The requests of one fetch. */
  readonly download: (signal: AbortSignal, log: Logger) => Promise<Found<P>>;
  /** The debug line when the active pack is still served, and the field that names its tag. */
  readonly unchanged: { readonly message: string; readonly tagField: 'etag' | 'digest' };
  /** The fields of the `policy pack fetched` line (bytes added). */
  readonly fetchedFields: (pair: P) => Record<string, unknown>;
}

/** One completed fetch. */
export interface RemoteFetched {
  /** undefined when the active pack is still served. */
  readonly outcome: UpdateOutcome | undefined;
  /** True when nothing new was handed over (the active or the refused pack, still served). */
  readonly notModified: boolean;
  readonly elapsedMs: number;
}

/** One fetch → (confirm | skip the refused pair | hand the pair to the handler); `force` forgets the refused pair first. */
export async function remoteFetch<P extends FetchedPair>(
  spec: RemoteFetchSpec<P>,
  ctx: SourceContext,
  memory: RemoteMemory,
  run: { readonly handler: UpdateHandler; readonly signal: AbortSignal; readonly force: boolean },
  correlationId: string = randomUUID(),
): Promise<RemoteFetched> {
  const { pack, metrics } = ctx;
  const { source, now } = spec;
  if (run.force) memory.refused = undefined;
  const log = ctx.log.child({ pack, source, correlation_id: correlationId });
  const started = now();
  let found: Found<P>;
  try {
    found = await spec.download(run.signal, log);
  } catch (err) {
    const e = toWardenError(err, 'FETCH_FAILED');
    if (!run.signal.aborted) reportFailure(ctx, source, e, log, (now() - started) / 1000);
    throw e;
  }
  const elapsedMs = now() - started;
  metrics.fetchDuration.observe(
    { pack, source, result: found.kind === 'pair' ? 'changed' : 'unchanged' },
    elapsedMs / 1000,
  );
  if (found.kind === 'current') {
    log.debug({ [spec.unchanged.tagField]: memory.active }, spec.unchanged.message);
    memory.refused = undefined; // the active pack is served again, not the refused one
    ctx.onConfirmed();
    return { outcome: undefined, notModified: true, elapsedMs };
  }
  if (found.kind === 'refused') {
    const outcome = skippedRefused(ctx, source, found.refused, {
      correlation_id: correlationId,
      etag: found.refused.etag,
      digest: found.refused.digest,
      ...(found.how === undefined ? {} : { how: found.how }),
    });
    return { outcome, notModified: true, elapsedMs };
  }
  const pair = found.pair;
  log.info({ ...spec.fetchedFields(pair), bytes: pair.pack.length }, 'policy pack fetched');
  let outcome: UpdateOutcome;
  try {
    outcome = await run.handler({
      pack: pair.pack,
      signature: pair.signature,
      etag: pair.etag,
      origin: spec.origin,
      correlationId,
    });
  } catch (err) {
    log.error({ code: toWardenError(err).code, err: messageOf(err) }, 'update handler failed');
    throw err;
  }
  // Refused: the active tag stays; a refusal about the bytes is remembered and skipped until the pair changes.
  memory.refused = rememberRefusal(outcome, pair);
  if (outcome.status !== 'refused') {
    memory.active = pair.etag;
    ctx.onConfirmed();
  }
  return { outcome, notModified: false, elapsedMs };
}

/**
 * The end of a fetch in two requests (pack, then signature: `http`, `s3`): a pair torn by a
 * publish between them is fetched once more with `refetch` (pairing.ts); the refused pair,
 * sent again in full (a server without ETags, or one ignoring If-None-Match), is skipped and
 * not verified again, its new ETags remembered.
 */
export async function settlePair<P extends FetchedPair>(
  memory: RemoteMemory,
  refused: RefusedPack | undefined,
  fetched: P,
  refetch: () => Promise<P>,
  log: Logger,
  url: string,
): Promise<Found<P>> {
  let pair = fetched;
  if (!pairLooksConsistent(pair.pack, pair.signature)) {
    log.info({ url }, 'pack and signature fetched mid-publish; fetching the pair again');
    pair = await refetch();
  }
  if (isRefusedPair(refused, pair.pack, pair.signature)) {
    memory.refused = {
      ...refused,
      etag: pair.etag ?? refused.etag,
      signatureEtag: pair.signatureEtag ?? refused.signatureEtag,
    };
    return { kind: 'refused', refused, how: 'same_digest' };
  }
  return { kind: 'pair', pair };
}

// Logs, counts and reports one fetch failure.
function reportFailure(ctx: SourceContext, source: string, e: WardenError, log: Logger, seconds: number): void {
  const { pack, metrics } = ctx;
  metrics.fetchDuration.observe({ pack, source, result: 'error' }, seconds);
  metrics.fetchFailures.inc({ pack, source, code: e.code });
  log.warn({ code: e.code, err: e.message, details: e.details }, 'policy fetch failed');
  ctx.onFetchError(e);
}
