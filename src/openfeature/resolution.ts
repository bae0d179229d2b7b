/**
 * Building OpenFeature resolution details: the flag metadata every answer
 * carries (which pack version answered), and the error answers. An error
 * answer carries the caller's default and an OpenFeature ErrorCode; the SDK
 * then hands the caller that default with reason ERROR. Warden's own code
 * travels in flagMetadata.wardenCode and at the head of errorMessage.
 */
import {
  ErrorCode,
  StandardResolutionReasons,
  type FlagMetadata,
  type ResolutionDetails,
  type ResolutionReason,
} from '@openfeature/server-sdk';
import { toWardenError, type ErrorCode as WardenCode } from '../errors.js';

/** The pack version behind an answer. */
export interface AnswerSource {
  readonly pack: string;
  readonly digest: string;
  readonly revision: string;
  readonly decisionId?: string;
}

/** flagMetadata for an answer from `source`; `stale` when that version's source is failing. */
export function metadataOf(source: AnswerSource, stale: boolean, extra: FlagMetadata = {}): FlagMetadata {
  return {
    pack: source.pack,
    digest: source.digest,
    revision: source.revision,
    ...(source.decisionId === undefined ? {} : { decisionId: source.decisionId }),
    stale,
    ...extra,
  };
}

/** An answer that is not the caller's default. */
export function answer<T>(
  value: T,
  reason: ResolutionReason,
  flagMetadata: FlagMetadata,
  variant?: string,
): ResolutionDetails<T> {
  return { value, reason, flagMetadata, ...(variant === undefined ? {} : { variant }) };
}

/** An error answer: the caller's default, `code`, a message, and what metadata is known. */
export function failure<T>(
  defaultValue: T,
  code: ErrorCode,
  message: string,
  flagMetadata: FlagMetadata = {},
  reason: ResolutionReason = StandardResolutionReasons.ERROR,
): ResolutionDetails<T> {
  return { value: defaultValue, reason, errorCode: code, errorMessage: message, flagMetadata };
}

/** Cold start: nothing active can answer yet. Reason DEFAULT, code PROVIDER_NOT_READY. */
export function notReady<T>(defaultValue: T, message: string, flagMetadata: FlagMetadata = {}): ResolutionDetails<T> {
  return failure(defaultValue, ErrorCode.PROVIDER_NOT_READY, message, flagMetadata, StandardResolutionReasons.DEFAULT);
}

/** A Warden failure (a WardenError or anything thrown) as an error answer with the matching OpenFeature code. */
export function failureOf<T>(defaultValue: T, err: unknown, flagMetadata: FlagMetadata = {}): ResolutionDetails<T> {
  const e = toWardenError(err);
  const code = e.code === 'DECISION_INPUT_INVALID' && e.details.field === 'subject' ? 'TARGETING_KEY_MISSING' : e.code;
  return failure(defaultValue, openFeatureCode(code), `${e.code}: ${e.message}`, {
    ...flagMetadata,
    wardenCode: e.code,
  });
}

// Warden's code → OpenFeature's; GENERAL for any other.
const OPEN_FEATURE_CODES: Partial<Record<WardenCode | 'TARGETING_KEY_MISSING', ErrorCode>> = {
  TARGETING_KEY_MISSING: ErrorCode.TARGETING_KEY_MISSING,
  DECISION_PATH_UNKNOWN: ErrorCode.FLAG_NOT_FOUND,
  DECISION_INPUT_INVALID: ErrorCode.INVALID_CONTEXT,
  INPUT_TOO_DEEP: ErrorCode.INVALID_CONTEXT,
  TENANT_MISSING: ErrorCode.INVALID_CONTEXT,
  TENANT_MALFORMED: ErrorCode.INVALID_CONTEXT,
  TENANT_MISMATCH: ErrorCode.INVALID_CONTEXT,
  VERDICT_INVALID: ErrorCode.PARSE_ERROR,
  GOVERNANCE_PACK_INVALID: ErrorCode.PARSE_ERROR,
  NOT_READY: ErrorCode.PROVIDER_NOT_READY,
};

function openFeatureCode(code: WardenCode | 'TARGETING_KEY_MISSING'): ErrorCode {
  return OPEN_FEATURE_CODES[code] ?? ErrorCode.GENERAL;
}
