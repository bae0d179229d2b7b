/**
 * Which OPA REST API error code a Warden code is answered with on OPA's routes (the
 * data API and `/health`): the code OPA gives for the same failure, so OPA clients
 * (the official SDKs read `code` and `message`) branch on it as they would with OPA.
 * Codes not in the table (none of them ends a data request today) follow their HTTP
 * status. The table is documented in docs/http-api.md and docs/errors.md.
 */
import type { ErrorCode } from '../errors.js';

/** OPA's REST API error codes (OPA's server/types). */
export type OpaCode =
  | 'internal_error'
  | 'evaluation_error'
  | 'invalid_parameter'
  | 'invalid_operation'
  | 'resource_not_found'
  | 'resource_conflict'
  | 'undefined_document'
  | 'unauthorized';

/** Warden code → OPA code, for every code a data request can end with. */
export const OPA_CODES: Readonly<Partial<Record<ErrorCode, OpaCode>>> = {
  DECISION_INPUT_INVALID: 'invalid_parameter',
  INPUT_TOO_DEEP: 'invalid_parameter',
  STRICT_BUILTIN_ERRORS_UNSUPPORTED: 'invalid_parameter',
  HTTP_REQUEST_INVALID: 'invalid_parameter',
  DECISION_UNDEFINED: 'undefined_document',
  DECISION_PATH_UNKNOWN: 'undefined_document',
  DECISION_FAILED: 'internal_error',
  DECISION_WORKER_LOST: 'internal_error',
  DECISION_ASYNC_ONLY: 'internal_error',
  NOT_READY: 'internal_error',
  PRIMARY_UNAVAILABLE: 'internal_error',
  INTERNAL: 'internal_error',
  TOKEN_INVALID: 'unauthorized',
  ADMIN_UNAUTHORIZED: 'unauthorized',
};

/** The OPA code for `code` answered with HTTP `status`. */
export function opaCodeOf(code: ErrorCode, status: number): OpaCode {
  const mapped = OPA_CODES[code];
  if (mapped !== undefined) return mapped;
  if (status === 401 || status === 403) return 'unauthorized';
  if (status === 404) return 'resource_not_found';
  if (status >= 400 && status < 500) return 'invalid_parameter';
  return 'internal_error';
}
