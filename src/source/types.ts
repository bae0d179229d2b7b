/**
 * What every source produces: a pack (bytes + signature) with the source's own
 * version tag. A source never verifies or activates anything (OPA's downloader
 * reports an Update and stops there); it hands updates to the pipeline and is
 * told the outcome, so it knows which version tag is really active and which
 * content was refused (and need not be handed over again until it changes).
 */
import type { Logger } from '../observe/logger.js';
import type { WardenMetrics } from '../observe/metrics.js';
import type { WardenError } from '../errors.js';

/** The kinds of source a pack can have (docs/configuration.md). */
export type SourceKind = 'http' | 'oci' | 's3' | 'file' | 'directory';

/** One delivery from a source. */
export interface PackUpdate {
  readonly pack: Buffer;
  /** The `.sigstore.json` bytes; undefined when the source has none (unsigned directory packs). */
  readonly signature: Buffer | undefined;
  /** The source's version tag for this content (HTTP ETag, file digest). */
  readonly etag: string | undefined;
  /** URL or path the pack came from. */
  readonly origin: string;
  /** Id on every log line of this fetch and the reload it triggers. */
  readonly correlationId: string;
}

/** What the pipeline did with an update. */
export type UpdateOutcome =
  | { readonly status: 'activated'; readonly digest: string }
  | { readonly status: 'unchanged'; readonly digest: string }
  /** Verified and stored in the history, not activated (the pack is pinned). */
  | { readonly status: 'recorded'; readonly digest: string }
  | { readonly status: 'refused'; readonly error: WardenError };

/** The pipeline's entry point: resolves once the update went through verify → store → activate. */
export type UpdateHandler = (update: PackUpdate) => Promise<UpdateOutcome>;

/** How a one-off fetch runs. */
export interface FetchOnceOptions {
  /**
   * An operator's reload: forget the refused pack the source remembers, so it is
   * fetched (or read, or built) in full and goes through the pipeline again.
   */
  readonly force?: boolean;
}

/** What a source needs from the agent. */
export interface SourceContext {
  readonly pack: string;
  readonly log: Logger;
  readonly metrics: WardenMetrics;
  /** Called each time the source confirms that what it serves is what is active (200 same digest, or 304). */
  readonly onConfirmed: () => void;
  /** Called on every fetch failure (already logged and counted by the source). */
  readonly onFetchError: (error: WardenError) => void;
  /** Called when the source's content was read but could not become a pack (a directory whose Rego does not build). */
  readonly onRefused?: (
    error: WardenError,
    info: { correlationId: string; origin: string; contentDigest?: string; durationMs: number },
  ) => void;
}

/** A pack source: polls (or watches), and hands changed content to the handler. */
export interface PackSource {
  readonly kind: SourceKind;
  /**
   * Tells the source the version tag of the pack now active (at boot from the
   * store), so conditional requests ask for changes relative to what really
   * runs. A pack refused for its content is remembered beside it (refused.ts)
   * and skipped while it is still what the source serves.
   */
  setActive(etag: string | undefined): void;
  /**
   * One fetch now; resolves with the outcome of the handler, undefined when
   * unchanged, or the remembered refusal when the refused pack is still served.
   * Throws a coded error when the fetch fails.
   */
  fetchOnce(handler: UpdateHandler, options?: FetchOnceOptions): Promise<UpdateOutcome | undefined>;
  /** Starts polling/watching in the background. */
  start(handler: UpdateHandler): void;
  /** Stops and waits for any fetch in flight to settle. */
  stop(): Promise<void>;
}
