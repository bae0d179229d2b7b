/**
 * io.jwt.* in the embedded engine (src/engine/host-builtins/jwt.ts), each case checked
 * against the real `opa eval` on the same arguments. Keys are made for this run
 * (node:crypto, and openssl for self-signed certificates); tokens are signed with jose
 * (CompactSign), or with node:crypto where a token must be one jose refuses to make (a
 * header alg that lies, an ES256 signature by a P-384 key, an RSA-PSS salt of another
 * length). Times are passed explicitly wherever a result depends on them.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  constants,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign as cryptoSign,
  type KeyObject,
} from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { CompactSign, base64url } from 'jose';
import { HOST_BUILTINS } from '../../src/engine/builtins.js';
import { loadWasmEngine, type WasmEngine } from '../../src/engine/wasm.js';
import { opaBuildWasm } from '../../src/opa/compile.js';
import { locateOpa } from '../../src/opa/locate.js';
import { readPack } from '../../src/pack/reader.js';
import { canonicalJson } from '../helpers/canonical-json.js';
import { tempDir, writeTree } from '../helpers/fs.js';
import { opaAnswers } from '../helpers/opa-eval.js';

// 2024-12-03T04:00:00Z, in seconds and nanoseconds.
const T = 1733198400;
const NS = T * 1e9;

const VERIFY = [
  'rs256',
  'rs384',
  'rs512',
  'ps256',
  'ps384',
  'ps512',
  'es256',
  'es384',
  'es512',
  'eddsa',
  'hs256',
  'hs384',
  'hs512',
].map((a) => `io.jwt.verify_${a}`);
const BUILTINS = ['io.jwt.decode', 'io.jwt.decode_verify', ...VERIFY];

const b64 = (s: string | Uint8Array): string => base64url.encode(s);
const json64 = (v: unknown): string => b64(JSON.stringify(v));
const spki = (k: KeyObject): string => k.export({ type: 'spki', format: 'pem' }) as string;

interface Pair {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
}

/** A self-signed certificate from openssl, with its key. */
function certificate(dir: string, name: string, newkey: string[]): Pair & { readonly pem: string } {
  const key = join(dir, `${name}.key`);
  const cert = join(dir, `${name}.crt`);
  const res = spawnSync(
    'openssl',
    ['req', '-x509', ...newkey, '-keyout', key, '-out', cert, '-nodes', '-subj', `/CN=${name}`, '-days', '2'],
    { encoding: 'utf8' },
  );
  assert.equal(res.status, 0, res.stderr);
  const privateKey = createPrivateKey(readFileSync(key));
  return { privateKey, publicKey: createPublicKey(privateKey), pem: readFileSync(cert, 'utf8') };
}

/** A compact JWS signed by jose with `header` (alg included) over `payload` (text, sent as is). */
async function jws(header: Record<string, unknown>, payload: string, key: KeyObject | Uint8Array): Promise<string> {
  return new CompactSign(new TextEncoder().encode(payload)).setProtectedHeader(header as { alg: string }).sign(key);
}

/** A compact JWS signed with node:crypto directly: any header, any signing options. */
function rawJws(header: unknown, payload: string, sign: (data: Buffer) => Buffer): string {
  const input = `${json64(header)}.${b64(payload)}`;
  return `${input}.${b64(sign(Buffer.from(input)))}`;
}

const args = (...values: unknown[]): string => JSON.stringify(values);

