/**
 * The keys io.jwt.* verifies with, read from the certificate argument as OPA reads
 * it (parseKeysFromCertOrJWK): a PEM block (CERTIFICATE or PUBLIC KEY, nothing after
 * it), else a JWK or a JWK set (keys whose `alg` OPA does not know are skipped).
 * Keys are node:crypto KeyObjects (JWKs through node:crypto's JWK import); an `oct`
 * JWK is its secret bytes. Signatures are checked with node:crypto, synchronously,
 * as the wasm engine calls builtins.
 */
import { X509Certificate, createHmac, createPublicKey, constants, timingSafeEqual, verify } from 'node:crypto';
import type { JsonWebKey, KeyObject } from 'node:crypto';
import { base64UrlDecode } from './jwt-token.js';
import { BuiltinCallError } from './types.js';

/** A key to verify with, and the alg and kid a JWK set gives it ('' when none). */
export interface VerificationKey {
  readonly alg: string;
  readonly kid: string;
  readonly key: KeyObject | Buffer;
  /** A JWK with private members: OPA's verify_* functions do not accept it; decode_verify uses its public half. */
  readonly private: boolean;
}

/** The algorithms OPA knows (its tokenAlgorithms). */
export const TOKEN_ALGORITHMS: ReadonlySet<string> = new Set([
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'HS256',
  'HS384',
  'HS512',
  'EdDSA',
]);

// Go's pem.Decode for the first block: BEGIN line, optional headers, base64 body, matching END line.
const PEM_BLOCK =
  /(?:^|\n)-----BEGIN ([^\n]*?)-----[ \t]*\r?\n((?:[^\n]*:[^\n]*\r?\n)*)([\s\S]*?)-----END \1-----[ \t]*(\r?\n|$)/;

function pemBlock(text: string): { type: string; der: Buffer; rest: string } | undefined {
  const m = PEM_BLOCK.exec(text);
  if (!m) return undefined;
  const body = (m[3] ?? '').replace(/[ \t\r\n]/g, '');
  if (body.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(body)) return undefined;
  return { type: m[1] ?? '', der: Buffer.from(body, 'base64'), rest: text.slice(m.index + m[0].length) };
}

function fail(message: string): never {
  throw new BuiltinCallError(message);
}

/** The keys in `certificate`: a PEM certificate or public key, a JWK, or a JWK set. */
export function parseKeys(certificate: string): VerificationKey[] {
  const block = pemBlock(certificate);
  if (block !== undefined) {
    if (block.rest.length > 0) fail('extra data after a PEM certificate block');
    if (block.type === 'CERTIFICATE') {
      try {
        return [{ alg: '', kid: '', key: new X509Certificate(block.der).publicKey, private: false }];
      } catch {
        fail('failed to parse a PEM certificate');
      }
    }
    if (block.type === 'PUBLIC KEY') {
      try {
        const key = createPublicKey({ key: block.der, format: 'der', type: 'spki' });
        return [{ alg: '', kid: '', key, private: false }];
      } catch {
        fail('failed to parse a PEM public key');
      }
    }
    fail('failed to extract a Key from the PEM certificate');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(certificate);
  } catch {
    fail('failed to parse a JWK key (set)');
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) fail('failed to parse a JWK key (set)');
  const record = parsed as Record<string, unknown>;
  const jwks = 'keys' in record ? record.keys : [record];
  if (!Array.isArray(jwks)) fail('failed to parse a JWK key set');
  const keys: VerificationKey[] = [];
  for (const jwk of jwks) {
    const key = jwkKey(jwk);
    if (key.alg !== '' && !TOKEN_ALGORITHMS.has(key.alg)) continue;
    keys.push(key);
  }
  return keys;
}

function jwkKey(jwk: unknown): VerificationKey {
  if (jwk === null || typeof jwk !== 'object' || Array.isArray(jwk)) fail('a JWK must be an object');
  const fields = jwk as Record<string, unknown>;
  for (const name of ['alg', 'kid']) {
    if (name in fields && typeof fields[name] !== 'string') fail(`a JWK's ${name} must be a string`);
  }
  const alg = (fields.alg as string | undefined) ?? '';
  const kid = (fields.kid as string | undefined) ?? '';
  if (fields.kty === 'oct') {
    if (typeof fields.k !== 'string') fail('an oct JWK needs k');
    return { alg, kid, key: base64UrlDecode(fields.k), private: false };
  }
  if (fields.kty !== 'RSA' && fields.kty !== 'EC' && fields.kty !== 'OKP') fail('unsupported JWK kty');
  try {
    // node:crypto takes a private JWK too, and gives its public half.
    const key = createPublicKey({ key: fields as JsonWebKey, format: 'jwk' });
    return { alg, kid, key, private: 'd' in fields };
  } catch {
    fail('invalid JWK');
  }
}

