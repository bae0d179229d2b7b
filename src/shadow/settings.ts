/**
 * One pack's shadow settings (its `rollout:` block, docs/configuration.md#rollout-shadow-evaluation),
 * as the shadow module takes them.
 */

/** When a shadow is promoted or refused. */
export interface GateSettings {
  /** Shadow decisions evaluated before the gate judges. */
  readonly minDecisions: number;
  /** Changed decisions over evaluated ones at most (a fraction: 0.01 is 1 %). */
  readonly maxDiffRate: number;
  /** false: one deny → allow fails the gate. */
  readonly allowDenyToAllow: boolean;
  /** true: a gate that holds promotes the shadow; false: it waits for an operator. */
  readonly autoPromote: boolean;
}

/** How one pack's shadows run. */
export interface ShadowSettings {
  /** The share of the active version's decisions asked of the shadow (0 < sample ≤ 1). */
  readonly sample: number;
  /** Sampled decisions waiting at most; past it the oldest is dropped. */
  readonly queueLimit: number;
  readonly gate: GateSettings;
  /** Present: fewer than gate.minDecisions after this long fails the gate. */
  readonly maxDurationMs?: number | undefined;
  /** The pack's shadow log is rotated past this size (one older file kept). */
  readonly logMaxBytes: number;
}
