/**
 * The rollout gate, as a pure function of a shadow's counts: it judges once
 * `minDecisions` shadow decisions were evaluated (so a live shadow and an offline
 * replay of the same decisions reach the same figures), failing on any deny → allow
 * unless allowed, or on a share of changed decisions over `maxDiffRate`; with
 * `maxDurationMs`, a shadow that has not reached `minDecisions` by then fails.
 */
import type { GateVerdict } from '../activate/shadow.js';
import type { GateSettings } from './settings.js';

/** What the gate reads of a shadow. */
export interface GateCounts {
  readonly decisions: number;
  readonly changed: number;
  readonly denyToAllow: number;
}

/** The gate's verdict on `counts` after `elapsedMs`. */
export function judgeGate(
  counts: GateCounts,
  gate: GateSettings,
  elapsedMs: number,
  maxDurationMs?: number,
): GateVerdict {
  const { decisions, changed, denyToAllow } = counts;
  if (decisions < gate.minDecisions) {
    if (maxDurationMs !== undefined && elapsedMs >= maxDurationMs)
      return {
        state: 'failed',
        reason: `only ${decisions} of the ${gate.minDecisions} shadow decisions needed in max_duration_seconds ${Math.round(maxDurationMs / 1000)}`,
      };
    return { state: 'collecting' };
  }
  const rate = decisions === 0 ? 0 : changed / decisions;
  if (!gate.allowDenyToAllow && denyToAllow > 0)
    return {
      state: 'failed',
      reason: `${denyToAllow} of ${decisions} shadow decisions went from deny to allow (allow_deny_to_allow is false)`,
    };
  if (rate > gate.maxDiffRate)
    return {
      state: 'failed',
      reason: `${changed} of ${decisions} shadow decisions changed (${percent(rate)}), over max_diff_rate ${percent(gate.maxDiffRate)}`,
    };
  return {
    state: 'passed',
    reason: `${changed} of ${decisions} shadow decisions changed (${percent(rate)}), within max_diff_rate ${percent(gate.maxDiffRate)}${denyToAllow > 0 ? '' : ', none from deny to allow'}`,
  };
}

function percent(fraction: number): string {
  return `${Math.round(fraction * 100_000) / 1000}%`;
}