async function cases(dir: string): Promise<Record<string, string[]>> {
  const rsa = certificate(dir, 'rsa', ['-newkey', 'rsa:2048']);
  const ecCert = certificate(dir, 'ec', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256']);
  const rsaOther = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const ec384 = generateKeyPairSync('ec', { namedCurve: 'P-384' });
  const ec521 = generateKeyPairSync('ec', { namedCurve: 'P-521' });
  const ed = generateKeyPairSync('ed25519');
  const edOther = generateKeyPairSync('ed25519');
  const secret = 'correct horse battery staple';
  const secretKey = new TextEncoder().encode(secret);

  const claims = {
    sub: 'alice',
    iss: 'https://issuer.example',
    aud: 'warden',
    exp: T + 3600,
    nbf: T - 3600,
    iat: T - 3600,
  };
  // A payload with numbers a double cannot hold, kept as written.
  const payload = `{"sub":"alice","iss":"https://issuer.example","aud":"warden","exp":${T + 3600},"nbf":${T - 3600},"n":12345678901234567890,"f":1.0,"x":{"y":[1,"2",null]}}`;

  const tok: Record<string, string> = {};
  for (const bits of ['256', '384', '512']) {
    tok[`RS${bits}`] = await jws({ alg: `RS${bits}`, typ: 'JWT' }, payload, rsa.privateKey);
    tok[`PS${bits}`] = await jws({ alg: `PS${bits}` }, payload, rsa.privateKey);
    tok[`HS${bits}`] = await jws({ alg: `HS${bits}`, typ: 'JWT' }, payload, secretKey);
  }
  tok.ES256 = await jws({ alg: 'ES256' }, payload, ecCert.privateKey);
  tok.ES384 = await jws({ alg: 'ES384' }, payload, ec384.privateKey);
  tok.ES512 = await jws({ alg: 'ES512' }, payload, ec521.privateKey);
  tok.EdDSA = await jws({ alg: 'EdDSA' }, payload, ed.privateKey);
  const rs = tok.RS256 as string;
  const [rsHeader, , rsSig] = rs.split('.');

  // Tampered: the payload swapped for another, the signature kept.
  const tampered = `${rsHeader}.${json64({ ...claims, sub: 'mallory' })}.${rsSig}`;
  // A header alg that lies: RS256 signature, header says HS256 (verify_* go by the function).
  const lying = rawJws({ alg: 'HS256' }, payload, (d) => cryptoSign('sha256', d, rsa.privateKey));
  // An ES256 signature (SHA-256) by a P-384 key.
  const es256by384 = rawJws({ alg: 'ES256' }, payload, (d) =>
    cryptoSign('sha256', d, { key: ec384.privateKey, dsaEncoding: 'ieee-p1363' }),
  );
  // RSA-PSS with the largest salt: OPA's verify_ps256 takes any salt length, decode_verify only the hash's.
  const pssMaxSalt = rawJws({ alg: 'PS256' }, payload, (d) =>
    cryptoSign('sha256', d, {
      key: rsa.privateKey,
      padding: constants.RSA_PKCS1_PSS_PADDING,
      saltLength: constants.RSA_PSS_SALTLEN_MAX_SIGN,
    }),
  );
  // ES256 signature with r and s in DER (not the JWS form).
  const esDer = rawJws({ alg: 'ES256' }, payload, (d) => cryptoSign('sha256', d, ecCert.privateKey));
  // Header variations, each signed properly.
  const noAlg = rawJws({ typ: 'JWT' }, payload, (d) => cryptoSign('sha256', d, rsa.privateKey));
  const critUnknown = rawJws({ alg: 'RS256', crit: ['exp2'], exp2: 1 }, payload, (d) =>
    cryptoSign('sha256', d, rsa.privateKey),
  );
  const critKnown = rawJws({ alg: 'RS256', crit: ['kid'], kid: 'x' }, payload, (d) =>
    cryptoSign('sha256', d, rsa.privateKey),
  );
  const critEmpty = rawJws({ alg: 'RS256', crit: [] }, payload, (d) => cryptoSign('sha256', d, rsa.privateKey));
  const algNumber = rawJws({ alg: 256 }, payload, (d) => cryptoSign('sha256', d, rsa.privateKey));
  const jwe = rawJws({ alg: 'RS256', enc: 'A128GCM' }, payload, (d) => cryptoSign('sha256', d, rsa.privateKey));
  const none = `${json64({ alg: 'none' })}.${b64(payload)}.`;
  // kid: "b" is rsa's kid in the set, "a" another key's, "zz" none.
  const kidB = await jws({ alg: 'RS256', kid: 'b' }, payload, rsa.privateKey);
  const kidA = await jws({ alg: 'RS256', kid: 'a' }, payload, rsa.privateKey);
  const kidZ = await jws({ alg: 'RS256', kid: 'zz' }, payload, rsa.privateKey);
  // Claims for decode_verify.
  const withClaims = async (c: Record<string, unknown>): Promise<string> =>
    jws({ alg: 'RS256' }, JSON.stringify(c), rsa.privateKey);
  const audList = await withClaims({ ...claims, aud: ['other', 'warden'] });
  const audNumber = await withClaims({ ...claims, aud: 5 });
  const noClaims = await withClaims({ sub: 'alice' });
  const expText = await withClaims({ ...claims, exp: 'soon' });
  const nbfText = await withClaims({ ...claims, nbf: 'soon' });
  const expFraction = await jws({ alg: 'RS256' }, `{"exp":${T}.5}`, rsa.privateKey);
  const longAgo = await withClaims({ exp: 1000000000 });
  const farFuture = await withClaims({ exp: 4102444800, nbf: 1000000000 });
  const notJsonPayload = await jws({ alg: 'RS256' }, 'not json', rsa.privateKey);
  const arrayPayload = await jws({ alg: 'RS256' }, '[1,2]', rsa.privateKey);
  // Nested: the outer token's payload is the inner token (cty JWT).
  const inner = await withClaims(claims);
  const nested = await jws({ alg: 'RS256', cty: 'JWT' }, inner, rsa.privateKey);
  const nestedLower = await jws({ alg: 'HS256', cty: 'jwt' }, inner, secretKey);
  const nestedQuoted = await jws({ alg: 'RS256', cty: 'JWT' }, `"${inner}"`, rsa.privateKey);
  const hsOther = await jws({ alg: 'HS256' }, payload, new TextEncoder().encode('another secret'));

  // Keys in every form OPA takes.
  const rsaJwk = { ...rsa.publicKey.export({ format: 'jwk' }), kid: 'b', alg: 'RS256' };
  const otherJwk = { ...rsaOther.publicKey.export({ format: 'jwk' }), kid: 'a', alg: 'RS256' };
  const ecJwk = { ...ecCert.publicKey.export({ format: 'jwk' }), kid: 'c', alg: 'ES256' };
  const jwks = JSON.stringify({ keys: [otherJwk, rsaJwk, ecJwk] });
  const jwksNoKid = JSON.stringify({
    keys: [
      { ...rsaOther.publicKey.export({ format: 'jwk' }) },
      { ...rsa.publicKey.export({ format: 'jwk' }), alg: 'PS256' },
      { ...rsa.publicKey.export({ format: 'jwk' }), alg: 'RSA-OAEP' },
    ],
  });
  const privateJwk = JSON.stringify(rsa.privateKey.export({ format: 'jwk' }));
  const octJwk = JSON.stringify({ kty: 'oct', k: b64(secret) });
  const rsaPem = spki(rsa.publicKey);
  const pems = {
    rsaCert: rsa.pem,
    rsa: rsaPem,
    rsaOther: spki(rsaOther.publicKey),
    ecCert: ecCert.pem,
    ec256: spki(ecCert.publicKey),
    ec384: spki(ec384.publicKey),
    ec521: spki(ec521.publicKey),
    ed: spki(ed.publicKey),
    edOther: spki(edOther.publicKey),
  };
  const badKeys = [
    `${rsaPem}extra`,
    `leading text\n${rsaPem}`,
    rsaPem.replaceAll('PUBLIC KEY', 'RSA PUBLIC KEY'),
    rsaPem.trimEnd(),
    'not a key',
    '{"keys":[]}',
    '{"kty":"XYZ"}',
    '[]',
    '',
  ];
  const malformed = [
    'nodots',
    'a.b',
    'a.b.c.d',
    `!!!.${b64(payload)}.${rsSig}`,
    `${b64('not json')}.${b64(payload)}.${rsSig}`,
    `${json64([1])}.${b64(payload)}.${rsSig}`,
    `${rsHeader}.${b64(payload)}.sig!`,
    `${rsHeader}.${b64(payload)}.${rsSig}A`,
    `${rsHeader}=.${b64(payload)}.${rsSig}`,
    `${rsHeader}.${b64(payload)}.${rsSig}==`,
    `${rsHeader}.!!.${rsSig}`,
    '..',
    5,
    null,
  ];

  const verifyCases: string[] = [];
  const forAll = (token: unknown, key: unknown): void => void verifyCases.push(args(token, key));
  for (const t of Object.values(tok)) for (const k of Object.values(pems)) forAll(t, k);
  for (const t of [tok.HS256, tok.HS384, tok.HS512, hsOther, lying]) forAll(t, secret);
  for (const k of [jwks, jwksNoKid, privateJwk, octJwk, JSON.stringify(rsaJwk), JSON.stringify(ecJwk), ...badKeys]) {
    for (const t of [rs, tok.PS256, tok.ES256, kidA, kidB, kidZ]) forAll(t, k);
  }
  for (const t of [
    tampered,
    lying,
    es256by384,
    pssMaxSalt,
    esDer,
    noAlg,
    critUnknown,
    critKnown,
    critEmpty,
    algNumber,
    jwe,
    none,
  ]) {
    for (const k of [pems.rsa, pems.ec256, pems.ec384, secret]) forAll(t, k);
  }
  for (const t of malformed) for (const k of [pems.rsa, pems.ec256, secret]) forAll(t, k);
  forAll(rs, 5);
  forAll(rs, null);

  const c = (extra: Record<string, unknown>): Record<string, unknown> => ({ time: NS, ...extra });
  const dv: Array<[unknown, unknown]> = [
    [rs, c({ cert: pems.rsa })],
    [rs, c({ cert: pems.rsaCert })],
    [rs, c({ cert: pems.rsaOther })],
    [rs, c({ cert: jwks })],
    [rs, c({ cert: jwksNoKid })],
    [rs, c({ cert: privateJwk })],
    [kidA, c({ cert: jwks })],
    [kidB, c({ cert: jwks })],
    [kidZ, c({ cert: jwks })],
    [tok.RS384, c({ cert: pems.rsa })],
    [tok.RS512, c({ cert: pems.rsaCert })],
    [tok.PS256, c({ cert: pems.rsa })],
    [tok.PS256, c({ cert: jwksNoKid })],
    [tok.PS512, c({ cert: pems.rsa })],
    [tok.ES256, c({ cert: pems.ecCert })],
    [tok.ES384, c({ cert: pems.ec384 })],
    [tok.ES512, c({ cert: pems.ec521 })],
    [tok.ES512, c({ cert: pems.ec384 })],
    [tok.EdDSA, c({ cert: pems.ed })],
    [tok.EdDSA, c({ cert: pems.edOther })],
    [tok.HS256, c({ secret })],
    [tok.HS384, c({ secret })],
    [tok.HS512, c({ secret })],
    [hsOther, c({ secret })],
    [tok.HS256, c({ cert: octJwk })],
    [tok.HS256, c({ cert: pems.rsa })],
    [rs, c({ secret })],
    [none, c({ secret })],
    [es256by384, c({ cert: pems.ec384 })],
    [pssMaxSalt, c({ cert: pems.rsa })],
    [esDer, c({ cert: pems.ec256 })],
    [lying, c({ cert: pems.rsa })],
    [tampered, c({ cert: pems.rsa })],
    [noAlg, c({ cert: pems.rsa })],
    [critUnknown, c({ cert: pems.rsa })],
    [critKnown, c({ cert: pems.rsa })],
    [critEmpty, c({ cert: pems.rsa })],
    [algNumber, c({ cert: pems.rsa })],
    [jwe, c({ cert: pems.rsa })],
    // alg, iss, aud constraints.
    [rs, c({ cert: pems.rsa, alg: 'RS256' })],
    [rs, c({ cert: pems.rsa, alg: 'PS256' })],
    [rs, c({ cert: pems.rsa, iss: 'https://issuer.example' })],
    [rs, c({ cert: pems.rsa, iss: 'https://other.example' })],
    [noClaims, c({ cert: pems.rsa, iss: 'https://issuer.example' })],
    [rs, c({ cert: pems.rsa, aud: 'warden' })],
    [rs, c({ cert: pems.rsa, aud: 'other' })],
    [noClaims, c({ cert: pems.rsa, aud: 'warden' })],
    [noClaims, c({ cert: pems.rsa })],
    [audList, c({ cert: pems.rsa, aud: 'warden' })],
    [audList, c({ cert: pems.rsa, aud: 'nobody' })],
    [audList, c({ cert: pems.rsa })],
    [audNumber, c({ cert: pems.rsa, aud: 'warden' })],
    // exp and nbf against the time constraint: before, at and after each.
    [rs, c({ cert: pems.rsa, aud: 'warden', time: (T + 3599) * 1e9 })],
    [rs, c({ cert: pems.rsa, aud: 'warden', time: (T + 3600) * 1e9 })],
    [rs, c({ cert: pems.rsa, aud: 'warden', time: (T + 3600) * 1e9 - 1 })],
    [rs, c({ cert: pems.rsa, aud: 'warden', time: (T + 7200) * 1e9 })],
    [rs, c({ cert: pems.rsa, aud: 'warden', time: (T - 3600) * 1e9 })],
    [rs, c({ cert: pems.rsa, aud: 'warden', time: (T - 3601) * 1e9 })],
    [rs, c({ cert: pems.rsa, aud: 'warden', time: (T - 3600) * 1e9 - 1 })],
    [rs, c({ cert: pems.rsa, aud: 'warden', time: 0 })],
    [expFraction, c({ cert: pems.rsa, time: T * 1e9 + 5e8 })],
    [expFraction, c({ cert: pems.rsa, time: T * 1e9 + 499999999 })],
    [expText, c({ cert: pems.rsa, aud: 'warden' })],
    [nbfText, c({ cert: pems.rsa, aud: 'warden' })],
    // Without a time constraint: the evaluation's time.
    [longAgo, { cert: pems.rsa }],
    [farFuture, { cert: pems.rsa }],
    // Payloads that are not JSON objects.
    [notJsonPayload, c({ cert: pems.rsa })],
    [arrayPayload, c({ cert: pems.rsa })],
    // Nested tokens.
    [nested, c({ cert: pems.rsa, aud: 'warden' })],
    [nestedLower, c({ secret })],
    [nestedLower, c({ cert: pems.rsa })],
    [nestedQuoted, c({ cert: pems.rsa })],
    // Constraint errors.
    [rs, c({ cert: pems.rsa, time: -1 })],
    [rs, c({ cert: pems.rsa, time: '1' })],
    [rs, c({ cert: pems.rsa, time: 1.5 })],
    [rs, c({ cert: pems.rsa, colour: 'blue' })],
    [rs, c({})],
    [rs, c({ secret: '' })],
    [rs, c({ cert: pems.rsa, secret: '' })],
    [rs, c({ cert: pems.rsa, secret })],
    [rs, c({ cert: 5 })],
    [rs, c({ cert: pems.rsa, iss: 5 })],
    [rs, c({ cert: 'not a key' })],
    [rs, c({ cert: '{"keys":[]}' })],
    [rs, 'not an object'],
    ...malformed.map((t): [unknown, unknown] => [t, c({ cert: pems.rsa })]),
  ];

  const decodeCases = [
    rs,
    tok.HS256,
    tok.EdDSA,
    tampered,
    noAlg,
    critEmpty,
    algNumber,
    jwe,
    none,
    nested,
    nestedLower,
    nestedQuoted,
    notJsonPayload,
    arrayPayload,
    `${json64({ alg: 'HS256', cty: 'JWT' })}.${b64('not.a.token')}.`,
    `${json64({ alg: 'HS256' })}.${b64('{"a":1}')}.${b64(new Uint8Array([0, 255, 16]))}`,
    `${json64({ alg: 'HS256', a: '\u00e9\ud83d\ude00' })}.${b64('{"a":"\\ud800"}')}.`,
    `${json64({ alg: 'HS256' })}=.${b64('{"a":1}')}.`,
    ...malformed,
  ].map((t) => args(t));

  // encode_sign: private JWKs (a set: its first key), header and payload objects.
  const priv = (k: KeyObject, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
    ...k.export({ format: 'jwk' }),
    ...extra,
  });
  const oct = { kty: 'oct', k: b64(secret) };
  const body = {
    sub: 'alice',
    n: 'BIG',
    f: 1.5,
    html: '<a&b>',
    u: '\u2028\u00e9',
    x: [1, { b: 2, a: 1 }],
  };
  const exact: Array<[unknown, unknown, unknown]> = [
    [{ alg: 'RS256', typ: 'JWT' }, body, priv(rsa.privateKey)],
    [{ alg: 'RS384', kid: 'k1' }, body, { keys: [priv(rsa.privateKey), oct] }],
    [{ alg: 'RS512' }, body, priv(rsaOther.privateKey)],
    [{ alg: 'HS256', typ: 'JWT' }, body, oct],
    [{ typ: 'JWT', alg: 'HS384', z: 1 }, {}, oct],
    [{ alg: 'HS512' }, { a: null }, { keys: [oct] }],
    [{ alg: 'EdDSA' }, body, priv(ed.privateKey)],
    // Errors: unknown or missing alg, a key that does not fit, a public key, no keys, not a JWK.
    [{ alg: 'none' }, body, oct],
    [{ typ: 'JWT' }, body, oct],
    [{ alg: 5 }, body, oct],
    [{ alg: 'RS256' }, body, oct],
    [{ alg: 'HS256' }, body, priv(rsa.privateKey)],
    [{ alg: 'ES256' }, body, priv(rsa.privateKey)],
    [{ alg: 'EdDSA' }, body, priv(ecCert.privateKey)],
    [{ alg: 'RS256' }, body, rsa.publicKey.export({ format: 'jwk' })],
    [{ alg: 'HS256' }, body, { keys: [] }],
    [{ alg: 'HS256' }, body, { kty: 'oct', k: '' }],
    [{ alg: 'HS256' }, body, { kty: 'XYZ' }],
    [{ alg: 'HS256' }, body, 'not a key'],
    ['header', body, oct],
  ];
  const exactRaw: Array<[unknown, unknown, unknown]> = [
    ['{"alg":"HS256", "typ":"JWT"}', '{"b": 1, "a": 12345678901234567890}', JSON.stringify(oct)],
    ['{"alg":"HS256","typ":"text"}', 'not json', JSON.stringify(oct)],
    ['{"alg":"HS256","typ":"JWT"}', 'not json', JSON.stringify(oct)],
    ['{"alg":"HS256"}', 'not json', JSON.stringify(oct)],
    ['{"alg":"RS256"}', '{}', JSON.stringify(priv(rsa.privateKey))],
    ['{"alg":"EdDSA"}', 'any bytes', JSON.stringify(priv(ed.privateKey))],
    ['not json', '{}', JSON.stringify(oct)],
    ['{"alg":"XS256"}', '{}', JSON.stringify(oct)],
    ['{"alg":"HS256"}', '{}', 'not a key'],
    [{ alg: 'HS256' }, '{}', JSON.stringify(oct)],
    ['{"alg":"HS256"}', 5, JSON.stringify(oct)],
  ];
  // Randomised signatures (ES, PS): compared by their header and payload, and by verifying.
  const check = (k: KeyObject): Record<string, unknown> => ({
    cert: JSON.stringify(k.export({ format: 'jwk' })),
    time: NS,
  });
  const randomised: Array<[unknown, unknown, unknown, unknown]> = [
    [{ alg: 'ES256' }, body, priv(ecCert.privateKey), check(ecCert.publicKey)],
    [{ alg: 'ES384' }, body, priv(ec384.privateKey), check(ec384.publicKey)],
    [{ alg: 'ES512' }, body, priv(ec521.privateKey), check(ec521.publicKey)],
    [{ alg: 'ES256' }, body, priv(ec384.privateKey), check(ec384.publicKey)],
    [{ alg: 'PS256' }, body, priv(rsa.privateKey), check(rsa.publicKey)],
    [{ alg: 'PS384' }, body, priv(rsa.privateKey), check(rsa.publicKey)],
    [{ alg: 'PS512' }, body, priv(rsa.privateKey), check(rsa.publicKey)],
    [{ alg: 'PS256' }, body, priv(rsa.privateKey), check(rsaOther.publicKey)],
    [{ alg: 'RS256' }, body, priv(rsa.privateKey), check(rsa.publicKey)],
  ];

  const out: Record<string, string[]> = {
    // The payload's n: an integer a double cannot hold, as written.
    'io.jwt.encode_sign': exact.map((a) => args(...a).replaceAll('"BIG"', '12345678901234567890')),
    'io.jwt.encode_sign_raw': exactRaw.map((a) => args(...a)),
    signed: randomised.map((a) => args(...a)),
    signed_raw: randomised.map(([h, p, k, c]) => args(JSON.stringify(h), JSON.stringify(p), JSON.stringify(k), c)),
    'io.jwt.decode': decodeCases,
    'io.jwt.decode_verify': dv.map(([t, cs]) => args(t, cs)),
  };
  for (const name of VERIFY) out[name] = verifyCases;
  return out;
}

