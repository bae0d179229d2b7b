/**
 * The store's view of a pack version, kept in `data_dir/packs/<name>/state.json`.
 */
import type { WardenError } from '../errors.js';
import type { LimitSettings } from '../pack/limits.js';

/** One stored, verified pack version. */
export interface StoredVersion {
  /** `sha256:<hex>` of the pack bytes; also the blob's file name. */
  readonly digest: string;
  readonly revision: string;
  /** The signed monotonic marker. */
  readonly sequence: number;
  /** Who signed it (key hint/name or keyless subject), for audit. */
  readonly signer: string;
  /** URL or path it came from. */
  readonly origin: string;
  /** When it was first stored (ISO time). */
  readonly storedAt: string;
  /** When it was last activated (ISO time), if ever. */
  readonly activatedAt?: string;
  /** Version number within the pack: 1, 2, 3 … in order of first storage; never reused. */
  readonly number: number;
  /** Who activated it by hand (rollback), and why. */
  readonly actor?: string;
  readonly reason?: string;
  /** Present when the version ran as a shadow (rollout mode shadow): how that went, and its gate result. */
  readonly shadow?: ShadowRecord;
}

/** How a shadow ended, or that it still runs. */
export type ShadowResult = 'running' | 'promoted' | 'refused' | 'superseded' | 'cancelled';

/** A version's run as a shadow, in the history. */
export interface ShadowRecord {
  readonly result: ShadowResult;
  readonly startedAt: string;
  readonly endedAt?: string;
  /** Shadow decisions evaluated. */
  readonly decisions: number;
  /** Evaluated decisions by outcome (src/replay/compare.ts), unchanged included. */
  readonly outcomes: Readonly<Record<string, number>>;
  /** Why it ended (the gate's sentence, or the operator's reason). */
  readonly reason?: string;
  /** Who ended it by hand (promote, pin, rollback); `warden` for the gate. */
  readonly actor?: string;
}

/** A pin: the pack stays on `digest`; newer packs are recorded but not activated. */
export interface Pin {
  readonly digest: string;
  readonly at: string;
  readonly actor: string;
  readonly reason: string;
}

/** One operator rollback, for the audit trail. */
export interface RollbackRecord {
  readonly at: string;
  readonly from: string | undefined;
  readonly to: string;
  readonly actor: string;
  readonly reason: string;
}

/** A pack's stored state: which version is active, which is last-known-good, and the history. */
export interface PackState {
  readonly active: string | undefined;
  /** The version that was active before the current one (what a failed load falls back to). */
  readonly lastKnownGood: string | undefined;
  /** Most recently committed first; bounded; always holds active and lastKnownGood. */
  readonly versions: readonly StoredVersion[];
  /** Set by a rollback or an explicit pin; cleared by unpin. */
  readonly pinned?: Pin | undefined;
  /** Newest first, bounded (ROLLBACK_HISTORY_LIMIT). */
  readonly rollbacks: readonly RollbackRecord[];
  /** The number the next new version gets. */
  readonly nextNumber: number;
}

/** The bytes of a stored version. */
export interface StoredPack {
  readonly version: StoredVersion;
  readonly pack: Buffer;
  readonly signature: Buffer | undefined;
}

/** What `PackStore.commit` stores: verified bytes and what verification learnt about them. */
export interface CommitInput {
  readonly pack: Buffer;
  readonly signature?: Buffer | undefined;
  readonly version: Omit<StoredVersion, 'storedAt' | 'activatedAt' | 'number' | 'actor' | 'reason' | 'shadow'>;
}

/** What the caller (verify + manifest) tells `recover` about one blob. */
export type RecoveredVersion = Pick<StoredVersion, 'revision' | 'sequence' | 'signer' | 'origin'>;

/**
 * Verifies a blob found on disk and describes it; throws (ideally a WardenError)
 * when the blob must not be trusted. The store itself never parses packs.
 */
export type BlobInspector = (blob: {
  readonly digest: string;
  readonly pack: Buffer;
  readonly signature: Buffer | undefined;
}) => RecoveredVersion | Promise<RecoveredVersion>;

/** The state `PackStore.recover` rebuilt, plus the blobs it left out and why. */
export interface RecoveryResult extends PackState {
  readonly skipped: readonly { readonly digest: string; readonly error: WardenError }[];
}

/** Options of `PackStore.open`. */
export interface StoreOptions {
  /** Most versions kept per pack (active and last-known-good included, and never evicted). */
  readonly historyLimit: number;
  /** The limits stored packs are read with when the state is rebuilt (the agent's `limits:`; default: the defaults). */
  readonly packLimits?: LimitSettings;
}
