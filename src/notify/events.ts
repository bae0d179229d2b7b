/**
 * The events other systems can react to (in-process subscribers, webhooks, the
 * admin SSE stream). One shape for all: an id assigned by the event log (a
 * monotonic integer, kept across restarts), a type, the pack, the time and a
 * type-specific payload.
 */

/** Every event type Warden emits. */
export const EVENT_TYPES = [
  'policy.updated', // a new version became active (from its source)
  'policy.rolled_back', // an operator rolled back to an earlier version
  'policy.validation_failed', // a pack was refused (verify, downgrade, build, golden …)
  'policy.version_created', // a verified pack was recorded in the history (active or not, e.g. while pinned)
  'policy.pinned', // the pack is pinned: new packs are recorded but not activated
  'policy.unpinned', // the pin was lifted
  'policy.stale', // the source failed while a version is served: it answers, but may be out of date
  'policy.fresh', // the source answered again after policy.stale: the served version is current
  'policy.shadow_started', // a verified version became the pack's shadow (rollout mode shadow): evaluated, not answering
  'policy.shadow_promoted', // the shadow became active (its gate held, or an operator promoted it)
  'policy.shadow_refused', // the shadow failed its gate: not promoted; the active version keeps answering
  'policy.shadow_cancelled', // the shadow was ended without a verdict: superseded by a newer version, or by a pin or rollback
] as const;

export type WardenEventType = (typeof EVENT_TYPES)[number];

/** An event before the log has numbered it. */
export interface NewEvent {
  readonly type: WardenEventType;
  readonly pack: string;
  /** ISO time. */
  readonly at: string;
  readonly data: Readonly<Record<string, unknown>>;
}

/** A numbered event, as subscribers, webhooks and SSE clients see it. */
export interface WardenEvent extends NewEvent {
  /** Monotonic across restarts; SSE's event id and Last-Event-ID. */
  readonly id: number;
}
