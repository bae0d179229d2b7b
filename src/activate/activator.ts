/**
 * The activate stage. One Activator per configured pack owns that pack's state
 * (active version, last-known-good, pin, stale, last reload) and is its only
 * writer (docs/design.md#one-state-owner-per-pack). Every change — an update from the source, a rollback, a
 * pin, an unpin — goes through one queue, in order. A candidate is verified,
 * loaded and golden-checked off to the side, stored, and then swapped in with
 * a single reference assignment. Decisions read `current` once per request and
 * evaluate synchronously, so a request that started on the old engine finishes
 * on it. Any failure leaves `current` as it was and is recorded.
 *
 * Boot, update, rollback and unpin differ only in how they choose and store a
 * candidate; all of them make it live through one private path, `#activate`,
 * which swaps it in and does every piece of bookkeeping (status, gauges, the
 * last-known-good flag, events, onActivated) the same way.
 */
import { SpanStatusCode, context } from '@opentelemetry/api';
import { releaseEngine, type Engine } from '../engine/engine.js';
import { WardenError, isContentError, messageOf, toWardenError, type ErrorCode } from '../errors.js';
import type { WardenEventType } from '../notify/events.js';
import { ATTR, inSpan, inSpanSync } from '../observe/tracing.js';
import type { PackUpdate, UpdateOutcome } from '../source/types.js';
import type { ManualAction } from '../store/history.js';
import type { PackState, Pin, ShadowRecord, ShadowResult, StoredPack } from '../store/types.js';
import { sha256Digest } from '../verify/digest.js';
import { describeSigner, prepareCandidate, type Candidate } from './prepare.js';
import type { GateVerdict, ShadowRun } from './shadow.js';
import type { PackStatus, ReloadRecord } from './status.js';
import type { ActivePack, ActivatorOptions } from './types.js';

export type { PackStatus, ReloadRecord } from './status.js';
export type { ActivationStore, ActivePack, ActivatorOptions } from './types.js';

type Context = { correlationId: string; origin: string; contentDigest?: string; durationMs: number };

/** How one activation came about: all `#activate` needs besides the candidate. */
interface Activation {
  /** Where the pack came from (URL or path). */
  readonly origin: string;
  /**
   * The store's state once this activation is written (or, at boot, as read): it
   * gives the pin, the version number, and the active digest — serving another
   * one means running on the last-known-good.
   */
  readonly state: PackState;
  /** An update from the source: recorded as the last reload and in the reload metrics. */
  readonly reload?: { readonly correlationId: string; readonly durationMs: number };
  /** Boot: the pack is stale until its source confirms it. */
  readonly unconfirmed?: boolean;
  readonly log: { readonly level: 'info' | 'warn'; readonly msg: string; readonly fields: Record<string, unknown> };
  /** Events to emit after the swap, in order. */
  readonly events: readonly (readonly [WardenEventType, Record<string, unknown>])[];
}

/** The version running as the pack's shadow. */
interface Shadow {
  readonly run: ShadowRun;
  readonly candidate: Candidate;
  readonly number: number | undefined;
  readonly origin: string;
  readonly startedAt: Date;
}

/** Owns one pack's lifecycle. */
export class Activator {
  #current: ActivePack | undefined;
  /** Engines prepared by the work in progress (see #enqueue). */
  readonly #prepared: Engine[] = [];
  #queue: Promise<unknown> = Promise.resolve();
  #lastReload: ReloadRecord | undefined;
  #lastError: { at: Date; code: ErrorCode; message: string } | undefined;
  #lastConfirmedAt: Date | undefined;
  #stale = false;
  /** policy.stale was emitted and policy.fresh not yet (the boot-time stale flag alone emits nothing). */
  #staleAnnounced = false;
  #onLastKnownGood = false;
  #pin: Pin | undefined;
  #shadow: Shadow | undefined;

  constructor(private readonly opts: ActivatorOptions) {}

  /** The active pack (one reference read; undefined until the first activation). */
  get current(): ActivePack | undefined {
    return this.#current;
  }

  get name(): string {
    return this.opts.name;
  }

  /** The running shadow (one reference read; undefined when none runs): the decider offers it decisions. */
  get shadow(): ShadowRun | undefined {
    return this.#shadow?.run;
  }

