/**
 * The two shapes at the edges of a verdict: the request context a caller
 * sends (validated into a fixed-shape object, so the policy input and the
 * cache key are the same for the same request however it was written), and
 * the `{allow, reasons}` the verdict entrypoint returns.
 */
import { WardenError } from '../../errors.js';
import { DEFAULT_TENANT_PATTERN } from '../tenant/tenant.js';

/** Who asks to do what, where, for which tenant and why. */
export interface VerdictContext {
  readonly tenant: string;
  readonly subject: string;
  readonly module: string;
  readonly action: string;
  readonly resource: string | undefined;
  readonly purpose: string | undefined;
}

/** What the verdict entrypoint answered. */
export interface PolicyAnswer {
  readonly allow: boolean;
  readonly reasons: readonly string[];
}

const FIELDS = new Set(['tenant', 'subject', 'module', 'action', 'resource', 'purpose']);
const MAX_CHARS: Readonly<Record<string, number>> = {
  subject: 256,
  module: 128,
  action: 128,
  resource: 1024,
  purpose: 128,
};
const MAX_REASONS = 64;
const MAX_REASON_CHARS = 256;
const INVALID_ANSWER: PolicyAnswer = Object.freeze({ allow: false, reasons: Object.freeze(['verdict_invalid']) });

/**
 * The context in `value`, or a coded error: TENANT_MISSING / TENANT_MALFORMED
 * (403, never a default tenant), DECISION_INPUT_INVALID for anything else.
 */
export function parseVerdictContext(value: unknown, tenantPattern: RegExp = DEFAULT_TENANT_PATTERN): VerdictContext {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new WardenError(
      'DECISION_INPUT_INVALID',
      'the verdict context must be an object {tenant, subject, module, action, resource?, purpose?}',
    );
  }
  const v = value as Record<string, unknown>;
  for (const key of Object.keys(v)) {
    if (!FIELDS.has(key))
      throw new WardenError(
        'DECISION_INPUT_INVALID',
        `unknown context field "${key.slice(0, 64)}" (allowed: ${[...FIELDS].join(', ')})`,
        { details: { field: key.slice(0, 64) } },
      );
  }
  const tenant = v.tenant;
  if (tenant === undefined || tenant === null || tenant === '')
    throw new WardenError('TENANT_MISSING', 'the verdict context names no tenant; there is no default tenant', {
      details: { reason: 'tenant_missing' },
    });
  if (typeof tenant !== 'string' || !tenantPattern.test(tenant))
    throw new WardenError('TENANT_MALFORMED', 'the context tenant is not a valid tenant id', {
      details: { reason: 'tenant_malformed' },
    });
  return {
    tenant,
    subject: text(v, 'subject', true),
    module: text(v, 'module', true),
    action: text(v, 'action', true),
    resource: text(v, 'resource', false),
    purpose: text(v, 'purpose', false),
  } as VerdictContext;
}

// A bounded string field; required ones must be non-empty.
function text(v: Record<string, unknown>, field: string, required: boolean): string | undefined {
  const value = v[field];
  if (value === undefined || value === null) {
    if (required)
      throw new WardenError('DECISION_INPUT_INVALID', `the verdict context needs "${field}"`, { details: { field } });
    return undefined;
  }
  const max = MAX_CHARS[field] ?? 128;
  if (typeof value !== 'string' || (required && value === '') || value.length > max) {
    throw new WardenError(
      'DECISION_INPUT_INVALID',
      `"${field}" must be a ${required ? 'non-empty ' : ''}string of at most ${max} characters`,
      { details: { field } },
    );
  }
  return value;
}

/** The policy's answer, or undefined when it is not `{allow: boolean, reasons: [string]}` (the caller denies). */
export function parsePolicyAnswer(result: unknown): PolicyAnswer | undefined {
  if (typeof result !== 'object' || result === null) return undefined;
  const { allow, reasons } = result as { allow?: unknown; reasons?: unknown };
  if (typeof allow !== 'boolean') return undefined;
  if (reasons === undefined) return { allow, reasons: [] };
  if (!Array.isArray(reasons) || reasons.length > MAX_REASONS) return undefined;
  for (const r of reasons as unknown[]) if (typeof r !== 'string' || r.length > MAX_REASON_CHARS) return undefined;
  return { allow, reasons: reasons as string[] };
}

/** The answer given when the policy's answer is unusable: deny (fail closed). */
export const FAIL_CLOSED_ANSWER = INVALID_ANSWER;
