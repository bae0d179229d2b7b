/**
 * The pure transitions of a pack's stored state: commit a version, activate a
 * stored one, bound the history. No disk here, so every rule (active → lkg,
 * one version per digest, never evict active or lkg) is checked in one place.
 */
import type { PackState, Pin, ShadowRecord, StoredVersion } from './types.js';

/** Rollback records kept per pack. */
export const ROLLBACK_HISTORY_LIMIT = 100;

/** Who did a manual action, and why. */
export interface ManualAction {
  readonly actor: string;
  readonly reason: string;
}

/** A new state plus the digests that fell out of the history (their blobs may go). */
export interface Transition {
  readonly state: PackState;
  readonly evicted: readonly string[];
}

/**
 * Adds (or refreshes) a version at the front of the history. The same digest
 * stays one version: its first storedAt is kept, the rest is updated.
 */
export function applyCommit(
  prev: PackState,
  version: Omit<StoredVersion, 'storedAt' | 'activatedAt' | 'number' | 'actor' | 'reason' | 'shadow'>,
  activate: boolean,
  now: string,
  limit: number,
): Transition {
  const existing = prev.versions.find((v) => v.digest === version.digest);
  const { digest, revision, sequence, signer, origin } = version;
  const stored: StoredVersion = {
    digest,
    revision,
    sequence,
    signer,
    origin,
    storedAt: existing?.storedAt ?? now,
    number: existing?.number ?? prev.nextNumber,
    ...(existing?.shadow === undefined ? {} : { shadow: existing.shadow }),
    ...(activate
      ? { activatedAt: now }
      : existing?.activatedAt === undefined
        ? {}
        : { activatedAt: existing.activatedAt }),
  };
  const versions = [stored, ...prev.versions.filter((v) => v.digest !== version.digest)];
  const next = activate ? { ...prev, ...promote(prev, version.digest) } : prev;
  return bound({ ...next, versions, nextNumber: existing ? prev.nextNumber : prev.nextNumber + 1 }, limit);
}

/** Makes an already-stored version active (unpin, boot); order is kept. A manual action is recorded on the version. */
export function applyActivate(
  prev: PackState,
  digest: string,
  now: string,
  limit: number,
  manual?: ManualAction,
): Transition {
  const by = manual ? { actor: manual.actor, reason: manual.reason } : {};
  const versions = prev.versions.map((v) => (v.digest === digest ? { ...v, activatedAt: now, ...by } : v));
  return bound({ ...prev, ...promote(prev, digest), versions }, limit);
}

/** An operator rollback: activate `digest`, pin the pack to it, and record who, why, from and to. */
export function applyRollback(
  prev: PackState,
  digest: string,
  now: string,
  limit: number,
  manual: ManualAction,
): Transition {
  const { state, evicted } = applyActivate(prev, digest, now, limit, manual);
  const record = { at: now, from: prev.active, to: digest, actor: manual.actor, reason: manual.reason };
  const pinned: Pin = { digest, at: now, actor: manual.actor, reason: manual.reason };
  return {
    state: { ...state, pinned, rollbacks: [record, ...prev.rollbacks].slice(0, ROLLBACK_HISTORY_LIMIT) },
    evicted,
  };
}

/** Records a version's shadow run (started, or how it ended); a version no longer in the history is left alone. */
export function applyShadow(prev: PackState, digest: string, shadow: ShadowRecord): PackState {
  return { ...prev, versions: prev.versions.map((v) => (v.digest === digest ? { ...v, shadow } : v)) };
}

/** Sets or clears the pin. */
export function applyPin(prev: PackState, pin: Pin | undefined): PackState {
  return { ...prev, pinned: pin };
}

/**
 * Evicts the oldest versions until at most `limit` remain, skipping the active
 * and last-known-good ones (so with limit < 2 both of those may still stay).
 */
export function bound(state: PackState, limit: number): Transition {
  const keep = new Set(
    [state.active, state.lastKnownGood, state.pinned?.digest].filter((d): d is string => d !== undefined),
  );
  const versions = [...state.versions];
  const evicted: string[] = [];
  for (let i = versions.length - 1; i >= 0 && versions.length > limit; i--) {
    const v = versions[i];
    if (v === undefined || keep.has(v.digest)) continue;
    versions.splice(i, 1);
    evicted.push(v.digest);
  }
  return { state: { ...state, versions }, evicted };
}

// The active/lkg pair after `digest` becomes active: the previous active, if another, becomes lkg.
function promote(prev: PackState, digest: string): Pick<PackState, 'active' | 'lastKnownGood'> {
  if (prev.active === digest || prev.active === undefined) {
    return { active: digest, lastKnownGood: prev.lastKnownGood === digest ? undefined : prev.lastKnownGood };
  }
  return { active: digest, lastKnownGood: prev.active };
}
