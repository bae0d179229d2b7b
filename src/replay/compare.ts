/**
 * How a policy change changed one decision: the recorded answer (before) against
 * the candidate's (after). Shared by offline replay (`warden pack replay`) and
 * anything else that holds two answers to the same question.
 *
 * Answers are compared as JSON values (objects' keys in any order, numbers as
 * doubles). A direction (allow → deny, deny → allow) is read when both answers
 * are decisions: a boolean (true allows), or an object with a boolean `allow`
 * member (a verdict); an undefined answer beside a decision counts as a deny,
 * as a policy's `allow` rule without a default means. Anything else changes
 * value, or becomes (un)defined.
 */

/** One answer: a defined value (its JSON text), undefined, or a failed evaluation (its error code). */
export type Answer =
  | { readonly kind: 'value'; readonly json: string }
  | { readonly kind: 'undefined' }
  | { readonly kind: 'error'; readonly code: string };

/** What happened to a decision. */
export type Outcome =
  'unchanged' | 'allow_to_deny' | 'deny_to_allow' | 'value_changed' | 'became_undefined' | 'became_defined' | 'error';

/** Every outcome, in report order. */
export const OUTCOMES: readonly Outcome[] = [
  'unchanged',
  'allow_to_deny',
  'deny_to_allow',
  'value_changed',
  'became_undefined',
  'became_defined',
  'error',
];

/**
 * How a path's answers are read: `decision` (a boolean or a verdict object; undefined is a deny),
 * `value` (no direction: any difference is value_changed or became_(un)defined), or, absent,
 * inferred from the two answers (a direction when both read as decisions).
 */
export type PathKind = 'decision' | 'value';

/**
 * The outcome of `before` → `after`. Both failed: unchanged (the same failure or not, the
 * decision was not made either way). One failed: `error`.
 */
export function classify(pathKind: PathKind | undefined, before: Answer, after: Answer): Outcome {
  if (before.kind === 'error' || after.kind === 'error')
    return before.kind === 'error' && after.kind === 'error' ? 'unchanged' : 'error';
  // The same text is the same value (most replayed decisions): no parse.
  if (before.kind === 'value' && after.kind === 'value' && before.json === after.json) return 'unchanged';
  const was = before.kind === 'value' ? parsed(before.json) : undefined;
  const is = after.kind === 'value' ? parsed(after.json) : undefined;
  if (before.kind === after.kind && (before.kind === 'undefined' || canonical(was) === canonical(is)))
    return 'unchanged';
  if (pathKind !== 'value') {
    const a = allowOf(was, pathKind === 'decision');
    const b = allowOf(is, pathKind === 'decision');
    const bothDecisions = a !== null && b !== null && (a !== 'undefined' || b !== 'undefined');
    if (bothDecisions && allows(a) !== allows(b)) return allows(a) ? 'allow_to_deny' : 'deny_to_allow';
  }
  if (before.kind === 'undefined') return 'became_defined';
  if (after.kind === 'undefined') return 'became_undefined';
  return 'value_changed';
}

/** JSON text of `value` with objects' keys sorted and no whitespace (undefined → ''). */
export function canonical(value: unknown): string {
  if (value === undefined) return '';
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map((v) => canonical(v === undefined ? null : v)).join(',')}]`;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj)
    .filter((k) => obj[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical(obj[k])}`).join(',')}}`;
}

/** An answer's JSON text in canonical form (for grouping and display); '' for undefined, the code for an error. */
export function answerText(answer: Answer): string {
  if (answer.kind === 'value') return canonical(parsed(answer.json));
  return answer.kind === 'undefined' ? 'undefined' : `error:${answer.code}`;
}

function parsed(json: string): unknown {
  return JSON.parse(json) as unknown;
}

// true/false for a decision, 'undefined' for no answer (a deny beside a decision), null for a non-decision value.
function allowOf(value: unknown, strict: boolean): boolean | 'undefined' | null {
  if (value === undefined) return 'undefined';
  if (typeof value === 'boolean') return value;
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const allow = (value as Record<string, unknown>).allow;
    if (typeof allow === 'boolean') return allow;
  }
  // A declared decision path whose answer is neither: not an allow.
  return strict ? false : null;
}

function allows(a: boolean | 'undefined' | null): boolean {
  return a === true;
}
