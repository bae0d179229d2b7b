/**
 * The verify stage: pack bytes + signature bundle bytes + compiled trust →
 * a verdict. Pure and synchronous: no network, no disk, no clock but the
 * signed timestamps. Steps, each with its own code: digest → bundle → key or
 * certificate chain (+ SCT, tlog, timestamp) → signature → identity policy.
 * A pack pulled from a registry and signed by `cosign sign` comes with a DSSE
 * attestation over its OCI manifest instead (oci-attestation.ts): the digest
 * step is then the chain statement → manifest → pack layer.
 */
import type { KeyObject } from 'node:crypto';
import type { BundleWithDsseEnvelope, BundleWithMessageSignature } from '@sigstore/bundle';
import { toSignedEntity, toTrustMaterial, Verifier, type SignedEntity } from '@sigstore/verify';
import { WardenError, messageOf } from '../errors.js';
import { parseSignatureBundle, signedDigestHex } from './bundle.js';
import { sha256Digest } from './digest.js';
import { checkAttestationChain, readAttestationWrapper } from './oci-attestation.js';
import { fromSigstoreError } from './sigstore-errors.js';
import type { Trust } from './trust.js';

/** Who signed a verified pack. */
export type SignerIdentity =
  | { readonly kind: 'key'; readonly hint: string; readonly name: string }
  | { readonly kind: 'keyless'; readonly issuer: string; readonly subject: string };

/** The verdict on a pack that passed every check. */
export interface VerifiedPack {
  /** `sha256:<hex>` of the exact pack bytes. */
  readonly digest: string;
  readonly signer: SignerIdentity;
}

/** Optional checks beyond the signature. */
export interface VerifyOptions {
  /** A digest announced elsewhere (ETag, config); the bytes must match it. */
  readonly expectedDigest?: string;
}

const EMPTY_ROOT = { mediaType: '', tlogs: [], certificateAuthorities: [], ctlogs: [], timestampAuthorities: [] };

/** Verifies pack bytes against their bundle; throws a coded WardenError on any failure. */
export function verifyPack(
  pack: Uint8Array,
  signature: Uint8Array | undefined,
  trust: Trust,
  options: VerifyOptions = {},
): VerifiedPack {
  const digest = sha256Digest(pack);
  if (options.expectedDigest !== undefined && options.expectedDigest !== digest) {
    throw new WardenError('DIGEST_MISMATCH', `pack digest is ${digest}, expected ${options.expectedDigest}`);
  }
  if (signature === undefined || signature.length === 0) {
    throw new WardenError('SIGNATURE_MISSING', 'the pack has no signature bundle');
  }
  const attestation = readAttestationWrapper(signature);
  if (attestation !== undefined) {
    const entity = toEntity(checkAttestationChain(pack, attestation));
    return { digest, signer: trust.kind === 'keys' ? verifyWithKeys(entity, trust) : verifyKeyless(entity, trust) };
  }
  const bundle = parseSignatureBundle(signature);
  const signed = signedDigestHex(bundle);
  if (signed === undefined)
    throw new WardenError('SIGNATURE_BUNDLE_MALFORMED', 'the bundle carries no SHA-256 message digest');
  if (`sha256:${signed}` !== digest) {
    throw new WardenError('DIGEST_MISMATCH', `the bundle signs sha256:${signed}, the pack is ${digest}`);
  }
  const entity = toEntity(bundle, pack);
  const signer = trust.kind === 'keys' ? verifyWithKeys(entity, trust) : verifyKeyless(entity, trust);
  return { digest, signer };
}

// Builds sigstore's view of the bundle (over these bytes, for a message signature).
function toEntity(bundle: BundleWithMessageSignature | BundleWithDsseEnvelope, pack?: Uint8Array): SignedEntity {
  try {
    return toSignedEntity(
      bundle,
      pack === undefined ? undefined : Buffer.from(pack.buffer, pack.byteOffset, pack.byteLength),
    );
  } catch (err) {
    throw new WardenError('SIGNATURE_BUNDLE_MALFORMED', `cannot read the bundle: ${messageOf(err)}`, { cause: err });
  }
}

// Tries the key the hint names first, then every other trusted key (rotation, hint-less bundles).
function verifyWithKeys(entity: SignedEntity, trust: Extract<Trust, { kind: 'keys' }>): SignerIdentity {
  if (entity.key.$case !== 'public-key') {
    throw new WardenError(
      'SIGNATURE_KEY_UNKNOWN',
      'the pack is signed with a certificate (keyless); this pack is configured for public keys',
    );
  }
  const hint = entity.key.hint;
  const named = trust.keys.find((k) => k.hint === hint);
  const ordered = named ? [named, ...trust.keys.filter((k) => k !== named)] : trust.keys;
  for (const candidate of ordered) {
    try {
      keyVerifier(candidate.key).verify(entity);
      return { kind: 'key', hint: candidate.hint, name: candidate.name };
    } catch (err) {
      const coded = fromSigstoreError(err);
      if (coded.code !== 'SIGNATURE_INVALID') throw coded;
    }
  }
  if (named || !hint) throw new WardenError('SIGNATURE_INVALID', 'the signature does not verify with any trusted key');
  throw new WardenError(
    'SIGNATURE_KEY_UNKNOWN',
    `signed by key ${hint}, which is not trusted (and no trusted key verifies it)`,
    {
      details: { hint },
    },
  );
}

// A verifier that trusts exactly this key, with no log or timestamp required (offline, key-based).
function keyVerifier(key: KeyObject): Verifier {
  const material = toTrustMaterial(EMPTY_ROOT, () => ({ publicKey: key, validFor: () => true }));
  return new Verifier(material, { tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 0 });
}

// Full keyless check: chain, SCT, tlog inclusion, timestamp, signature; then the identity policy.
function verifyKeyless(entity: SignedEntity, trust: Extract<Trust, { kind: 'keyless' }>): SignerIdentity {
  if (entity.key.$case !== 'certificate') {
    throw new WardenError(
      'CERTIFICATE_UNTRUSTED',
      'the pack is signed with a bare key; keyless trust needs a Fulcio certificate',
    );
  }
  let identity;
  try {
    const verifier = new Verifier(trust.material, { tlogThreshold: 1, ctlogThreshold: 1, timestampThreshold: 1 });
    identity = verifier.verify(entity).identity;
  } catch (err) {
    throw fromSigstoreError(err);
  }
  const issuer = identity?.extensions?.issuer ?? '';
  const subject = identity?.subjectAlternativeName ?? '';
  if (issuer !== trust.issuer) {
    throw new WardenError(
      'IDENTITY_UNTRUSTED',
      `signer issuer ${JSON.stringify(issuer)} is not ${JSON.stringify(trust.issuer)}`,
      { details: { issuer, subject } },
    );
  }
  if (!trust.subject.test(subject)) {
    throw new WardenError(
      'IDENTITY_UNTRUSTED',
      `signer subject ${JSON.stringify(subject)} does not match ${trust.subject.source}`,
      { details: { issuer, subject } },
    );
  }
  return { kind: 'keyless', issuer, subject };
}