const ruleName = (builtin: string): string => builtin.replaceAll('.', '_');

const ENCODE = ['io.jwt.encode_sign', 'io.jwt.encode_sign_raw'];
// Randomised signatures: the token's header and payload, and whether it verifies with input.args[3].
const SIGNED = { signed: 'io.jwt.encode_sign', signed_raw: 'io.jwt.encode_sign_raw' };
const RULES = [...BUILTINS, ...ENCODE].map(ruleName).concat(Object.keys(SIGNED));

function policy(): string {
  const lines = ['package jwt', 'import rego.v1'];
  for (const name of [...BUILTINS, ...ENCODE]) {
    const arity = name === 'io.jwt.decode' ? 1 : ENCODE.includes(name) ? 3 : 2;
    const params = Array.from({ length: arity }, (_, i) => `input.args[${i}]`).join(', ');
    lines.push(`${ruleName(name)} := ${name}(${params})`);
  }
  for (const [rule, name] of Object.entries(SIGNED)) {
    lines.push(
      `${rule} := [p[0], p[1], io.jwt.decode_verify(t, input.args[3])[0]] if {`,
      `  t := ${name}(input.args[0], input.args[1], input.args[2])`,
      '  p := split(t, ".")',
      '}',
    );
  }
  return `${lines.join('\n')}\n`;
}

