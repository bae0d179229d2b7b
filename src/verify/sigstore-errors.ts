/**
 * Maps @sigstore/verify's error codes onto Warden's registry, so a failed
 * check always surfaces with one of Warden's stable codes.
 */
import { PolicyError, VerificationError } from '@sigstore/verify';
import { WardenError, messageOf, type ErrorCode } from '../errors.js';

const MAP: Record<string, ErrorCode> = {
  SIGNATURE_ERROR: 'SIGNATURE_INVALID',
  PUBLIC_KEY_ERROR: 'SIGNATURE_KEY_UNKNOWN',
  CERTIFICATE_ERROR: 'CERTIFICATE_UNTRUSTED',
  TIMESTAMP_ERROR: 'TIMESTAMP_UNTRUSTED',
  TLOG_ERROR: 'TLOG_UNTRUSTED',
  TLOG_INCLUSION_PROOF_ERROR: 'TLOG_UNTRUSTED',
  TLOG_INCLUSION_PROMISE_ERROR: 'TLOG_UNTRUSTED',
  TLOG_MISSING_INCLUSION_ERROR: 'TLOG_UNTRUSTED',
  TLOG_BODY_ERROR: 'TLOG_UNTRUSTED',
  UNTRUSTED_SIGNER_ERROR: 'IDENTITY_UNTRUSTED',
  NOT_IMPLEMENTED_ERROR: 'SIGNATURE_BUNDLE_MALFORMED',
};

/** The WardenError for anything a sigstore verifier threw. */
export function fromSigstoreError(err: unknown): WardenError {
  if (err instanceof WardenError) return err;
  if (err instanceof VerificationError || err instanceof PolicyError) {
    const code = MAP[err.code] ?? 'SIGNATURE_INVALID';
    return new WardenError(code, `${err.code}: ${err.message}`, { cause: err, details: { sigstoreCode: err.code } });
  }
  // Anything else (a malformed certificate, say) comes from untrusted input: fail closed.
  return new WardenError('SIGNATURE_BUNDLE_MALFORMED', messageOf(err), { cause: err });
}
