/**
 * The hashing and encoding builtins OPA's wasm compiler leaves to the host
 * (v1/topdown/crypto.go, encoding.go, net.go): crypto.md5, crypto.sha1,
 * crypto.sha256 and crypto.hmac.md5/sha1/sha256/sha512 (lower-case hex of the
 * digest of the string's UTF-8 bytes, node:crypto), crypto.hmac.equal (a
 * constant-time comparison), hex.encode and hex.decode (Go's hex: an odd length or
 * a non-hex digit fails; bytes that are not UTF-8 become U+FFFD as OPA writes them),
 * base64url.encode_no_pad, and net.cidr_is_valid (Go's net.ParseCIDR, go-net.ts: an
 * address netip reads, without a zone, and a decimal prefix length within the family's bits).
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { goBytesToString } from './go-bytes.js';
import { parseCIDR } from './go-net.js';
import { BuiltinCallError, stringArg, type HostBuiltin } from './types.js';

const digest =
  (algorithm: string): HostBuiltin =>
  ([a]) =>
    JSON.stringify(createHash(algorithm).update(stringArg(a, 1), 'utf8').digest('hex'));

const hmac =
  (algorithm: string): HostBuiltin =>
  ([x, key]) =>
    JSON.stringify(createHmac(algorithm, stringArg(key, 2)).update(stringArg(x, 1), 'utf8').digest('hex'));

export const cryptoBuiltins: Record<string, HostBuiltin> = {
  'crypto.md5': digest('md5'),
  'crypto.sha1': digest('sha1'),
  'crypto.sha256': digest('sha256'),
  'crypto.hmac.md5': hmac('md5'),
  'crypto.hmac.sha1': hmac('sha1'),
  'crypto.hmac.sha256': hmac('sha256'),
  'crypto.hmac.sha512': hmac('sha512'),
  'crypto.hmac.equal': ([a, b]) => {
    const x = Buffer.from(stringArg(a, 1), 'utf8');
    const y = Buffer.from(stringArg(b, 2), 'utf8');
    return String(x.length === y.length && timingSafeEqual(x, y));
  },
  'hex.encode': ([a]) => JSON.stringify(Buffer.from(stringArg(a, 1), 'utf8').toString('hex')),
  'hex.decode': ([a]) => {
    const s = stringArg(a, 1);
    if (s.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(s)) throw new BuiltinCallError('invalid hex');
    return JSON.stringify(goBytesToString(Buffer.from(s, 'hex')));
  },
  'base64url.encode_no_pad': ([a]) => JSON.stringify(Buffer.from(stringArg(a, 1), 'utf8').toString('base64url')),
  'net.cidr_is_valid': ([a]) => String(typeof a?.value === 'string' && parseCIDR(a.value) !== undefined),
};