describe('io.jwt.* builtins, against the real opa eval', () => {
  let dir: string;
  let engine: WasmEngine;
  let table: Record<string, string[]>;

  before(async () => {
    dir = await writeTree(tempDir(), { 'jwt.rego': policy() });
    table = await cases(tempDir());
    const bundle = await opaBuildWasm(
      locateOpa().path,
      dir,
      RULES.map((r) => `jwt/${r}`),
      'v1',
    );
    const wasm = (await readPack(bundle, {}, { opaOutput: true })).get('policy.wasm');
    assert.ok(wasm);
    engine = await loadWasmEngine(wasm, {});
  });

  for (const name of [...BUILTINS, ...ENCODE, ...Object.keys(SIGNED)]) {
    it(`${name} answers as OPA's`, () => {
      assert.ok(name in SIGNED || HOST_BUILTINS.has(name), `${name} is provided`);
      const cases = table[name] ?? [];
      const path = `jwt/${name in SIGNED ? name : ruleName(name)}`;
      const inputs = cases.map((a) => `{"args":${a}}`);
      const expected = opaAnswers(dir, path, inputs);
      const actual = inputs.map((input) => {
        const out = engine.evaluateJson(path, input);
        return out === undefined ? undefined : canonicalJson(out);
      });
      const rows = cases.map((a, i) => ({ args: a.slice(0, 300), opa: expected[i], warden: actual[i] }));
      assert.deepEqual(
        rows.filter((r) => r.opa !== r.warden),
        [],
      );
      // The table exercises every outcome: a result (true, or a decoded token), false, and undefined.
      assert.ok(expected.some((e) => e !== undefined && e !== 'false' && !e.startsWith('[false')));
      if (!(name in SIGNED)) assert.ok(expected.some((e) => e === undefined));
      if (name in SIGNED)
        assert.ok(expected.some((e) => e?.endsWith(',true]')) && expected.some((e) => e?.endsWith(',false]')));
      else if (!name.startsWith('io.jwt.encode') && name !== 'io.jwt.decode')
        assert.ok(expected.some((e) => e === 'false' || e?.startsWith('[false')));
    });
  }
});
