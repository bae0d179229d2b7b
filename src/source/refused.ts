/**
 * What a source remembers of the last pack the pipeline refused, so that it
 * does not download, hand over and verify the same bytes again on every poll.
 *
 * Only refusals about the bytes are remembered (`isContentError`: integrity,
 * trust policy, hostile or malformed input, build and golden failures): the
 * same pack with the same signature is refused the same way every time, as long
 * as the agent's trust configuration is the same (it changes only with a
 * restart, which forgets). Transient refusals (the disk, opa, the network) are
 * not remembered: the next poll tries the same bytes again.
 *
 * A pack and its signature are a pair: the memory holds both digests (and both
 * ETags, when the server sent them), and a pair is "the refused one" only when
 * both match, so a signature fixed on its own brings the pack back to the
 * pipeline. An operator's forced reload (`fetchOnce(…, { force: true })`)
 * forgets the memory.
 */
import { isContentError, type WardenError } from '../errors.js';
import { sha256Digest } from '../verify/digest.js';
import type { SourceContext, SourceKind, UpdateOutcome } from './types.js';

/** One refused pair, as remembered. */
export interface RefusedPack {
  /** `sha256:<hex>` of the pack bytes. */
  readonly digest: string;
  /** `sha256:<hex>` of the signature bytes; undefined when the pack came without one. */
  readonly signatureDigest: string | undefined;
  /** The server's ETag of the pack, when it sent one. */
  readonly etag?: string | undefined;
  /** The server's ETag of the signature, when it sent one. */
  readonly signatureEtag?: string | undefined;
  /** Why it was refused: said again while the same pair is served. */
  readonly error: WardenError;
}

/** The pair a source handed over. */
export interface HandedPair {
  readonly pack: Buffer;
  readonly signature: Buffer | undefined;
  readonly etag?: string | undefined;
  readonly signatureEtag?: string | undefined;
}

/** What to remember after an outcome: the pair if it was refused for its content, else nothing. */
export function rememberRefusal(outcome: UpdateOutcome, pair: HandedPair): RefusedPack | undefined {
  if (outcome.status !== 'refused' || !isContentError(outcome.error)) return undefined;
  return {
    digest: sha256Digest(pair.pack),
    signatureDigest: digestOrNone(pair.signature),
    etag: pair.etag,
    signatureEtag: pair.signatureEtag,
    error: outcome.error,
  };
}

/** True when the pack and signature are byte for byte the refused pair. */
export function isRefusedPair(
  refused: RefusedPack | undefined,
  pack: Buffer,
  signature: Buffer | undefined,
): refused is RefusedPack {
  return (
    refused !== undefined &&
    refused.digest === sha256Digest(pack) &&
    refused.signatureDigest === digestOrNone(signature)
  );
}

/**
 * Whether a 304 means "still the refused pack" rather than "still the active
 * one". Its ETag says which of the tags sent matched (weak or strong, as
 * RFC 9110 compares for If-None-Match); a 304 without one (or with a tag not
 * sent) is ambiguous when both were sent, and is then taken as the refused
 * one: a 304 never confirms an active pack the server may not serve.
 */
export function answersRefused(
  etag: string | undefined,
  sent: readonly string[],
  refusedEtag: string | undefined,
): boolean {
  if (refusedEtag === undefined) return false;
  const opaque = (t: string): string => t.replace(/^W\//, '');
  const matched = etag === undefined ? undefined : sent.find((t) => opaque(t) === opaque(etag));
  return matched === undefined ? sent.includes(refusedEtag) : matched === refusedEtag;
}

/** The digest of optional bytes. */
export function digestOrNone(bytes: Buffer | undefined): string | undefined {
  return bytes === undefined ? undefined : sha256Digest(bytes);
}

/** Counts and logs (debug) one poll that found the refused pack still served and skipped it; returns the outcome to report. */
export function skippedRefused(
  ctx: SourceContext,
  source: SourceKind,
  refused: { readonly error: WardenError },
  fields: Record<string, unknown>,
): UpdateOutcome {
  ctx.metrics.refusedUnchanged.inc({ pack: ctx.pack, source });
  ctx.log.debug(
    { pack: ctx.pack, source, code: refused.error.code, ...fields },
    'refused policy pack still served; skipped',
  );
  return { status: 'refused', error: refused.error };
}
