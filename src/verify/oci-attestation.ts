/**
 * A pack signed in a registry by `cosign sign` (cosign 3): the Sigstore bundle
 * holds a DSSE envelope over an in-toto statement whose subject is the digest
 * of the pack's OCI manifest, not of the pack bytes. The `oci` source hands
 * such a bundle over wrapped with the manifest bytes it signs; this module
 * checks the chain without the registry, so a stored pack re-verifies at boot:
 * statement subject = sha256(manifest) → the manifest's pack layer digest =
 * sha256(pack). The DSSE signature itself is checked by verify.ts, with the
 * same keys or keyless policy as every other pack.
 */
import { bundleFromJSON, isBundleWithDsseEnvelope, type BundleWithDsseEnvelope } from '@sigstore/bundle';
import { WardenError, messageOf } from '../errors.js';
import { PACK_LAYER } from './oci-media-types.js';
import { sha256Digest } from './digest.js';

/** The media type of the wrapper (Warden's own; never sent to a registry). */
export const OCI_ATTESTATION_WRAPPER = 'application/vnd.warden.oci-attestation.v1+json';
/** The predicate type cosign's `sign` writes. */
export const COSIGN_SIGN_PREDICATE = 'https://sigstore.dev/cosign/sign/v1';
const IN_TOTO_PAYLOAD = 'application/vnd.in-toto+json';

/** Wraps a DSSE bundle with the manifest it signs. */
export function wrapAttestation(bundle: Buffer, manifest: Buffer): Buffer {
  const wrapper = {
    mediaType: OCI_ATTESTATION_WRAPPER,
    bundle: JSON.parse(bundle.toString('utf8')) as unknown,
    manifest: manifest.toString('base64'),
  };
  return Buffer.from(JSON.stringify(wrapper));
}

/** The wrapper's parts when the signature bytes are one; undefined otherwise. */
export function readAttestationWrapper(bytes: Uint8Array): { bundle: unknown; manifest: Buffer } | undefined {
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    return undefined;
  }
  const w = json as { mediaType?: unknown; bundle?: unknown; manifest?: unknown };
  if (w.mediaType !== OCI_ATTESTATION_WRAPPER) return undefined;
  if (typeof w.manifest !== 'string')
    throw new WardenError('SIGNATURE_BUNDLE_MALFORMED', 'the OCI attestation carries no manifest');
  return { bundle: w.bundle, manifest: Buffer.from(w.manifest, 'base64') };
}

/** Checks the chain bundle → manifest → pack; returns the DSSE bundle for the signature check. */
export function checkAttestationChain(
  pack: Uint8Array,
  wrapper: { bundle: unknown; manifest: Buffer },
): BundleWithDsseEnvelope {
  let bundle;
  try {
    bundle = bundleFromJSON(wrapper.bundle);
  } catch (err) {
    throw new WardenError('SIGNATURE_BUNDLE_MALFORMED', `not a Sigstore bundle: ${messageOf(err)}`, { cause: err });
  }
  if (!isBundleWithDsseEnvelope(bundle))
    throw new WardenError('SIGNATURE_BUNDLE_MALFORMED', 'the OCI attestation holds no DSSE envelope');
  const envelope = bundle.content.dsseEnvelope;
  if (envelope.payloadType !== IN_TOTO_PAYLOAD)
    throw new WardenError('SIGNATURE_BUNDLE_MALFORMED', `the DSSE payload is ${envelope.payloadType}, not in-toto`);
  let statement: { predicateType?: unknown; subject?: unknown };
  try {
    statement = JSON.parse(Buffer.from(envelope.payload).toString('utf8')) as typeof statement;
  } catch {
    throw new WardenError('SIGNATURE_BUNDLE_MALFORMED', 'the in-toto statement is not JSON');
  }
  if (statement.predicateType !== COSIGN_SIGN_PREDICATE)
    throw new WardenError(
      'SIGNATURE_BUNDLE_MALFORMED',
      `the statement's predicate is ${JSON.stringify(statement.predicateType)}, not a cosign signature (${COSIGN_SIGN_PREDICATE})`,
    );
  const manifestDigest = sha256Digest(wrapper.manifest);
  const subjects = Array.isArray(statement.subject)
    ? (statement.subject as Array<{ digest?: { sha256?: unknown } }>)
    : [];
  if (!subjects.some((s) => `sha256:${String(s.digest?.sha256)}` === manifestDigest))
    throw new WardenError('DIGEST_MISMATCH', `the attestation does not name the manifest ${manifestDigest}`, {
      details: { manifest: manifestDigest },
    });
  let layers: unknown;
  try {
    layers = (JSON.parse(wrapper.manifest.toString('utf8')) as { layers?: unknown }).layers;
  } catch {
    throw new WardenError('SIGNATURE_BUNDLE_MALFORMED', 'the signed manifest is not JSON');
  }
  const layer = Array.isArray(layers)
    ? (layers as Array<{ mediaType?: unknown; digest?: unknown }>).find((l) => l.mediaType === PACK_LAYER)
    : undefined;
  const digest = sha256Digest(pack);
  if (layer?.digest !== digest)
    throw new WardenError(
      'DIGEST_MISMATCH',
      `the signed manifest names the pack ${String(layer?.digest)}, the pack is ${digest}`,
      {
        details: { manifest: manifestDigest, signed: layer?.digest, actual: digest },
      },
    );
  return bundle;
}
