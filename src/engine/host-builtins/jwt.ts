/**
 * io.jwt.decode, io.jwt.verify_* and io.jwt.decode_verify as OPA computes them
 * (v1/topdown/tokens.go). Every error (not a string, not three parts, bad base64,
 * a header that is not a JSON object, an unreadable key) leaves the call undefined;
 * a signature that does not verify is `false` (decode_verify: `[false, {}, {}]`).
 *
 * verify_* ignore the header's alg except to match it against the alg of a JWK in a
 * set; the function names the scheme. A key whose kid the header names is the only
 * one tried; otherwise every key is. decode_verify verifies with the header's alg and
 * then checks the constraints: iss, aud, exp and nbf against `time` (ns, default the
 * evaluation's time.now_ns), compared as OPA does, with the time in seconds as a double.
 */
import { memberText } from '../json-member.js';
import { compareNumbers } from '../rego-value.js';
import { ALG_SCHEMES, parseKeys, verifies, type Scheme, type Strictness, type VerificationKey } from './jwt-keys.js';
import {
  base64UrlDecode,
  decodeHeader,
  decodeSignature,
  jsonObject,
  parseHeader,
  signingInput,
  splitToken,
  type JsonObject,
} from './jwt-token.js';
import { BuiltinCallError, stringArg, type EvaluationContext, type HostArg, type HostBuiltin } from './types.js';

const UNVERIFIED = '[false,{},{}]';

