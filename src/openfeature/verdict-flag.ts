/**
 * `verdict.<module>` flags: `Governance.verdict` for the module, with the
 * evaluation context as the rest of the verdict context (context-input.ts).
 * Boolean: `allow`. String: `result` (`allow`, `deny` or `blocked`). Object:
 * `{allow, result, reasons}`. Variant: the result. Reason: CACHED when the
 * decision cache answered, STATIC when a kill switch blocked the module (pack
 * state, no evaluation), TARGETING_MATCH when the policy evaluated the context.
 * The verdict is logged to the decision log like any other, requested by
 * `openfeature`.
 */
import {
  ErrorCode,
  StandardResolutionReasons,
  type EvaluationContext,
  type ResolutionDetails,
} from '@openfeature/server-sdk';
import type { Governance, Verdict } from '../govern/verdict/governance.js';
import { verdictContextOf } from './context-input.js';
import type { FlagType, FlagValueOf } from './flag-type.js';
import { answer, failure, failureOf, metadataOf } from './resolution.js';

/** Resolves `verdict.<module>` as `type` (synchronous: the governance pack is answered on this thread). */
export function resolveVerdict<T extends FlagType>(
  governance: Governance | undefined,
  module: string,
  context: EvaluationContext,
  type: T,
  defaultValue: FlagValueOf[T],
  isStale: (digest: string) => boolean,
): ResolutionDetails<FlagValueOf[T]> {
  if (!governance) return failure(defaultValue, ErrorCode.FLAG_NOT_FOUND, 'no governance block: there are no verdicts');
  if (type === 'number')
    return failure(
      defaultValue,
      ErrorCode.TYPE_MISMATCH,
      'a verdict is a boolean, a string or an object, not a number',
    );
  let verdict: Verdict;
  try {
    verdict = governance.verdict(verdictContextOf(module, context), { requestedBy: 'openfeature' });
  } catch (err) {
    return failureOf(defaultValue, err);
  }
  const value =
    type === 'boolean'
      ? verdict.allow
      : type === 'string'
        ? verdict.result
        : { allow: verdict.allow, result: verdict.result, reasons: [...verdict.reasons] };
  const reason = verdict.cached
    ? StandardResolutionReasons.CACHED
    : verdict.killSwitch
      ? StandardResolutionReasons.STATIC
      : StandardResolutionReasons.TARGETING_MATCH;
  const meta = metadataOf(verdict, isStale(verdict.digest), {
    reasons: verdict.reasons.join(','),
    ...(verdict.killSwitch ? { killSwitchSource: verdict.killSwitch.source } : {}),
  });
  return answer(value as FlagValueOf[T], reason, meta, verdict.result);
}
