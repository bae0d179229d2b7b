/**
 * io.jwt.encode_sign and io.jwt.encode_sign_raw as OPA computes them
 * (commonBuiltinJWTEncodeSign): the header's alg (one OPA knows) picks the scheme,
 * the first key of the JWK (set) signs, and a payload whose typ is absent or JWT must
 * be JSON. encode_sign writes header and payload as Go's json.Marshal does (sorted
 * keys, HTML-safe escapes, numbers as written); encode_sign_raw takes both texts as
 * they are. Signing is node:crypto's one-shot `sign` and `createHmac`: RS*, HS* and
 * EdDSA tokens are byte for byte OPA's; ES* and PS* signatures are randomised.
 */
import { constants, createHmac, createPrivateKey, sign, type JsonWebKey, type KeyObject } from 'node:crypto';
import { base64url } from 'jose';
import { goMarshal } from './go-json.js';
import { ALG_SCHEMES, TOKEN_ALGORITHMS } from './jwt-keys.js';
import { base64UrlDecode } from './jwt-token.js';
import { BuiltinCallError, stringArg, type HostBuiltin } from './types.js';

const CURVES: Readonly<Record<string, string>> = { 'P-256': 'prime256v1', 'P-384': 'secp384r1', 'P-521': 'secp521r1' };

/** The first key of a JWK or JWK set, as a private KeyObject, or an oct key's bytes. */
function signingKey(text: string): KeyObject | Buffer {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new BuiltinCallError('failed to parse a JWK');
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new BuiltinCallError('not a JWK');
  const record = parsed as Record<string, unknown>;
  const jwk: unknown = 'keys' in record ? (Array.isArray(record.keys) ? record.keys[0] : undefined) : record;
  if (jwk === null || typeof jwk !== 'object' || Array.isArray(jwk))
    throw new BuiltinCallError('no keys found in JWK set');
  const fields = jwk as Record<string, unknown>;
  if (fields.kty === 'oct') {
    if (typeof fields.k !== 'string' || fields.k === '') throw new BuiltinCallError('an oct JWK needs k');
    return base64UrlDecode(fields.k);
  }
  if (!('d' in fields)) throw new BuiltinCallError('signing needs a private key');
  try {
    return createPrivateKey({ key: fields as JsonWebKey, format: 'jwk' });
  } catch {
    throw new BuiltinCallError('invalid JWK');
  }
}

/** The signature of `input` under `alg` with `key`; throws when the key does not fit the alg. */
function signature(alg: string, key: KeyObject | Buffer, input: Buffer): Buffer {
  const scheme = ALG_SCHEMES[alg];
  if (scheme === undefined) throw new BuiltinCallError(`unknown JWS algorithm: ${alg}`);
  if (scheme.family === 'hmac') {
    if (!Buffer.isBuffer(key) || scheme.hash === null) throw new BuiltinCallError('HMAC needs an oct key');
    return createHmac(scheme.hash, key).update(input).digest();
  }
  if (Buffer.isBuffer(key)) throw new BuiltinCallError(`${alg} needs an asymmetric key`);
  const type = key.asymmetricKeyType;
  switch (scheme.family) {
    case 'rsa':
      if (type !== 'rsa') break;
      return sign(scheme.hash, input, { key, padding: constants.RSA_PKCS1_PADDING });
    case 'pss':
      if (type !== 'rsa') break;
      return sign(scheme.hash, input, {
        key,
        padding: constants.RSA_PKCS1_PSS_PADDING,
        saltLength: constants.RSA_PSS_SALTLEN_DIGEST,
      });
    case 'ecdsa':
      if (type !== 'ec' || !Object.values(CURVES).includes(key.asymmetricKeyDetails?.namedCurve ?? '')) break;
      return sign(scheme.hash, input, { key, dsaEncoding: 'ieee-p1363' });
    case 'eddsa':
      if (type !== 'ed25519') break;
      return sign(null, input, key);
  }
  throw new BuiltinCallError(`the key does not fit ${alg}`);
}

/** OPA's commonBuiltinJWTEncodeSign on the header and payload bytes. */
function encodeSign(header: string, payload: string, jwk: string): string {
  const key = signingKey(jwk);
  let fields: unknown;
  try {
    fields = JSON.parse(header);
  } catch {
    throw new BuiltinCallError("missing or invalid 'alg' header");
  }
  const h = (fields ?? {}) as Record<string, unknown>;
  if (typeof h.alg !== 'string') throw new BuiltinCallError("missing or invalid 'alg' header");
  if (!TOKEN_ALGORITHMS.has(h.alg)) throw new BuiltinCallError(`unknown JWS algorithm: ${h.alg}`);
  if (typeof h.typ !== 'string' || h.typ === 'JWT') {
    try {
      JSON.parse(payload);
    } catch {
      throw new BuiltinCallError('type is JWT but payload is not JSON');
    }
  }
  const input = `${base64url.encode(header)}.${base64url.encode(payload)}`;
  return JSON.stringify(`${input}.${base64url.encode(signature(h.alg, key, Buffer.from(input)))}`);
}

export const jwtSignBuiltins: Record<string, HostBuiltin> = {
  'io.jwt.encode_sign': ([header, payload, key]) =>
    encodeSign(goMarshal(header?.text ?? 'null'), goMarshal(payload?.text ?? 'null'), goMarshal(key?.text ?? 'null')),
  'io.jwt.encode_sign_raw': ([header, payload, key]) => {
    const jwk = stringArg(key, 3);
    return encodeSign(stringArg(header, 1), stringArg(payload, 2), jwk);
  },
};
