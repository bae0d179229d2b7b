/**
 * Why a tenant validator refused a request, as data: each reason fixes the
 * error code, the HTTP status, the WWW-Authenticate value and the metric label.
 * No or unverifiable credentials → 401 (RFC 6750 `invalid_token`); a verified
 * caller without a usable tenant, or addressing another tenant → 403 (who the
 * caller is, is known; what it asks for is not allowed); a revoked token → 401
 * (RFC 6750 lists revocation under `invalid_token`); keys or a revocation list
 * that cannot be had → 503 (not the caller's fault, and never a pass).
 */
import { errors } from 'jose';
import type { Counter, Registry } from 'prom-client';
import { WardenError, httpStatusOf, type ErrorCode } from '../../errors.js';
import { counter } from '../../observe/register.js';

/** The codes a tenant validator throws; their HTTP statuses are in the error registry. */
type TenantCode = Extract<
  ErrorCode,
  | 'TOKEN_INVALID'
  | 'TOKEN_REVOKED'
  | 'TENANT_MISSING'
  | 'TENANT_MALFORMED'
  | 'TENANT_MISMATCH'
  | 'JWKS_UNAVAILABLE'
  | 'REVOCATION_UNAVAILABLE'
  | 'INTERNAL'
>;

const REFUSALS = {
  no_token: { code: 'TOKEN_INVALID', message: 'no bearer token' },
  authorization_repeated: { code: 'TOKEN_INVALID', message: 'the Authorization header is sent more than once' },
  malformed: { code: 'TOKEN_INVALID', message: 'the token is not a well-formed JWT' },
  alg_not_allowed: { code: 'TOKEN_INVALID', message: 'the token algorithm is not allowed' },
  bad_signature: { code: 'TOKEN_INVALID', message: 'the token signature does not verify' },
  unknown_kid: { code: 'TOKEN_INVALID', message: 'no single known key matches the token' },
  expired: { code: 'TOKEN_INVALID', message: 'the token has expired' },
  not_yet_valid: { code: 'TOKEN_INVALID', message: 'the token is not valid yet' },
  wrong_issuer: { code: 'TOKEN_INVALID', message: 'the token issuer is not accepted' },
  wrong_audience: { code: 'TOKEN_INVALID', message: 'the token audience is not accepted' },
  exp_missing: { code: 'TOKEN_INVALID', message: 'the token has no exp claim' },
  claim_invalid: { code: 'TOKEN_INVALID', message: 'a registered claim of the token is invalid' },
  revoked: { code: 'TOKEN_REVOKED', message: 'the token has been revoked' },
  tenant_missing: { code: 'TENANT_MISSING', message: 'the token names no tenant' },
  tenant_malformed: { code: 'TENANT_MALFORMED', message: 'the token tenant is not a valid tenant id' },
  tenant_header_missing: { code: 'TENANT_MISSING', message: 'the request has no X-Tenant-ID header' },
  tenant_header_malformed: { code: 'TENANT_MALFORMED', message: 'X-Tenant-ID is not a valid tenant id' },
  tenant_mismatch: { code: 'TENANT_MISMATCH', message: 'X-Tenant-ID names another tenant than the token' },
  jwks_unavailable: { code: 'JWKS_UNAVAILABLE', message: 'the verification keys are unavailable' },
  revocation_unavailable: { code: 'REVOCATION_UNAVAILABLE', message: 'the token revocation list is not current' },
  internal: { code: 'INTERNAL', message: 'the token could not be checked' },
} as const satisfies Record<string, { code: TenantCode; message: string }>;

/** Every reason a request can be refused for; the `reason` label of the refusal counter. */
export type RefusalReason = keyof typeof REFUSALS;
export const REFUSAL_REASONS = Object.keys(REFUSALS) as RefusalReason[];

/** Prometheus name of `security.tenant.missing_context`. */
export const TENANT_REFUSAL_METRIC = 'security_tenant_missing_context_total';

/** The refusal counter in `registry`, registered once however many validators share it; every reason shows from the first scrape. */
export function refusalCounter(registry: Registry): Counter<'reason'> {
  const refusals = counter(registry, TENANT_REFUSAL_METRIC);
  for (const reason of REFUSAL_REASONS) refusals.inc({ reason }, 0);
  return refusals;
}

/** The error for `reason`: code, fixed message, and details { reason, status, wwwAuthenticate on 401 }. */
export function refusal(reason: RefusalReason, cause?: unknown, extra: Record<string, unknown> = {}): WardenError {
  const { code, message } = REFUSALS[reason];
  const status = httpStatusOf(code);
  const details: Record<string, unknown> = { ...extra, reason, status };
  if (status === 401)
    details['wwwAuthenticate'] =
      reason === 'no_token' ? 'Bearer' : `Bearer error="invalid_token", error_description="${message}"`;
  return new WardenError(code, message, { cause, details });
}

/** The refusal reason for a failure of jose's jwtVerify or of the key source. */
export function reasonOf(err: unknown): RefusalReason {
  if (err instanceof WardenError) return err.code === 'JWKS_UNAVAILABLE' ? 'jwks_unavailable' : 'internal';
  if (err instanceof errors.JWTExpired) return 'expired';
  if (err instanceof errors.JWTClaimValidationFailed) return claimReason(err.claim, err.reason);
  if (err instanceof errors.JOSEAlgNotAllowed) return 'alg_not_allowed';
  if (err instanceof errors.JWSSignatureVerificationFailed) return 'bad_signature';
  if (err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWKSMultipleMatchingKeys) return 'unknown_kid';
  if (err instanceof errors.JOSEError) return 'malformed'; // JWSInvalid, JWTInvalid, JOSENotSupported (crit, b64)
  return 'internal';
}

// A failed claim check; an absent iss/aud is as wrong as a different one.
function claimReason(claim: string, why: string): RefusalReason {
  if (claim === 'iss') return 'wrong_issuer';
  if (claim === 'aud') return 'wrong_audience';
  if (claim === 'exp' && why === 'missing') return 'exp_missing';
  if (claim === 'nbf' && why === 'check_failed') return 'not_yet_valid';
  return 'claim_invalid';
}