/** io.jwt.decode: [header, payload, signature as hex]; a `cty: JWT` payload is decoded in turn. */
function decode(token: unknown): string {
  const parts = splitToken(token);
  const header = decodeHeader(parts);
  const payload = base64UrlDecode(parts.payload);
  const cty = header.value.cty;
  if (cty !== undefined) {
    // OPA panics on a cty that is not a string; here the call is undefined.
    if (typeof cty !== 'string') throw new BuiltinCallError('cty: must be a string');
    if (cty === 'JWT') return decode(payload.toString('utf8').replace(/^["']+|["']+$/g, ''));
  }
  const body = jsonObject(payload);
  const signature = base64UrlDecode(parts.signature).toString('hex');
  return `[${header.text},${body.text},${JSON.stringify(signature)}]`;
}

/** The shared part of verify_{rs,ps,es}*, verify_eddsa: true when some key verifies the token. */
function verifyWithKeys(args: readonly HostArg[], scheme: Scheme): string {
  const parts = splitToken(args[0]?.value);
  const keys = parseKeys(stringArg(args[1], 2));
  const signature = decodeSignature(parts);
  const header = parseHeader(decodeHeader(parts).value);
  const data = signingInput(parts);
  return String(anyKeyVerifies(keys, header.kid, header.alg, (key) => verifies(key, scheme, data, signature, 'opa')));
}

/** OPA's key choice: the key the header's kid names, alone; else each key whose alg (if any) is the header's. */
function anyKeyVerifies(
  keys: readonly VerificationKey[],
  kid: string,
  alg: string,
  check: (key: VerificationKey) => boolean,
): boolean {
  const named = kid === '' ? undefined : keys.find((k) => k.kid === kid);
  if (named !== undefined) return check(named);
  return keys.some((key) => (key.alg === '' || key.alg === alg) && check(key));
}

/** verify_hs*: an HMAC of the encoded header and payload with the secret; the header is not read. */
function verifyHmac(args: readonly HostArg[], scheme: Scheme): string {
  const token = stringArg(args[0], 1);
  const secret = stringArg(args[1], 2);
  const parts = splitToken(token);
  const key: VerificationKey = { alg: '', kid: '', key: Buffer.from(secret, 'utf8'), private: false };
  return String(verifies(key, scheme, signingInput(parts), decodeSignature(parts), 'opa'));
}

interface Constraints {
  keys: VerificationKey[] | undefined;
  secret: string;
  alg: string;
  iss: string;
  aud: string;
  /** Nanoseconds, as a double (OPA's float64). */
  time: number;
}

function constraintString(name: string, value: unknown): string {
  if (typeof value !== 'string') throw new BuiltinCallError(`${name} constraint: must be a string`);
  return value;
}

function timeOf(value: unknown): number {
  if (typeof value !== 'number') throw new BuiltinCallError('token time constraint: must be a number');
  if (!Number.isFinite(value)) throw new BuiltinCallError('token time constraint: unvalid float64');
  if (value < 0) throw new BuiltinCallError('token time constraint: must not be negative');
  return value;
}

function parseConstraints(arg: HostArg | undefined, context: EvaluationContext): Constraints {
  const v = arg?.value;
  if (v === null || typeof v !== 'object' || Array.isArray(v))
    throw new BuiltinCallError('operand 2 must be an object');
  const c: Constraints = { keys: undefined, secret: '', alg: '', iss: '', aud: '', time: -1 };
  for (const [name, value] of Object.entries(v as Record<string, unknown>)) {
    if (name === 'cert') c.keys = parseKeys(constraintString('cert', value));
    else if (name === 'secret' || name === 'alg' || name === 'iss' || name === 'aud')
      c[name] = constraintString(name, value);
    else if (name === 'time') c.time = timeOf(value);
    else throw new BuiltinCallError(`unknown token validation constraint: ${name}`);
  }
  if (c.time === -1) {
    context.nowNs ??= BigInt(Date.now()) * 1_000_000n;
    c.time = Number(context.nowNs);
  }
  const count = (c.keys !== undefined ? 1 : 0) + (c.secret !== '' ? 1 : 0);
  if (count > 1) throw new BuiltinCallError('duplicate key constraints');
  if (count < 1) throw new BuiltinCallError('no key constraint');
  return c;
}

/** constraints.verify: the signature under the header's alg, with the keys or the secret. */
function signatureVerifies(c: Constraints, kid: string, alg: string, data: Buffer, signature: Buffer): boolean {
  const scheme = ALG_SCHEMES[alg];
  const strictness: Strictness = 'jws';
  if (c.keys !== undefined) {
    return anyKeyVerifies(
      c.keys,
      kid,
      alg,
      (key) => scheme !== undefined && verifies(key, scheme, data, signature, strictness),
    );
  }
  const key: VerificationKey = { alg: '', kid: '', key: Buffer.from(c.secret, 'utf8'), private: false };
  return scheme !== undefined && verifies(key, scheme, data, signature, strictness);
}

/** io.jwt.decode_verify: [valid, header, payload]. */
function decodeVerify(args: readonly HostArg[], context: EvaluationContext): string {
  const c = parseConstraints(args[1], context);
  let token: unknown = args[0]?.value;
  let header: JsonObject;
  let payloadBytes: Buffer;
  for (;;) {
    const parts = splitToken(token);
    header = decodeHeader(parts);
    const params = parseHeader(header.value);
    if (!params.valid) return UNVERIFIED;
    if (c.alg !== '' && c.alg !== params.alg) return UNVERIFIED;
    const signature = decodeSignature(parts);
    if (!signatureVerifies(c, params.kid, params.alg, signingInput(parts), signature)) return UNVERIFIED;
    payloadBytes = base64UrlDecode(parts.payload);
    // A nested token (cty JWT, any case) is verified in turn with the same constraints.
    if (params.cty.toUpperCase() !== 'JWT') break;
    token = payloadBytes.toString('utf8');
  }
  const payload = jsonObject(payloadBytes);
  const claims = payload.value;
  if (c.iss !== '') {
    if (!('iss' in claims)) return UNVERIFIED;
    // OPA panics on an iss that is not a string; here the call is undefined.
    if (typeof claims.iss !== 'string') throw new BuiltinCallError('iss must be a string');
    if (claims.iss !== c.iss) return UNVERIFIED;
  }
  if ('aud' in claims) {
    if (!validAudience(claims.aud, c.aud)) return UNVERIFIED;
  } else if (c.aud !== '') {
    return UNVERIFIED;
  }
  // The time in seconds as OPA writes the double (shortest form), compared exactly with the claim's text.
  const now = String(c.time / 1e9);
  if ('exp' in claims) {
    if (typeof claims.exp !== 'number') throw new BuiltinCallError('exp value must be a number');
    if (compareNumbers(now, memberText(payload.text, 'exp') ?? '') !== -1) return UNVERIFIED;
  }
  if ('nbf' in claims) {
    if (typeof claims.nbf !== 'number') throw new BuiltinCallError('nbf value must be a number');
    if (compareNumbers(now, memberText(payload.text, 'nbf') ?? '') === -1) return UNVERIFIED;
  }
  return `[true,${header.text},${payload.text}]`;
}

function validAudience(aud: unknown, want: string): boolean {
  if (typeof aud === 'string') return aud === want;
  return Array.isArray(aud) && aud.some((a) => typeof a === 'string' && a === want);
}

/** The io.jwt.* decoding and verifying builtins; decode_verify reads the evaluation's time. */
export function jwtBuiltins(context: EvaluationContext): Record<string, HostBuiltin> {
  const table: Record<string, HostBuiltin> = {
    'io.jwt.decode': ([token]) => decode(token?.value),
    'io.jwt.decode_verify': (args) => decodeVerify(args, context),
    'io.jwt.verify_eddsa': (args) => verifyWithKeys(args, ALG_SCHEMES.EdDSA as Scheme),
  };
  for (const alg of ['RS', 'PS', 'ES', 'HS'] as const) {
    for (const bits of ['256', '384', '512'] as const) {
      const scheme = ALG_SCHEMES[`${alg}${bits}`] as Scheme;
      table[`io.jwt.verify_${alg.toLowerCase()}${bits}`] =
        alg === 'HS' ? (args) => verifyHmac(args, scheme) : (args) => verifyWithKeys(args, scheme);
    }
  }
  return table;
}
