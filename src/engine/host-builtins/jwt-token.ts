/**
 * A compact JWS as OPA's io.jwt.* builtins read it (v1/topdown/tokens.go): three
 * dot-separated parts, each base64url as OPA's base64url.decode takes it (padding
 * optional, CR and LF ignored, as Go's decoder does), a header that is a JSON object
 * without `enc` (a JWE is refused), and the header parameters OPA interprets (alg,
 * kid, typ, cty as strings, crit as a non-empty list). JSON objects keep their text,
 * so the numbers in a header or payload reach the engine exactly as the token has them.
 */
import { engineText } from '../json-text.js';
import { BuiltinCallError } from './types.js';

/** The three encoded parts of a token. */
export interface TokenParts {
  readonly header: string;
  readonly payload: string;
  readonly signature: string;
}

/** A decoded JSON object: its text (as the engine reads it) and its parsed value. */
export interface JsonObject {
  readonly text: string;
  readonly value: Record<string, unknown>;
}

/** The header parameters OPA interprets. */
export interface TokenHeader {
  readonly alg: string;
  readonly kid: string;
  readonly cty: string;
  /** alg is present and every critical parameter is understood (RFC 7515 4.1.1, 4.1.11). */
  readonly valid: boolean;
}

/** OPA's decodeJWT: a string of exactly three dot-separated parts. */
export function splitToken(token: unknown): TokenParts {
  if (typeof token !== 'string') throw new BuiltinCallError('operand 1 must be a string');
  const parts = token.split('.');
  if (parts.length === 1) throw new BuiltinCallError('encoded JWT had no period separators');
  if (parts.length !== 3) throw new BuiltinCallError(`encoded JWT must have 3 sections, found ${parts.length}`);
  const [header = '', payload = '', signature = ''] = parts;
  return { header, payload, signature };
}

const BASE64URL = /^[A-Za-z0-9_-]*(?:[A-Za-z0-9_-]{2}==|[A-Za-z0-9_-]{3}=)?$/;

/** OPA's base64url.decode: unpadded input is padded (a length of 4n+1 is refused), then decoded strictly. */
export function base64UrlDecode(s: string): Buffer {
  let padded = s;
  if (!s.endsWith('=')) {
    const rem = Buffer.byteLength(s) % 4;
    if (rem === 1) throw new BuiltinCallError('illegal base64url string');
    padded += rem === 2 ? '==' : rem === 3 ? '=' : '';
  }
  // Go's decoder skips CR and LF wherever they are.
  const body = padded.replace(/[\r\n]/g, '');
  if (body.length % 4 !== 0 || !BASE64URL.test(body)) throw new BuiltinCallError('illegal base64 data');
  return Buffer.from(body, 'base64url');
}

/** OPA's extractJSONObject: the bytes as a JSON object, or an error. */
export function jsonObject(bytes: Buffer | string): JsonObject {
  const text = engineText(typeof bytes === 'string' ? bytes : bytes.toString('utf8'));
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new BuiltinCallError('invalid JSON');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new BuiltinCallError('decoded JSON type was not an Object');
  }
  return { text: text.trim(), value: value as Record<string, unknown> };
}

/** OPA's decodeHeader: the header part as a JSON object that is not a JWE's. */
export function decodeHeader(parts: TokenParts): JsonObject {
  const header = jsonObject(base64UrlDecode(parts.header));
  if ('enc' in header.value) throw new BuiltinCallError('JWT is a JWE object, which is not supported');
  return header;
}

const STRING_PARAMS = new Set(['alg', 'kid', 'typ', 'cty']);

/** OPA's parseTokenHeader: alg, kid, typ and cty must be strings; crit a non-empty list. */
export function parseHeader(header: Record<string, unknown>): TokenHeader {
  let crit: Set<string> | undefined;
  const unknown: string[] = [];
  for (const [name, value] of Object.entries(header)) {
    if (STRING_PARAMS.has(name)) {
      if (typeof value !== 'string') throw new BuiltinCallError(`${name}: must be a string`);
    } else if (name === 'crit') {
      if (!Array.isArray(value)) throw new BuiltinCallError('crit: must be a list');
      crit = new Set();
      // OPA stops at the first non-string member without failing.
      for (const member of value) {
        if (typeof member !== 'string') break;
        crit.add(member);
      }
      if (crit.size === 0) throw new BuiltinCallError('crit: must be a nonempty list');
    } else {
      unknown.push(name);
    }
  }
  const str = (name: string): string => (typeof header[name] === 'string' ? header[name] : '');
  const alg = str('alg');
  const valid = alg !== '' && !unknown.some((u) => crit?.has(u));
  return { alg, kid: str('kid'), cty: str('cty'), valid };
}

/** OPA's decodeSignature. */
export function decodeSignature(parts: TokenParts): Buffer {
  return base64UrlDecode(parts.signature);
}

/** The bytes a signature covers: `header.payload` as encoded. */
export function signingInput(parts: TokenParts): Buffer {
  return Buffer.from(`${parts.header}.${parts.payload}`, 'utf8');
}