/** A signature scheme: its family and hash, as a verify_* builtin or a header alg names it. */
export interface Scheme {
  readonly family: 'rsa' | 'pss' | 'ecdsa' | 'eddsa' | 'hmac';
  readonly hash: 'sha256' | 'sha384' | 'sha512' | null;
}

/** The scheme of each JWS alg (Ed25519 is RFC 9864's name for EdDSA on that curve). */
export const ALG_SCHEMES: Readonly<Record<string, Scheme>> = {
  RS256: { family: 'rsa', hash: 'sha256' },
  RS384: { family: 'rsa', hash: 'sha384' },
  RS512: { family: 'rsa', hash: 'sha512' },
  PS256: { family: 'pss', hash: 'sha256' },
  PS384: { family: 'pss', hash: 'sha384' },
  PS512: { family: 'pss', hash: 'sha512' },
  ES256: { family: 'ecdsa', hash: 'sha256' },
  ES384: { family: 'ecdsa', hash: 'sha384' },
  ES512: { family: 'ecdsa', hash: 'sha512' },
  HS256: { family: 'hmac', hash: 'sha256' },
  HS384: { family: 'hmac', hash: 'sha384' },
  HS512: { family: 'hmac', hash: 'sha512' },
  EdDSA: { family: 'eddsa', hash: null },
  Ed25519: { family: 'eddsa', hash: null },
};

const CURVE_BYTES: Readonly<Record<string, number>> = { prime256v1: 32, secp384r1: 48, secp521r1: 66 };

/**
 * How the signature is read: `opa` as OPA's verify_* functions do (an ECDSA signature
 * split in two halves of any length, RSA-PSS with any salt length), `jws` as
 * decode_verify does through its JWS library (an ECDSA signature exactly twice the
 * curve's size, RSA-PSS with a salt as long as the hash).
 */
export type Strictness = 'opa' | 'jws';

/** Whether `signature` over `data` verifies with `key` under `scheme`; a key of another type never does. */
export function verifies(
  key: VerificationKey,
  scheme: Scheme,
  data: Buffer,
  signature: Buffer,
  strictness: Strictness,
): boolean {
  const k = key.key;
  if (scheme.family === 'hmac') {
    if (!Buffer.isBuffer(k) || scheme.hash === null) return false;
    const mac = createHmac(scheme.hash, k).update(data).digest();
    return hmacEqual(mac, signature);
  }
  if (Buffer.isBuffer(k) || (key.private && strictness === 'opa')) return false;
  try {
    switch (scheme.family) {
      case 'rsa':
        return (
          k.asymmetricKeyType === 'rsa' &&
          verify(scheme.hash, data, { key: k, padding: constants.RSA_PKCS1_PADDING }, signature)
        );
      case 'pss':
        return (
          k.asymmetricKeyType === 'rsa' &&
          verify(
            scheme.hash,
            data,
            {
              key: k,
              padding: constants.RSA_PKCS1_PSS_PADDING,
              saltLength: strictness === 'opa' ? constants.RSA_PSS_SALTLEN_AUTO : constants.RSA_PSS_SALTLEN_DIGEST,
            },
            signature,
          )
        );
      case 'ecdsa': {
        const size = CURVE_BYTES[k.asymmetricKeyDetails?.namedCurve ?? ''];
        if (k.asymmetricKeyType !== 'ec' || size === undefined) return false;
        const p1363 =
          strictness === 'jws' ? (signature.length === 2 * size ? signature : undefined) : halves(signature, size);
        return p1363 !== undefined && verify(scheme.hash, data, { key: k, dsaEncoding: 'ieee-p1363' }, p1363);
      }
      case 'eddsa':
        return k.asymmetricKeyType === 'ed25519' && signature.length === 64 && verify(null, data, k, signature);
    }
  } catch {
    return false;
  }
}

/** hmac.Equal: same length and same bytes, in constant time. */
export function hmacEqual(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * OPA's verifyES reads r and s as the two halves of the signature (the second gets an
 * odd byte), as unsigned integers of any length: here as fixed-size P1363 halves, or
 * undefined when an integer is too large for the curve (it cannot verify).
 */
function halves(signature: Buffer, size: number): Buffer | undefined {
  const n = Math.floor(signature.length / 2);
  const out = Buffer.alloc(2 * size);
  for (const [i, part] of [signature.subarray(0, n), signature.subarray(n)].entries()) {
    let start = 0;
    while (start < part.length && part[start] === 0) start++;
    const digits = part.subarray(start);
    if (digits.length > size) return undefined;
    digits.copy(out, (i + 1) * size - digits.length);
  }
  return out;
}
