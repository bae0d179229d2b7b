/**
 * Parses an untrusted `.sigstore.json`: size-limited, JSON errors and schema
 * errors become SIGNATURE_BUNDLE_MALFORMED, and only message-signature bundles
 * (a signature over raw bytes) are accepted.
 */
import { bundleFromJSON, isBundleWithMessageSignature, type BundleWithMessageSignature } from '@sigstore/bundle';
import { HashAlgorithm } from '@sigstore/protobuf-specs';
import { WardenError, messageOf } from '../errors.js';

/** A signature bundle is a few KiB; anything near this is not one. */
export const MAX_BUNDLE_BYTES = 1024 * 1024;

/** Parses and validates a bundle's bytes. */
export function parseSignatureBundle(bytes: Uint8Array): BundleWithMessageSignature {
  if (bytes.length > MAX_BUNDLE_BYTES) {
    throw new WardenError(
      'SIGNATURE_BUNDLE_MALFORMED',
      `signature bundle is ${bytes.length} bytes, over the ${MAX_BUNDLE_BYTES} limit`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch (err) {
    throw new WardenError('SIGNATURE_BUNDLE_MALFORMED', `signature bundle is not JSON: ${messageOf(err)}`, {
      cause: err,
    });
  }
  let bundle;
  try {
    bundle = bundleFromJSON(json);
  } catch (err) {
    throw new WardenError('SIGNATURE_BUNDLE_MALFORMED', `not a Sigstore bundle: ${messageOf(err)}`, { cause: err });
  }
  if (!isBundleWithMessageSignature(bundle)) {
    throw new WardenError(
      'SIGNATURE_BUNDLE_MALFORMED',
      'the bundle holds a DSSE envelope; Warden expects a message signature over the pack bytes',
    );
  }
  return bundle;
}

/** The SHA-256 digest the bundle says it signed, as hex; undefined if it names another algorithm. */
export function signedDigestHex(bundle: BundleWithMessageSignature): string | undefined {
  const md = bundle.content.messageSignature.messageDigest;
  return md && md.algorithm === HashAlgorithm.SHA2_256 ? Buffer.from(md.digest).toString('hex') : undefined;
}