  /**
   * True from policy.stale to policy.fresh: the source failed while a version is served and has
   * not answered since (a stored pack served at boot before its source answered is stale, not failing).
   */
  get sourceFailing(): boolean {
    return this.#staleAnnounced;
  }

  /** Loads the pinned or newest stored pack that still verifies. Resolves false if none does. */
  boot(): Promise<boolean> {
    return this.#enqueue(async () => {
      const state = await this.opts.store.state(this.opts.name).catch(async (err: unknown) => {
        this.opts.log.error(
          { pack: this.opts.name, code: toWardenError(err).code, err: messageOf(err) },
          'store state unreadable; recovering from blobs',
        );
        return this.opts.store.recover(this.opts.name);
      });
      this.#pin = state.pinned;
      this.#publishPin();
      const order = [
        state.pinned?.digest,
        state.active,
        state.lastKnownGood,
        ...state.versions.map((v) => v.digest),
      ].filter((d, i, all): d is string => d !== undefined && all.indexOf(d) === i);
      const loaded = await this.#firstVerified(order, 'stored pack does not load; trying an older one');
      if (!loaded) return false;
      const { candidate, stored } = loaded;
      this.#activate(candidate, {
        origin: stored.version.origin,
        state,
        unconfirmed: true,
        log: {
          level: 'info',
          msg: 'policy loaded from store',
          fields: {
            revision: candidate.revision,
            last_known_good: candidate.digest !== state.active,
            pinned: state.pinned !== undefined,
          },
        },
        events: [],
      });
      return true;
    });
  }

  /** Runs an update through verify → store → activate (or record, while pinned), after anything queued before it. */
  submit(update: PackUpdate): Promise<UpdateOutcome> {
    // The caller's trace context (the source's `warden.fetch` span): the reload span is its child, however long it queues.
    const caller = context.active();
    return this.#enqueue(() => context.with(caller, () => this.#traced(update)));
  }

  /**
   * Rolls back to a stored version (default: the last-known-good), re-verified
   * with the current trust and golden-checked, and pins the pack there. A reason is required.
   */
  rollback(target: { digest?: string; number?: number }, manual: ManualAction): Promise<ActivePack> {
    return this.#enqueue(async () => {
      if (!manual.reason.trim()) throw new WardenError('USAGE', 'a rollback needs a reason');
      const state = await this.opts.store.state(this.opts.name);
      const version =
        target.digest !== undefined
          ? state.versions.find((v) => v.digest === target.digest)
          : target.number !== undefined
            ? state.versions.find((v) => v.number === target.number)
            : state.versions.find((v) => v.digest === state.lastKnownGood);
      if (!version)
        throw new WardenError(
          'USAGE',
          `pack "${this.opts.name}" has no such stored version (${JSON.stringify(target)})`,
          { details: { target } },
        );
      const from = this.#current;
      const stored = await this.opts.store.load(this.opts.name, version.digest);
      const candidate = await this.#prepare(stored.pack, stored.signature);
      // An operator takes over: a running shadow ends without a verdict (the rollback pins the pack).
      await this.#endShadow('cancelled', manual);
      const after = await this.opts.store.rollback(this.opts.name, version.digest, manual);
      this.opts.metrics.rollbacks.inc({ pack: this.opts.name });
      return this.#activate(candidate, {
        origin: stored.version.origin,
        state: after,
        log: {
          level: 'warn',
          msg: 'policy rolled back and pinned',
          fields: { from: from?.digest, to: version.digest, actor: manual.actor, reason: manual.reason },
        },
        events: [
          [
            'policy.rolled_back',
            {
              from: from?.digest,
              from_number: from?.number,
              to: version.digest,
              to_number: version.number,
              actor: manual.actor,
              reason: manual.reason,
            },
          ],
          [
            'policy.pinned',
            { digest: version.digest, number: version.number, actor: manual.actor, reason: manual.reason },
          ],
        ],
      });
    });
  }

  /** Pins the pack to its active version: newer packs are recorded, not activated. */
  pin(manual: ManualAction): Promise<Pin> {
    return this.#enqueue(async () => {
      const active = this.#current;
      if (!active) throw new WardenError('NOT_READY', `pack "${this.opts.name}" has no active version to pin`);
      const pin: Pin = {
        digest: active.digest,
        at: new Date().toISOString(),
        actor: manual.actor,
        reason: manual.reason,
      };
      // A pinned pack activates nothing new: a running shadow ends without a verdict.
      await this.#endShadow('cancelled', manual);
      this.#pin = (await this.opts.store.setPin(this.opts.name, pin)).pinned;
      this.#publishPin();
      this.#emit('policy.pinned', {
        digest: active.digest,
        number: active.number,
        actor: manual.actor,
        reason: manual.reason,
      });
      return pin;
    });
  }

  /**
   * Lifts the pin and activates the newest version that still verifies (newest
   * by signed sequence; one that no longer verifies is skipped), unless that is the active one.
   */
  unpin(manual: ManualAction): Promise<ActivePack | undefined> {
    return this.#enqueue(async () => {
      const state = await this.opts.store.setPin(this.opts.name, undefined);
      this.#pin = undefined;
      this.#publishPin();
      this.#emit('policy.unpinned', { actor: manual.actor, reason: manual.reason });
      const newestFirst = [...state.versions].sort((a, b) => b.sequence - a.sequence).map((v) => v.digest);
      const current = this.#current?.digest;
      // Versions newer than the active one; the active one itself needs no new check.
      const newer =
        current === undefined || !newestFirst.includes(current)
          ? newestFirst
          : newestFirst.slice(0, newestFirst.indexOf(current));
      const eligible = this.opts.rollout
        ? newer.filter((d) => state.versions.find((v) => v.digest === d)?.shadow?.result !== 'refused')
        : newer;
      const loaded = await this.#firstVerified(eligible, 'stored pack does not verify; unpin tries an older one');
      if (!loaded) return this.#current;
      const { candidate, stored } = loaded;
      if (this.opts.rollout) {
        // rollout mode shadow: the newest version is shadowed, not activated.
        await this.#startShadow(candidate, stored.version.number, stored.version.origin);
        return this.#current;
      }
      const after = await this.opts.store.markActive(this.opts.name, candidate.digest);
      return this.#activate(candidate, {
        origin: stored.version.origin,
        state: after,
        log: { level: 'info', msg: 'policy unpinned; newest version activated', fields: { actor: manual.actor } },
        events: [
          [
            'policy.updated',
            {
              digest: candidate.digest,
              number: stored.version.number,
              revision: candidate.revision,
              reason: 'unpinned',
            },
          ],
        ],
      });
    });
  }

  /**
   * Makes the running shadow active through the normal activation path (the previous
   * active becomes last-known-good), whatever its gate says: an operator's call.
   * SHADOW_NOT_RUNNING when there is none.
   */
  promote(manual: ManualAction): Promise<ActivePack> {
    return this.#enqueue(async () => {
      if (!this.#shadow)
        throw new WardenError('SHADOW_NOT_RUNNING', `pack "${this.opts.name}" has no shadow to promote`, {
          details: { pack: this.opts.name },
        });
      return this.#promoteShadow(manual);
    });
  }

  /** The source confirmed that the active digest is current (so it no longer serves anything refused). */
  confirmed(): void {
    this.#lastConfirmedAt = new Date();
    const active = this.#current;
    if (this.#lastReload?.result === 'refused' && active) {
      this.#lastReload = { at: this.#lastConfirmedAt, result: 'unchanged', digest: active.digest, durationMs: 0 };
    }
    this.#stale = false;
    this.opts.metrics.stale.set({ pack: this.opts.name }, 0);
    if (this.#staleAnnounced) {
      this.#staleAnnounced = false;
      this.#emit('policy.fresh', { digest: active?.digest, revision: active?.revision });
    }
  }

  /** The source failed to fetch; the active pack stays but is stale. */
  fetchFailed(error: WardenError): void {
    this.#lastError = { at: new Date(), code: error.code, message: error.message };
    this.#stale = true;
    // Stale describes an active pack; without one the health endpoint decides whether the series exists.
    const active = this.#current;
    if (!active) return;
    this.opts.metrics.stale.set({ pack: this.opts.name }, 1);
    // Once per stale spell: a source retrying every few seconds does not flood the event log.
    if (this.#staleAnnounced) return;
    this.#staleAnnounced = true;
    this.#emit('policy.stale', {
      digest: active.digest,
      revision: active.revision,
      code: error.code,
      message: error.message,
    });
  }

  /** Records a reload refused before a pack existed (a directory source whose Rego does not build). */
  recordRefusal(error: WardenError, context: Context): void {
    this.#refuse(error, context);
  }

  /** The pack's state as data, for /healthz and the admin API. */
  status(now = new Date()): PackStatus {
    const c = this.#current;
    const confirmed = this.#lastConfirmedAt ?? c?.activatedAt;
    return {
      name: this.opts.name,
      source: { kind: this.opts.sourceKind, origin: this.opts.origin },
      active: c
        ? {
            digest: c.digest,
            number: c.number,
            revision: c.revision,
            sequence: c.sequence,
            entrypoints: c.entrypoints,
            activated_at: c.activatedAt.toISOString(),
            signer: describeSigner(c.signer),
          }
        : undefined,
      digest_age_seconds: confirmed ? Math.max(0, (now.getTime() - confirmed.getTime()) / 1000) : undefined,
      last_reload: this.#lastReload ? { ...this.#lastReload, at: this.#lastReload.at.toISOString() } : undefined,
      last_error: this.#lastError ? { ...this.#lastError, at: this.#lastError.at.toISOString() } : undefined,
      stale: this.#stale,
      last_known_good: this.#onLastKnownGood,
      pinned: this.#pin !== undefined,
      pin: this.#pin,
      shadow: this.#shadowStatus(),
    };
  }

  #shadowStatus(): PackStatus['shadow'] {
    const s = this.#shadow;
    if (!s) return undefined;
    return {
      digest: s.candidate.digest,
      number: s.number,
      revision: s.candidate.revision,
      sequence: s.candidate.sequence,
      started_at: s.startedAt.toISOString(),
      ...s.run.progress(),
    };
  }

  // Verify, load and golden-check a pack, then the owner's own acceptance check.
  async #prepare(
    pack: Buffer,
    signature: Buffer | undefined,
    guard?: Parameters<typeof prepareCandidate>[5],
    correlationId?: string,
  ): Promise<Candidate> {
    const candidate = await prepareCandidate(
      this.opts.name,
      pack,
      signature,
      this.opts.trust,
      this.opts.limits,
      guard,
      {
        limitKeys: this.opts.limitKeys,
        engines: this.opts.engines,
        spanAttributes: {
          [ATTR.pack]: this.opts.name,
          ...(correlationId === undefined ? {} : { [ATTR.correlationId]: correlationId }),
        },
      },
    );
    this.#prepared.push(candidate.engine);
    this.opts.accept?.(candidate);
    return candidate;
  }

  // The pack's SHA-256; a failure to compute it makes the pack corrupt (docs/design.md#governance).
  #digestOf(pack: Buffer): string {
    try {
      return (this.opts.digest ?? sha256Digest)(pack);
    } catch (err) {
      throw new WardenError(
        'POLICY_INTEGRITY_CHECK_FAILED',
        `the SHA-256 of the update cannot be computed: ${messageOf(err)}`,
        { cause: err },
      );
    }
  }

  // Chains work so changes never overlap; a failure does not break the chain. Engines the
  // work prepared but did not make active (refused, recorded while pinned, failed to store) are
  // released when it ends: a pooled engine holds memory in every decision worker.
  #enqueue<T>(work: () => Promise<T>): Promise<T> {
    const run = async (): Promise<T> => {
      try {
        return await work();
      } finally {
        for (const engine of this.#prepared.splice(0))
          if (engine !== this.#current?.engine && engine !== this.#shadow?.candidate.engine) releaseEngine(engine);
      }
    };
    const next = this.#queue.then(run, run);
    this.#queue = next.catch(() => undefined);
    return next;
  }

  // One reload in a `warden.reload` span: its outcome and digest as attributes, a refusal as an error status.
  #traced(update: PackUpdate): Promise<UpdateOutcome> {
    const attributes = {
      [ATTR.pack]: this.opts.name,
      [ATTR.correlationId]: update.correlationId,
      [ATTR.source]: this.opts.sourceKind,
    };
    return inSpan('warden.reload', attributes, async (span) => {
      const outcome = await this.#process(update);
      span.setAttribute(ATTR.outcome, outcome.status);
      if (outcome.status === 'refused') {
        span.setStatus({ code: SpanStatusCode.ERROR, message: outcome.error.message });
        span.setAttribute(ATTR.errorCode, outcome.error.code);
      } else span.setAttribute(ATTR.digest, outcome.digest);
      return outcome;
    });
  }

  // One reload: candidate, downgrade check, store, swap (or record while pinned); failures recorded, never thrown.
  async #process(update: PackUpdate): Promise<UpdateOutcome> {
    const started = process.hrtime.bigint();
    const ms = (): number => Number(process.hrtime.bigint() - started) / 1e6;
    const log = this.opts.log.child({ pack: this.opts.name, correlation_id: update.correlationId });
    try {
      const active = this.#current;
      const digest = this.#digestOf(update.pack);
      if (active?.digest === digest || this.#shadow?.candidate.digest === digest) {
        this.#lastReload = {
          at: new Date(),
          result: 'unchanged',
          digest,
          correlationId: update.correlationId,
          durationMs: ms(),
        };
        return { status: 'unchanged', digest };
      }
      const pinned = this.#pin !== undefined;
      // rollout mode shadow: a new version becomes the shadow, not active (a pin still wins: it is recorded).
      // The pack's first version has nothing to be compared with: it is activated.
      const shadowing = this.opts.rollout !== undefined && !pinned && active !== undefined;
      const known = pinned || shadowing ? await this.opts.store.state(this.opts.name) : undefined;
      const knownVersion = known?.versions.find((v) => v.digest === digest);
      // A refused shadow is not shadowed again; a known one that is not (its shadow was cut short by a restart) is.
      if (knownVersion && (pinned || knownVersion.shadow?.result === 'refused')) {
        this.#lastReload = {
          at: new Date(),
          result: 'recorded',
          digest,
          correlationId: update.correlationId,
          durationMs: ms(),
        };
        return { status: 'recorded', digest };
      }
      // Downgrade protection is for signed packs from a remote; an unsigned directory's content is the truth.
      // While pinned, "newer" means newer than every version recorded, not than the (older) pinned one.
      const newestKnown = known
        ? Math.max(active?.sequence ?? 0, ...known.versions.map((v) => v.sequence))
        : active?.sequence;
      const guard =
        this.opts.trust.kind === 'unsigned' || newestKnown === undefined || knownVersion !== undefined
          ? undefined
          : { sequence: newestKnown, revision: active?.revision ?? '?' };
      const candidate = await this.#prepare(update.pack, update.signature, guard, update.correlationId);
      const version = {
        digest: candidate.digest,
        revision: candidate.revision,
        sequence: candidate.sequence,
        signer: describeSigner(candidate.signer),
        origin: update.origin,
      };
      const stored = { pack: update.pack, ...(update.signature ? { signature: update.signature } : {}), version };
      const spanAttributes = {
        [ATTR.pack]: this.opts.name,
        [ATTR.correlationId]: update.correlationId,
        [ATTR.digest]: candidate.digest,
      };
      const state = await inSpan('warden.store', spanAttributes, () =>
        this.opts.store.commit(this.opts.name, stored, !pinned && !shadowing),
      );
      const number = state.versions.find((v) => v.digest === candidate.digest)?.number;
      this.#emit('policy.version_created', {
        digest: candidate.digest,
        number,
        revision: candidate.revision,
        sequence: candidate.sequence,
        activated: !pinned && !shadowing,
        ...(shadowing ? { shadow: true } : {}),
      });
      if (shadowing) {
        await this.#startShadow(candidate, number, update.origin);
        this.#lastReload = {
          at: new Date(),
          result: 'shadow',
          digest: candidate.digest,
          correlationId: update.correlationId,
          durationMs: ms(),
        };
        log.info(
          { digest: candidate.digest, number, revision: candidate.revision, active: active?.digest },
          'policy stored as the shadow: the active version keeps answering',
        );
        return { status: 'recorded', digest: candidate.digest };
      }
      if (pinned) {
        this.#lastReload = {
          at: new Date(),
          result: 'recorded',
          digest: candidate.digest,
          correlationId: update.correlationId,
          durationMs: ms(),
        };
        log.info(
          { digest: candidate.digest, number, revision: candidate.revision, pinned_to: this.#pin?.digest },
          'policy recorded, not activated: the pack is pinned',
        );
        return { status: 'recorded', digest: candidate.digest };
      }
      const durationMs = ms();
      inSpanSync('warden.activate', { ...spanAttributes, [ATTR.revision]: candidate.revision }, () =>
        this.#activate(candidate, {
          origin: update.origin,
          state,
          reload: { correlationId: update.correlationId, durationMs },
          log: {
            level: 'info',
            msg: 'policy reloaded',
            fields: {
              correlation_id: update.correlationId,
              revision: candidate.revision,
              sequence: candidate.sequence,
              source_tag: update.etag,
              golden: candidate.goldenRun,
              duration_ms: Math.round(durationMs),
            },
          },
          events: [
            [
              'policy.updated',
              {
                digest: candidate.digest,
                number,
                revision: candidate.revision,
                sequence: candidate.sequence,
                origin: update.origin,
              },
            ],
          ],
        }),
      );
      return { status: 'activated', digest: candidate.digest };
    } catch (err) {
      const e = toWardenError(err);
      this.#refuse(e, { correlationId: update.correlationId, origin: update.origin, durationMs: ms() });
      return { status: 'refused', error: e };
    }
  }

  // Bookkeeping of one refused reload; the active pack is untouched.
  #refuse(e: WardenError, context: Context): void {
    const labels = { pack: this.opts.name, source: this.opts.sourceKind };
    this.opts.metrics.reloadFailure.inc({ ...labels, code: e.code });
    if (isContentError(e)) this.opts.metrics.validationFailure.inc({ pack: this.opts.name, code: e.code });
    const at = new Date();
    this.#lastError = { at, code: e.code, message: e.message };
    this.#lastReload = {
      at,
      result: 'refused',
      correlationId: context.correlationId,
      durationMs: context.durationMs,
      error: { code: e.code, message: e.message },
    };
    const line = typeof e.details.line === 'number' ? e.details.line : '?';
    const where = typeof e.details.file === 'string' ? `${e.details.file}:${line}` : undefined;
    const fields = {
      pack: this.opts.name,
      correlation_id: context.correlationId,
      code: e.code,
      err: e.message,
      origin: context.origin,
      ...(where ? { where } : {}),
      ...(context.contentDigest ? { content_sha256: context.contentDigest } : {}),
      kept: this.#current?.digest,
      signal: 'POLICY_UPDATE_FAILED',
    };
    this.opts.log.error(fields, 'policy reload failed');
    this.#emit('policy.validation_failed', {
      code: e.code,
      message: e.message,
      origin: context.origin,
      ...(where ? { where } : {}),
      kept: this.#current?.digest,
    });
  }

  // The one way a candidate becomes live: the single reference assignment, then
  // every piece of bookkeeping (status, gauges, last-known-good flag, log, events, onActivated).
  #activate(candidate: Candidate, how: Activation): ActivePack {
    const previous = this.#current;
    const number = how.state.versions.find((v) => v.digest === candidate.digest)?.number;
    const next: ActivePack = {
      name: this.opts.name,
      digest: candidate.digest,
      number,
      revision: candidate.revision,
      sequence: candidate.sequence,
      entrypoints: candidate.entrypoints,
      roots: candidate.manifest.roots,
      engine: candidate.engine,
      signer: candidate.signer,
      origin: how.origin,
      activatedAt: new Date(),
    };
    this.#current = next;
    // Decisions already sent to the previous engine are answered first (workers take messages in order).
    if (previous && previous.engine !== next.engine) releaseEngine(previous.engine);
    this.#pin = how.state.pinned;
    this.#onLastKnownGood = next.digest !== how.state.active;
    if (how.unconfirmed) this.#stale = true;
    const m = this.opts.metrics;
    const pack = { pack: this.opts.name };
    if (previous)
      m.activeInfo.remove({
        ...pack,
        source: this.opts.sourceKind,
        revision: previous.revision,
        digest: previous.digest,
      });
    m.activeInfo.set({ ...pack, source: this.opts.sourceKind, revision: next.revision, digest: next.digest }, 1);
    m.activeSequence.set(pack, next.sequence);
    if (number !== undefined) m.activeVersion.set(pack, number);
    m.onLastKnownGood.set(pack, this.#onLastKnownGood ? 1 : 0);
    this.#publishPin();
    if (how.reload) {
      const labels = { ...pack, source: this.opts.sourceKind };
      m.reloadSuccess.inc(labels);
      m.reloadDuration.observe(labels, how.reload.durationMs / 1000);
      this.#lastReload = {
        at: new Date(),
        result: 'activated',
        digest: next.digest,
        correlationId: how.reload.correlationId,
        durationMs: how.reload.durationMs,
      };
    }
    this.opts.log[how.log.level]({ pack: this.opts.name, digest: next.digest, number, ...how.log.fields }, how.log.msg);
    for (const [type, data] of how.events) this.#emit(type, data);
    this.opts.onActivated?.(next);
    return next;
  }

  // Makes `candidate` the shadow (a running one is superseded) and records it in the history.
  async #startShadow(candidate: Candidate, number: number | undefined, origin: string): Promise<void> {
    const rollout = this.opts.rollout;
    if (!rollout) return;
    await this.#endShadow('superseded', { actor: 'warden', reason: `superseded by ${candidate.digest}` });
    const pack: ActivePack = {
      name: this.opts.name,
      digest: candidate.digest,
      number,
      revision: candidate.revision,
      sequence: candidate.sequence,
      entrypoints: candidate.entrypoints,
      roots: candidate.manifest.roots,
      engine: candidate.engine,
      signer: candidate.signer,
      origin,
      activatedAt: new Date(),
    };
    const startedAt = new Date();
    const run = rollout.start(pack, (r, verdict) => this.#onVerdict(r, verdict));
    this.#shadow = { run, candidate, number, origin, startedAt };
    this.opts.metrics.shadowActive.set({ pack: this.opts.name }, 1);
    await this.opts.store
      .recordShadow(this.opts.name, candidate.digest, shadowRecord('running', startedAt, run))
      .catch((err: unknown) => this.#historyFailed(err));
    this.#emit('policy.shadow_started', {
      digest: candidate.digest,
      number,
      revision: candidate.revision,
      sequence: candidate.sequence,
      active: this.#current?.digest,
      sample: run.progress().sample,
    });
  }

  // The gate's verdict, in the queue after anything before it: refuse, or promote (auto_promote).
  #onVerdict(run: ShadowRun, verdict: GateVerdict): void {
    void this.#enqueue(async () => {
      if (this.#shadow?.run !== run) return;
      if (verdict.state === 'failed') await this.#refuseShadow(verdict.reason ?? 'the gate failed');
      else if (verdict.state === 'passed')
        await this.#promoteShadow({ actor: 'warden', reason: verdict.reason ?? 'the gate held' });
    }).catch((err: unknown) => {
      const e = toWardenError(err);
      this.opts.log.error({ pack: this.opts.name, code: e.code, err: e.message }, 'acting on the shadow gate failed');
    });
  }

  // The shadow becomes active: history, then the normal activation (last-known-good, events, onActivated).
  async #promoteShadow(manual: ManualAction): Promise<ActivePack> {
    const s = this.#shadow;
    if (!s) throw new WardenError('SHADOW_NOT_RUNNING', `pack "${this.opts.name}" has no shadow to promote`);
    s.run.end();
    const record = shadowRecord('promoted', s.startedAt, s.run, manual);
    let after: PackState;
    try {
      await this.opts.store.recordShadow(this.opts.name, s.candidate.digest, record);
      after = await this.opts.store.markActive(this.opts.name, s.candidate.digest);
    } catch (err) {
      this.#shadow = undefined;
      this.opts.metrics.shadowActive.set({ pack: this.opts.name }, 0);
      releaseEngine(s.candidate.engine);
      throw err;
    }
    this.#shadow = undefined;
    const pack = { pack: this.opts.name };
    this.opts.metrics.shadowActive.set(pack, 0);
    this.opts.metrics.shadowPromoted.inc(pack);
    const from = this.#current;
    return this.#activate(s.candidate, {
      origin: s.origin,
      state: after,
      log: {
        level: 'info',
        msg: 'shadow promoted to active',
        fields: { from: from?.digest, actor: manual.actor, reason: manual.reason, decisions: record.decisions },
      },
      events: [
        [
          'policy.shadow_promoted',
          {
            digest: s.candidate.digest,
            number: s.number,
            revision: s.candidate.revision,
            from: from?.digest,
            actor: manual.actor,
            reason: manual.reason,
            decisions: record.decisions,
            outcomes: record.outcomes,
          },
        ],
        [
          'policy.updated',
          {
            digest: s.candidate.digest,
            number: s.number,
            revision: s.candidate.revision,
            sequence: s.candidate.sequence,
            origin: s.origin,
            reason: 'promoted',
          },
        ],
      ],
    });
  }

  // The gate failed: the shadow ends, refused, with an error, a log line and an event; the active one stays.
  async #refuseShadow(reason: string): Promise<void> {
    const s = this.#shadow;
    if (!s) return;
    this.#shadow = undefined;
    s.run.end();
    releaseEngine(s.candidate.engine);
    const pack = { pack: this.opts.name };
    this.opts.metrics.shadowActive.set(pack, 0);
    this.opts.metrics.shadowRefused.inc(pack);
    const record = shadowRecord('refused', s.startedAt, s.run, { actor: 'warden', reason });
    const e = new WardenError('SHADOW_REFUSED', `shadow ${s.candidate.digest} refused: ${reason}`, {
      details: { digest: s.candidate.digest, decisions: record.decisions, outcomes: record.outcomes },
    });
    this.#lastError = { at: new Date(), code: e.code, message: e.message };
    this.opts.log.error(
      {
        pack: this.opts.name,
        code: e.code,
        digest: s.candidate.digest,
        number: s.number,
        reason,
        decisions: record.decisions,
        outcomes: record.outcomes,
        kept: this.#current?.digest,
      },
      'shadow refused by its gate; the active version keeps answering',
    );
    this.#emit('policy.shadow_refused', {
      code: e.code,
      digest: s.candidate.digest,
      number: s.number,
      revision: s.candidate.revision,
      reason,
      decisions: record.decisions,
      outcomes: record.outcomes,
      kept: this.#current?.digest,
    });
    await this.opts.store
      .recordShadow(this.opts.name, s.candidate.digest, record)
      .catch((err: unknown) => this.#historyFailed(err));
  }

  // Ends a running shadow without a verdict (a newer version, a pin, a rollback); none running: nothing.
  async #endShadow(result: Extract<ShadowResult, 'superseded' | 'cancelled'>, manual: ManualAction): Promise<void> {
    const s = this.#shadow;
    if (!s) return;
    this.#shadow = undefined;
    s.run.end();
    releaseEngine(s.candidate.engine);
    this.opts.metrics.shadowActive.set({ pack: this.opts.name }, 0);
    const record = shadowRecord(result, s.startedAt, s.run, manual);
    this.#emit('policy.shadow_cancelled', {
      digest: s.candidate.digest,
      number: s.number,
      revision: s.candidate.revision,
      result,
      actor: manual.actor,
      reason: manual.reason,
      decisions: record.decisions,
    });
    await this.opts.store
      .recordShadow(this.opts.name, s.candidate.digest, record)
      .catch((err: unknown) => this.#historyFailed(err));
  }

  // A shadow's history entry could not be written: logged; the shadow's fate stands.
  #historyFailed(err: unknown): void {
    const e = toWardenError(err);
    this.opts.log.error(
      { pack: this.opts.name, code: e.code, err: e.message },
      'recording the shadow in the history failed',
    );
  }

  // Loads and prepares the first of `digests` that still verifies; each one that does not is logged and skipped.
  async #firstVerified(
    digests: readonly string[],
    skipped: string,
  ): Promise<{ candidate: Candidate; stored: StoredPack } | undefined> {
    for (const digest of digests) {
      try {
        const stored = await this.opts.store.load(this.opts.name, digest);
        return { candidate: await this.#prepare(stored.pack, stored.signature), stored };
      } catch (err) {
        const e = toWardenError(err);
        this.opts.log.error({ pack: this.opts.name, digest, code: e.code, err: e.message }, skipped);
      }
    }
    return undefined;
  }

  // Mirrors the pin into its metric, so an alert can fire on a forgotten pin.
  #publishPin(): void {
    this.opts.metrics.pinned.set({ pack: this.opts.name }, this.#pin ? 1 : 0);
  }

  // Hands an event to the agent (numbering, log, subscribers, webhooks, SSE).
  #emit(type: WardenEventType, data: Record<string, unknown>): void {
    this.opts.emit?.({ type, pack: this.opts.name, at: new Date().toISOString(), data });
  }
}

// A shadow's history entry: its result and counts (and, once ended, when, who and why).
function shadowRecord(result: ShadowResult, startedAt: Date, run: ShadowRun, manual?: ManualAction): ShadowRecord {
  const p = run.progress();
  return {
    result,
    startedAt: startedAt.toISOString(),
    ...(result === 'running' ? {} : { endedAt: new Date().toISOString() }),
    decisions: p.decisions,
    outcomes: p.outcomes,
    ...(manual ? { actor: manual.actor, reason: manual.reason.slice(0, 2000) } : {}),
  };
}
