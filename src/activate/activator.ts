/**
 * The activate stage. One Activator per configured pack owns that pack's state
 * (active version, last-known-good, stale, last reload) and is its only writer
 * (STYLE 6). Updates go through one queue, in order; a candidate is verified,
 * loaded and golden-checked off to the side, stored, and then swapped in with
 * a single reference assignment. Decisions read `current` once per request and
 * evaluate synchronously, so a request that started on the old engine finishes
 * on it. Any failure leaves `current` as it was and is recorded.
 */
import type { WasmEngine } from '../engine/wasm.js';
import { toWardenError, type ErrorCode, type WardenError } from '../errors.js';
import type { Logger } from '../observe/logger.js';
import type { WardenMetrics } from '../observe/metrics.js';
import type { PackLimits } from '../pack/limits.js';
import type { PackUpdate, SourceKind, UpdateOutcome } from '../source/types.js';
import type { PackState, StoredPack, StoredVersion } from '../store/types.js';
import { sha256Digest } from '../verify/digest.js';
import type { SignerIdentity } from '../verify/verify.js';
import { describeSigner, prepareCandidate, type Candidate, type PackTrust } from './prepare.js';

/** The narrow view of the store the activator needs. */
export interface ActivationStore {
  state(pack: string): Promise<PackState>;
  recover(pack: string): Promise<PackState>;
  load(pack: string, digest: string): Promise<StoredPack>;
  commit(
    pack: string,
    stored: { pack: Buffer; signature?: Buffer; version: Omit<StoredVersion, 'storedAt' | 'activatedAt'> },
    activate: boolean,
  ): Promise<PackState>;
}

/** The pack that answers decisions right now. Immutable; replaced whole. */
export interface ActivePack {
  readonly name: string;
  readonly digest: string;
  readonly revision: string;
  readonly sequence: number;
  readonly entrypoints: readonly string[];
  readonly engine: WasmEngine;
  readonly signer: SignerIdentity | undefined;
  readonly origin: string;
  readonly activatedAt: Date;
}

/** The last reload attempt, as data. */
export interface ReloadRecord {
  readonly at: Date;
  readonly result: 'activated' | 'unchanged' | 'refused';
  readonly digest?: string;
  readonly correlationId?: string;
  readonly durationMs: number;
  readonly error?: { code: ErrorCode; message: string };
}

/** Everything the activator needs. */
export interface ActivatorOptions {
  readonly name: string;
  readonly sourceKind: SourceKind;
  readonly origin: string;
  readonly trust: PackTrust;
  readonly store: ActivationStore;
  readonly limits: Partial<PackLimits>;
  readonly metrics: WardenMetrics;
  readonly log: Logger;
  /** Called after every swap (routing tables, cache flushes). */
  readonly onActivated?: (active: ActivePack) => void;
}

/** Owns one pack's lifecycle. */
export class Activator {
  #current: ActivePack | undefined;
  #queue: Promise<unknown> = Promise.resolve();
  #lastReload: ReloadRecord | undefined;
  #lastError: { at: Date; code: ErrorCode; message: string } | undefined;
  #lastConfirmedAt: Date | undefined;
  #stale = false;
  #onLastKnownGood = false;

  constructor(private readonly opts: ActivatorOptions) {}

  /** The active pack (one reference read; undefined until the first activation). */
  get current(): ActivePack | undefined {
    return this.#current;
  }

  get name(): string {
    return this.opts.name;
  }

