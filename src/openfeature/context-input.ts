/**
 * The evaluation context as policy input. For a decision path the input is
 * the context's attributes as they are, except `targetingKey`, which becomes
 * `input.subject` (Warden's word for who is asking, as in the verdict
 * context); a context that also states a different `subject` is refused
 * (INVALID_CONTEXT), never guessed at. Dates become ISO strings (JSON).
 * For a `verdict.<module>` flag the context gives the verdict context's other
 * fields: `tenant`, `subject` (or `targetingKey`), `action`, `resource`,
 * `purpose`; other attributes are not part of a verdict and are left out.
 */
import type { EvaluationContext } from '@openfeature/server-sdk';
import { WardenError } from '../errors.js';

/** The input for a decision path. */
export function inputOf(context: EvaluationContext): Record<string, unknown> {
  const { targetingKey, ...attributes } = context;
  if (targetingKey === undefined) return attributes;
  return { ...attributes, subject: subjectOf(context) };
}

/** The verdict context for `module`, before Governance validates it. */
export function verdictContextOf(module: string, context: EvaluationContext): Record<string, unknown> {
  const out: Record<string, unknown> = { module, subject: subjectOf(context) };
  for (const field of ['tenant', 'action', 'resource', 'purpose'] as const)
    if (context[field] !== undefined) out[field] = context[field];
  return out;
}

// `targetingKey` or `subject`; both must agree when both are given.
function subjectOf(context: EvaluationContext): unknown {
  const { targetingKey, subject } = context;
  if (targetingKey !== undefined && subject !== undefined && subject !== targetingKey)
    throw new WardenError('DECISION_INPUT_INVALID', 'the context states a subject other than its targetingKey', {
      details: { field: 'targetingKey' },
    });
  return subject ?? targetingKey;
}
