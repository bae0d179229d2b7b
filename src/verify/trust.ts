/**
 * Trust material, compiled once from configuration contents (never paths: the
 * verify stage touches no disk). Either a set of public keys, any of which may
 * sign (key rotation), or a pinned trusted root plus an identity policy.
 */
import type { KeyObject } from 'node:crypto';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { toTrustMaterial, type TrustMaterial } from '@sigstore/verify';
import { WardenError, messageOf } from '../errors.js';
import { keyHint, parsePublicKey } from '../sign/keys.js';

/** Key-based trust: the PEM contents of the trusted public keys. */
export interface KeyTrustInput {
  readonly publicKeys: ReadonlyArray<{ readonly pem: string; readonly name?: string }>;
}

/** Keyless trust: trusted_root.json contents and who may sign. */
export interface KeylessTrustInput {
  readonly trustedRootJson: string;
  /** Exact OIDC issuer, e.g. https://token.actions.githubusercontent.com */
  readonly issuer: string;
  /** Anchored (`^…$`) pattern the certificate's subject (SAN) must match. */
  readonly subjectRegex: string;
}

/** Compiled, immutable trust the verifier uses. */
export type Trust =
  | {
      readonly kind: 'keys';
      readonly keys: ReadonlyArray<{ readonly hint: string; readonly name: string; readonly key: KeyObject }>;
    }
  | { readonly kind: 'keyless'; readonly material: TrustMaterial; readonly issuer: string; readonly subject: RegExp };

/** Compiles key-based trust; a bad or non-P-256 key → KEY_INVALID. */
export function keyTrust(input: KeyTrustInput): Trust {
  if (input.publicKeys.length === 0) throw new WardenError('TRUST_CONFIG_INVALID', 'no trusted public keys configured');
  const keys = input.publicKeys.map(({ pem, name }, i) => {
    const key = parsePublicKey(pem, name ?? `public key #${i + 1}`);
    return { hint: keyHint(key), name: name ?? `key-${i + 1}`, key };
  });
  return Object.freeze({ kind: 'keys', keys: Object.freeze(keys) });
}

/** Compiles keyless trust; a bad root, empty issuer or unanchored pattern → TRUST_CONFIG_INVALID. */
export function keylessTrust(input: KeylessTrustInput): Trust {
  if (!input.issuer) throw new WardenError('TRUST_CONFIG_INVALID', 'keyless trust needs an exact issuer');
  if (!input.subjectRegex.startsWith('^') || !input.subjectRegex.endsWith('$') || input.subjectRegex.endsWith('\\$')) {
    throw new WardenError(
      'TRUST_CONFIG_INVALID',
      `subject_regex ${JSON.stringify(input.subjectRegex)} must be anchored: start with ^ and end with $`,
    );
  }
  let subject: RegExp;
  try {
    new RegExp(input.subjectRegex, 'u'); // compiles as written first, so `^x)|(.*$` cannot escape the group below
    // Re-anchor as a group: in `^a|b$` the anchors bind only to the outer alternatives.
    subject = new RegExp(`^(?:${input.subjectRegex.slice(1, -1)})$`, 'u');
  } catch (err) {
    throw new WardenError('TRUST_CONFIG_INVALID', `subject_regex does not compile: ${messageOf(err)}`, { cause: err });
  }
  let material: TrustMaterial;
  try {
    material = toTrustMaterial(TrustedRoot.fromJSON(JSON.parse(input.trustedRootJson)));
  } catch (err) {
    throw new WardenError('TRUST_CONFIG_INVALID', `trusted root is not a valid trusted_root.json: ${messageOf(err)}`, {
      cause: err,
    });
  }
  if (material.certificateAuthorities.length === 0 || material.tlogs.length === 0) {
    throw new WardenError('TRUST_CONFIG_INVALID', 'trusted root names no certificate authority or no transparency log');
  }
  return Object.freeze({ kind: 'keyless', material, issuer: input.issuer, subject });
}