  /** Loads the newest stored pack that still verifies. Resolves false if none does. */
  boot(): Promise<boolean> {
    return this.#enqueue(async () => {
      const state = await this.opts.store.state(this.opts.name).catch(async (err: unknown) => {
        this.opts.log.error({ pack: this.opts.name, code: toWardenError(err).code, err: (err as Error).message }, 'store state unreadable; recovering from blobs');
        return this.opts.store.recover(this.opts.name);
      });
      const order = [state.active, state.lastKnownGood, ...state.versions.map((v) => v.digest)].filter((d, i, all): d is string => d !== undefined && all.indexOf(d) === i);
      for (const digest of order) {
        try {
          const stored = await this.opts.store.load(this.opts.name, digest);
          const candidate = await prepareCandidate(this.opts.name, stored.pack, stored.signature, this.opts.trust, this.opts.limits);
          this.#swap(candidate, stored.version.origin);
          this.#onLastKnownGood = digest !== state.active;
          this.#stale = true; // not yet confirmed by the source
          this.opts.metrics.onLastKnownGood.set({ pack: this.opts.name }, this.#onLastKnownGood ? 1 : 0);
          this.opts.log.info({ pack: this.opts.name, digest, revision: candidate.revision, last_known_good: this.#onLastKnownGood }, 'policy loaded from store');
          return true;
        } catch (err) {
          const e = toWardenError(err);
          this.opts.log.error({ pack: this.opts.name, digest, code: e.code, err: e.message }, 'stored pack does not load; trying an older one');
        }
      }
      return false;
    });
  }

  /** Runs an update through verify → store → activate, after any update queued before it. */
  submit(update: PackUpdate): Promise<UpdateOutcome> {
    return this.#enqueue(() => this.#process(update));
  }

  /** The source confirmed that the active digest is current. */
  confirmed(): void {
    this.#lastConfirmedAt = new Date();
    this.#stale = false;
    this.opts.metrics.stale.set({ pack: this.opts.name }, 0);
  }

  /** The source failed to fetch; the active pack stays but is stale. */
  fetchFailed(error: WardenError): void {
    this.#lastError = { at: new Date(), code: error.code, message: error.message };
    this.#stale = true;
    this.opts.metrics.stale.set({ pack: this.opts.name }, 1);
  }

  /** The pack's state as data, for /healthz. */
  status(now = new Date()): PackStatus {
    const c = this.#current;
    const confirmed = this.#lastConfirmedAt ?? c?.activatedAt;
    return {
      name: this.opts.name,
      source: { kind: this.opts.sourceKind, origin: this.opts.origin },
      active: c
        ? { digest: c.digest, revision: c.revision, sequence: c.sequence, entrypoints: c.entrypoints, activated_at: c.activatedAt.toISOString(), signer: describeSigner(c.signer) }
        : undefined,
      digest_age_seconds: confirmed ? Math.max(0, (now.getTime() - confirmed.getTime()) / 1000) : undefined,
      last_reload: this.#lastReload
        ? { ...this.#lastReload, at: this.#lastReload.at.toISOString() }
        : undefined,
      last_error: this.#lastError ? { ...this.#lastError, at: this.#lastError.at.toISOString() } : undefined,
      stale: this.#stale,
      last_known_good: this.#onLastKnownGood,
      pinned: false,
    };
  }

  // Chains work so reloads never overlap; a failure does not break the chain.
  #enqueue<T>(work: () => Promise<T>): Promise<T> {
    const next = this.#queue.then(work, work);
    this.#queue = next.catch(() => undefined);
    return next;
  }

  // One reload: candidate, downgrade check, store, swap; failures recorded, never thrown.
  async #process(update: PackUpdate): Promise<UpdateOutcome> {
    const started = process.hrtime.bigint();
    const ms = (): number => Number(process.hrtime.bigint() - started) / 1e6;
    const log = this.opts.log.child({ pack: this.opts.name, correlation_id: update.correlationId });
    const labels = { pack: this.opts.name, source: this.opts.sourceKind };
    try {
      const active = this.#current;
      const digest = sha256Digest(update.pack);
      if (active?.digest === digest) {
        this.#lastReload = { at: new Date(), result: 'unchanged', digest, correlationId: update.correlationId, durationMs: ms() };
        return { status: 'unchanged', digest };
      }
      // Downgrade protection is for signed packs from a remote; an unsigned directory's content is the truth.
      const guard = this.opts.trust.kind === 'unsigned' ? undefined : active;
      const candidate = await prepareCandidate(this.opts.name, update.pack, update.signature, this.opts.trust, this.opts.limits, guard);
      await this.opts.store.commit(
        this.opts.name,
        {
          pack: update.pack,
          ...(update.signature ? { signature: update.signature } : {}),
          version: { digest: candidate.digest, revision: candidate.revision, sequence: candidate.sequence, signer: describeSigner(candidate.signer), origin: update.origin },
        },
        true,
      );
      this.#swap(candidate, update.origin);
      this.#onLastKnownGood = false;
      this.opts.metrics.onLastKnownGood.set({ pack: this.opts.name }, 0);
      this.opts.metrics.reloadSuccess.inc(labels);
      this.opts.metrics.reloadDuration.observe(labels, ms() / 1000);
      this.#lastReload = { at: new Date(), result: 'activated', digest: candidate.digest, correlationId: update.correlationId, durationMs: ms() };
      log.info({ digest: candidate.digest, revision: candidate.revision, sequence: candidate.sequence, source_tag: update.etag, golden: candidate.goldenRun, duration_ms: Math.round(ms()) }, 'policy reloaded');
      return { status: 'activated', digest: candidate.digest };
    } catch (err) {
      const e = toWardenError(err);
      this.#refuse(e, { correlationId: update.correlationId, origin: update.origin, durationMs: ms() });
      return { status: 'refused', error: e };
    }
  }

