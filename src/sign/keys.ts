/**
 * ECDSA P-256 keys in PEM: parsing with a coded error, and the key hint that
 * names a key in a Sigstore bundle (base64 SHA-256 of the DER public key, as
 * cosign writes it).
 */
import { createHash, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { WardenError, messageOf } from '../errors.js';

/** Parses a PEM public key; anything but ECDSA P-256 → KEY_INVALID. */
export function parsePublicKey(pem: string | Buffer, where = 'public key'): KeyObject {
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch (err) {
    throw new WardenError('KEY_INVALID', `${where}: not a PEM public key (${messageOf(err)})`, { cause: err });
  }
  assertP256(key, where);
  return key;
}

/** Parses a PEM (PKCS#8 or SEC1) private key; anything but ECDSA P-256 → KEY_INVALID. */
export function parsePrivateKey(pem: string | Buffer, where = 'private key'): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch (err) {
    throw new WardenError('KEY_INVALID', `${where}: not an unencrypted PEM private key (${messageOf(err)})`, {
      cause: err,
    });
  }
  assertP256(key, where);
  return key;
}

/** The hint for a public key: base64 of SHA-256 over its DER SubjectPublicKeyInfo. */
export function keyHint(publicKey: KeyObject): string {
  return createHash('sha256')
    .update(publicKey.export({ type: 'spki', format: 'der' }))
    .digest('base64');
}

// Refuses keys of any other type or curve.
function assertP256(key: KeyObject, where: string): void {
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    const what =
      key.asymmetricKeyType === 'ec'
        ? `EC ${key.asymmetricKeyDetails?.namedCurve ?? '?'}`
        : String(key.asymmetricKeyType);
    throw new WardenError('KEY_INVALID', `${where}: is ${what}, Warden needs ECDSA P-256`);
  }
}
