/**
 * What the activate stage knows of a shadow (rollout mode shadow): a verified,
 * stored version that answers nothing, while a sampled share of the active
 * version's decisions is asked of it too, off the request path. The activator
 * owns which version is the shadow and what becomes of it (promoted, refused,
 * superseded, cancelled); the shadow module (src/shadow/) samples, evaluates,
 * counts and judges the gate, and tells the activator the gate's verdict.
 * Only this shape is shared, so the activate stage does not depend on how
 * answers are compared.
 */
import type { ActivePack } from './types.js';

/** The gate's state: still collecting, held (promote), or failed (refuse). */
export interface GateVerdict {
  readonly state: 'collecting' | 'passed' | 'failed';
  /** One sentence: why it passed or failed (absent while collecting). */
  readonly reason?: string;
}

/** A shadow's progress, as /healthz, the admin API and `warden status` show it. */
export interface ShadowProgress {
  /** The configured share of the active version's decisions asked of the shadow. */
  readonly sample: number;
  /** Decisions taken for the shadow (sampled), evaluated or not yet. */
  readonly sampled: number;
  /** Sampled decisions evaluated against the shadow and compared. */
  readonly decisions: number;
  /** Sampled decisions dropped from the full queue before evaluation. */
  readonly dropped: number;
  /** Evaluated decisions by outcome (src/replay/compare.ts), unchanged included. */
  readonly outcomes: Readonly<Record<string, number>>;
  /** Evaluated decisions whose answer changed (every outcome but unchanged). */
  readonly changed: number;
  readonly gate: GateVerdict;
}

/** One running shadow. Its request-path calls are O(1), do no I/O and never throw. */
export interface ShadowRun {
  /** The shadow version (its engine answers nothing but the shadow's evaluations). */
  readonly pack: ActivePack;
  /**
   * Request path: the active version answered `path` on input text with `resultJson`
   * (undefined: undefined). Sampled and queued, or ignored.
   */
  offerJson(path: string, inputJson: string | undefined, resultJson: string | undefined, decisionId: string): void;
  /** Request path: the same for a decision made on a JavaScript input (verdicts); serialised later, off the path. */
  offerValue(path: string, input: unknown, defined: boolean, result: unknown, decisionId: string): void;
  progress(): ShadowProgress;
  /** Stops taking decisions; queued ones are skipped. Idempotent. */
  end(): void;
}

/**
 * Starts a shadow for `pack`. `onVerdict` is called (at most once, never
 * synchronously) when the gate fails, or holds with auto-promotion on.
 */
export type ShadowStarter = (pack: ActivePack, onVerdict: (run: ShadowRun, verdict: GateVerdict) => void) => ShadowRun;