  /**
   * Records a reload refused before a pack existed (a directory source whose Rego
   * does not build): same log line, metrics and health as any refusal.
   */
  recordRefusal(error: WardenError, context: { correlationId: string; origin: string; contentDigest?: string; durationMs: number }): void {
    this.#refuse(error, context);
  }

  // Bookkeeping of one refused reload; the active pack is untouched.
  #refuse(e: WardenError, context: { correlationId: string; origin: string; contentDigest?: string; durationMs: number }): void {
    const labels = { pack: this.opts.name, source: this.opts.sourceKind };
    this.opts.metrics.reloadFailure.inc({ ...labels, code: e.code });
    if (e.kind === 'integrity' || e.kind === 'policy' || e.kind === 'input' || e.kind === 'build') {
      this.opts.metrics.validationFailure.inc({ pack: this.opts.name, code: e.code });
    }
    const at = new Date();
    this.#lastError = { at, code: e.code, message: e.message };
    this.#lastReload = { at, result: 'refused', correlationId: context.correlationId, durationMs: context.durationMs, error: { code: e.code, message: e.message } };
    const line = typeof e.details.line === 'number' ? e.details.line : '?';
    const where = typeof e.details.file === 'string' ? `${e.details.file}:${line}` : undefined;
    this.opts.log.error(
      {
        pack: this.opts.name,
        correlation_id: context.correlationId,
        code: e.code,
        err: e.message,
        origin: context.origin,
        ...(where ? { where } : {}),
        ...(context.contentDigest ? { content_sha256: context.contentDigest } : {}),
        kept: this.#current?.digest,
      },
      'policy reload failed',
    );
  }

  // The single reference assignment that makes a candidate live.
  #swap(candidate: Candidate, origin: string): void {
    const previous = this.#current;
    const next: ActivePack = {
      name: this.opts.name,
      digest: candidate.digest,
      revision: candidate.revision,
      sequence: candidate.sequence,
      entrypoints: candidate.entrypoints,
      engine: candidate.engine,
      signer: candidate.signer,
      origin,
      activatedAt: new Date(),
    };
    this.#current = next;
    const m = this.opts.metrics;
    if (previous) m.activeInfo.remove({ pack: this.opts.name, source: this.opts.sourceKind, revision: previous.revision, digest: previous.digest });
    m.activeInfo.set({ pack: this.opts.name, source: this.opts.sourceKind, revision: next.revision, digest: next.digest }, 1);
    m.activeSequence.set({ pack: this.opts.name }, next.sequence);
    this.opts.onActivated?.(next);
  }
}

/** One pack's state as /healthz shows it. */
export interface PackStatus {
  readonly name: string;
  readonly source: { kind: SourceKind; origin: string };
  readonly active: { digest: string; revision: string; sequence: number; entrypoints: readonly string[]; activated_at: string; signer: string } | undefined;
  readonly digest_age_seconds: number | undefined;
  readonly last_reload: (Omit<ReloadRecord, 'at'> & { at: string }) | undefined;
  readonly last_error: { at: string; code: ErrorCode; message: string } | undefined;
  readonly stale: boolean;
  readonly last_known_good: boolean;
  readonly pinned: boolean;
}
