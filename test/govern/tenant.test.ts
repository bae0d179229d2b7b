import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CompactSign, exportJWK, exportSPKI, generateKeyPair, type CryptoKey, type JWK } from 'jose';
import { Registry } from 'prom-client';
import { isWardenError, type ErrorCode } from '../../src/errors.js';
import { jwksFromUrl } from '../../src/govern/tenant/jwks.js';
import { jwksFromFile, type JwksFileSource } from '../../src/govern/tenant/jwks-file.js';
import { TENANT_REFUSAL_METRIC, type RefusalReason } from '../../src/govern/tenant/tenant-refusal.js';
import {
  createTenantValidator,
  type TenantHeaders,
  type TenantValidator,
  type TenantValidatorOptions,
} from '../../src/govern/tenant/tenant.js';
import { eventually } from '../helpers/wait.js';

const ISSUER = 'https://idp.example.test';
const AUDIENCE = 'warden-api';
const b64 = (v: unknown): string => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');
const now = (): number => Math.floor(Date.now() / 1000);

interface Signer {
  kid: string;
  alg: string;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  jwk: JWK;
}
async function signer(kid: string, alg: 'RS256' | 'ES256'): Promise<Signer> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { kid, alg, privateKey, publicKey, jwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
}
const jwks = (...s: Signer[]): string => JSON.stringify({ keys: s.map((k) => k.jwk) });
const writeAtomic = async (path: string, text: string): Promise<void> => {
  await writeFile(`${path}.tmp`, text);
  await rename(`${path}.tmp`, path);
};

/** A signed token with good claims for tenant `acme`, `over` merged in (undefined drops a claim). */
function token(by: Signer, over: Record<string, unknown> = {}, header: Record<string, unknown> = {}): Promise<string> {
  const payload = { iss: ISSUER, aud: AUDIENCE, sub: 'user-1', tenant: 'acme', iat: now(), exp: now() + 300, ...over };
  return new CompactSign(Buffer.from(JSON.stringify(payload)))
    .setProtectedHeader({ alg: by.alg, kid: by.kid, ...header })
    .sign(by.privateKey);
}
/** A token jose refuses to produce: the header and payload as given, signed with HMAC-SHA256 under `secret` (or unsigned). */
function handmade(header: Record<string, unknown>, over: Record<string, unknown>, secret?: string | Buffer): string {
  const input = `${b64(header)}.${b64({ iss: ISSUER, aud: AUDIENCE, tenant: 'acme', exp: now() + 300, ...over })}`;
  return `${input}.${secret === undefined ? '' : createHmac('sha256', secret).update(input).digest('base64url')}`;
}
const bearer = (t: string, tenant?: string): TenantHeaders => ({ authorization: `Bearer ${t}`, 'x-tenant-id': tenant });

async function refusals(registry: Registry, reason: RefusalReason): Promise<number> {
  const data = await registry.getSingleMetric(TENANT_REFUSAL_METRIC)?.get();
  return data?.values.find((v) => v.labels['reason'] === reason)?.value ?? 0;
}
/** Asserts `validate` refuses with this code, status and reason, and counts exactly one refusal for it. */
async function refuses(
  v: TenantValidator,
  registry: Registry,
  headers: TenantHeaders,
  code: ErrorCode,
  status: number,
  reason: RefusalReason,
): Promise<void> {
  const before = await refusals(registry, reason);
  await assert.rejects(v.validate(headers), (err: unknown) => {
    assert.ok(isWardenError(err, code), `want ${code}, got ${String(err)}`);
    assert.equal(err.details['status'], status);
    assert.equal(err.details['reason'], reason);
    if (status === 401)
      assert.match(
        String(err.details['wwwAuthenticate']),
        reason === 'no_token' ? /^Bearer$/ : /^Bearer error="invalid_token"/,
      );
    return true;
  });
  assert.equal(await refusals(registry, reason), before + 1, `${reason} counted once`);
}

let dir: string;
let rsa: Signer;
let ec: Signer;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'warden-tenant-'));
  [rsa, ec] = await Promise.all([signer('rsa-1', 'RS256'), signer('ec-1', 'ES256')]);
});
after(() => rm(dir, { recursive: true, force: true }));

function validator(
  keys: TenantValidatorOptions['keys'],
  registry: Registry,
  extra: Partial<TenantValidatorOptions> = {},
): TenantValidator {
  return createTenantValidator({
    issuer: ISSUER,
    audience: [AUDIENCE, 'other-api'],
    algorithms: ['RS256', 'ES256'],
    keys,
    registry,
    ...extra,
  });
}

describe('tenant validator', () => {
  const registry = new Registry();
  let keys: JwksFileSource;
  let v: TenantValidator;
  const no = (h: TenantHeaders, code: ErrorCode, status: number, reason: RefusalReason): Promise<void> =>
    refuses(v, registry, h, code, status, reason);
  before(async () => {
    await writeFile(join(dir, 'main.jwks.json'), jwks(rsa, ec));
    keys = await jwksFromFile(join(dir, 'main.jwks.json'), { watch: false });
    v = validator(keys, registry);
  });
  after(() => keys.close());

  it('accepts RSA and EC tokens and returns tenant, subject and frozen claims', async () => {
    const ctx = await v.validate(bearer(await token(rsa), 'acme'));
    assert.equal(ctx.tenant, 'acme');
    assert.equal(ctx.subject, 'user-1');
    assert.ok(Object.isFrozen(ctx.claims));
    assert.equal((await v.validate(bearer(await token(ec, { tenant: 'globex' })))).tenant, 'globex');
  });

  it('with a token cache: a token verifies once, its tenant is still checked on every request, refusals are never cached', async () => {
    let lookups = 0;
    const counting = {
      getKey: (h: Parameters<typeof keys.getKey>[0], t: Parameters<typeof keys.getKey>[1]) => (
        (lookups += 1),
        keys.getKey(h, t)
      ),
      close: () => undefined,
    };
    const reg = new Registry();
    const cached = validator(counting, reg, { tokenCacheSeconds: 60 });
    const good = await token(ec);
    assert.equal((await cached.validate(bearer(good))).tenant, 'acme');
    assert.equal((await cached.validate(bearer(good))).tenant, 'acme');
    assert.equal(lookups, 1, 'the second request did not verify again');
    await refuses(cached, reg, { ...bearer(good), 'x-tenant-id': 'globex' }, 'TENANT_MISMATCH', 403, 'tenant_mismatch');
    const forged = handmade({ alg: 'none' }, {});
    await refuses(cached, reg, bearer(forged), 'TOKEN_INVALID', 401, 'alg_not_allowed');
    await refuses(cached, reg, bearer(forged), 'TOKEN_INVALID', 401, 'alg_not_allowed');
    const noTenant = await token(ec, { tenant: undefined });
    await refuses(cached, reg, bearer(noTenant), 'TENANT_MISSING', 403, 'tenant_missing');
    await refuses(cached, reg, bearer(noTenant), 'TENANT_MISSING', 403, 'tenant_missing');
  });

  it('refuses a request without a bearer token with 401 and a plain Bearer challenge', async () => {
    await no({}, 'TOKEN_INVALID', 401, 'no_token');
    await no({ authorization: `Basic ${b64('a:b')}` }, 'TOKEN_INVALID', 401, 'no_token');
    await no({ authorization: 'Bearer not.a.jwt' }, 'TOKEN_INVALID', 401, 'malformed');
  });

  it('refuses alg "none" (an unsigned token crafted by hand)', async () => {
    await no(bearer(handmade({ alg: 'none', typ: 'JWT' }, {})), 'TOKEN_INVALID', 401, 'alg_not_allowed');
    await no(bearer(handmade({ alg: 'none', kid: 'rsa-1' }, {})), 'TOKEN_INVALID', 401, 'alg_not_allowed');
  });

  it('refuses HS256 signed with the RSA or EC public key (PEM or JWK) as the HMAC secret', async () => {
    for (const s of [rsa, ec]) {
      const pem = await exportSPKI(s.publicKey);
      await no(bearer(handmade({ alg: 'HS256', kid: s.kid }, {}, pem)), 'TOKEN_INVALID', 401, 'alg_not_allowed');
      await no(
        bearer(handmade({ alg: 'HS256', kid: s.kid }, {}, JSON.stringify(s.jwk))),
        'TOKEN_INVALID',
        401,
        'alg_not_allowed',
      );
    }
  });

  it('refuses a signature by another key under a known kid, and an attacker key embedded in the header', async () => {
    const forger = await signer('rsa-1', 'RS256');
    await no(bearer(await token(forger)), 'TOKEN_INVALID', 401, 'bad_signature');
    const evil = await signer('evil', 'RS256');
    await no(bearer(await token(evil, {}, { jwk: evil.jwk })), 'TOKEN_INVALID', 401, 'unknown_kid');
  });

  it('refuses expired, not-yet-valid, wrong-issuer, wrong-audience and exp-less tokens with 401', async () => {
    await no(bearer(await token(rsa, { exp: now() - 60 })), 'TOKEN_INVALID', 401, 'expired');
    await no(bearer(await token(rsa, { nbf: now() + 3600 })), 'TOKEN_INVALID', 401, 'not_yet_valid');
    await no(bearer(await token(rsa, { iss: 'https://evil.example.test' })), 'TOKEN_INVALID', 401, 'wrong_issuer');
    await no(bearer(await token(rsa, { iss: undefined })), 'TOKEN_INVALID', 401, 'wrong_issuer');
    await no(bearer(await token(ec, { aud: 'someone-else' })), 'TOKEN_INVALID', 401, 'wrong_audience');
    await no(bearer(await token(rsa, { exp: undefined })), 'TOKEN_INVALID', 401, 'exp_missing');
    await no(bearer(await token(rsa, { exp: 'tomorrow' })), 'TOKEN_INVALID', 401, 'claim_invalid');
  });

  it('refuses a verified token whose tenant is missing, empty or null with 403, never a default tenant', async () => {
    await no(bearer(await token(rsa, { tenant: undefined })), 'TENANT_MISSING', 403, 'tenant_missing');
    await no(bearer(await token(rsa, { tenant: '' })), 'TENANT_MISSING', 403, 'tenant_missing');
    await no(bearer(await token(rsa, { tenant: null })), 'TENANT_MISSING', 403, 'tenant_missing');
    const polluted = await new CompactSign(
      Buffer.from(`{"iss":"${ISSUER}","aud":"${AUDIENCE}","exp":${now() + 60},"__proto__":{"tenant":"acme"}}`),
    )
      .setProtectedHeader({ alg: 'RS256', kid: 'rsa-1' })
      .sign(rsa.privateKey);
    await no(bearer(polluted), 'TENANT_MISSING', 403, 'tenant_missing');
  });

  it('refuses a tenant that is not a string or does not match the pattern with 403', async () => {
    for (const tenant of [42, ['acme'], { id: 'acme' }, true, 'Acme', '../etc', 'acme corp', 'a'.repeat(64)]) {
      await no(bearer(await token(rsa, { tenant })), 'TENANT_MALFORMED', 403, 'tenant_malformed');
    }
  });

  it("refuses a valid token for tenant A on tenant B's request with 403", async () => {
    await no(bearer(await token(rsa, { tenant: 'acme' }), 'globex'), 'TENANT_MISMATCH', 403, 'tenant_mismatch');
    await no(bearer(await token(rsa), 'ACME'), 'TENANT_MALFORMED', 403, 'tenant_header_malformed');
    await no(
      { ...bearer(await token(rsa)), 'x-tenant-id': ['acme', 'acme'] },
      'TENANT_MALFORMED',
      403,
      'tenant_header_malformed',
    );
  });

  it('requires X-Tenant-ID when configured to', async () => {
    const strict = validator(keys, registry, { tenantHeader: 'required' });
    await refuses(strict, registry, bearer(await token(rsa)), 'TENANT_MISSING', 403, 'tenant_header_missing');
    assert.equal((await strict.validate(bearer(await token(rsa), 'acme'))).tenant, 'acme');
  });

  it('reads the tenant from the configured claim and honours the clock tolerance', async () => {
    const org = validator(keys, registry, { tenantClaim: 'org', clockToleranceSeconds: 120 });
    await refuses(org, registry, bearer(await token(rsa)), 'TENANT_MISSING', 403, 'tenant_missing');
    assert.equal((await org.validate(bearer(await token(rsa, { org: 'initech', exp: now() - 30 })))).tenant, 'initech');
  });

  it('refuses at construction "none", HMAC and unknown algorithms, listing every problem', () => {
    assert.throws(
      () => validator(keys, registry, { algorithms: ['RS256', 'none', 'HS256', 'hs512', 'RS1'], issuer: '' }),
      (err: unknown) => {
        assert.ok(isWardenError(err, 'CONFIG_INVALID'));
        assert.equal((err.details['problems'] as string[]).length, 5);
        return true;
      },
    );
    assert.throws(() => validator(keys, registry, { algorithms: [] }), /pin at least one/);
  });
});

describe('JWKS file source', () => {
  it('re-reads the file once on an unknown kid after a rotation, then accepts the new key', async () => {
    const path = join(dir, 'rotate.jwks.json');
    await writeFile(path, jwks(rsa));
    const keys = await jwksFromFile(path, { watch: false });
    const registry = new Registry();
    const v = validator(keys, registry);
    const next = await signer('rsa-2', 'RS256');
    await writeAtomic(path, jwks(rsa, next));
    assert.equal((await v.validate(bearer(await token(next)))).tenant, 'acme');
    assert.equal(keys.stats().loads, 2);
    await refuses(
      v,
      registry,
      bearer(await token(await signer('rsa-3', 'RS256'))),
      'TOKEN_INVALID',
      401,
      'unknown_kid',
    );
    assert.equal(keys.stats().loads, 2, 'a second unknown kid inside the cooldown reads nothing');
    keys.close();
  });

  it('re-reads the file when it changes, and keeps the last good keys when it turns bad', async () => {
    const path = join(dir, 'watch.jwks.json');
    await writeFile(path, jwks(rsa));
    const keys = await jwksFromFile(path, { refreshCooldownMs: 60_000 });
    const v = validator(keys, new Registry());
    await writeAtomic(path, jwks(rsa, ec));
    await eventually(() => keys.stats().loads >= 2, { timeoutMs: 3000, everyMs: 30, what: 'the JWKS file re-read' });
    assert.equal(keys.stats().loads, 2, 'the change was seen');
    assert.equal((await v.validate(bearer(await token(ec)))).tenant, 'acme');
    await writeFile(path, '{"keys": [');
    assert.equal(await keys.reload(), false);
    assert.equal(keys.stats().failures >= 1, true);
    assert.equal((await v.validate(bearer(await token(ec)))).tenant, 'acme');
    keys.close();
  });

  it('refuses to start on a missing file, non-JSON, a secret key or a private key', async () => {
    const cases = {
      'nojson.json': 'nope',
      'oct.json': '{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}',
      'priv.json': JSON.stringify({ keys: [{ ...rsa.jwk, d: 'AQAB' }] }),
    };
    for (const [name, text] of Object.entries(cases)) await writeFile(join(dir, name), text);
    for (const name of ['missing.json', ...Object.keys(cases)]) {
      await assert.rejects(jwksFromFile(join(dir, name), { watch: false }), (err: unknown) =>
        isWardenError(err, 'JWKS_UNAVAILABLE'),
      );
    }
  });
});

describe('JWKS URL source', () => {
  let server: Server;
  let served = '';
  let requests = 0;
  let url = '';
  before(async () => {
    server = createServer((_req, res) => {
      requests++;
      res.writeHead(200, { 'content-type': 'application/json' }).end(served);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  it('fetches the set once, caches it, and refetches on an unknown kid after the cooldown', async () => {
    served = jwks(rsa);
    const v = validator(jwksFromUrl(url, { cooldownMs: 0 }), new Registry());
    for (let i = 0; i < 3; i++) assert.equal((await v.validate(bearer(await token(rsa)))).tenant, 'acme');
    assert.equal(requests, 1);
    served = jwks(rsa, ec);
    assert.equal((await v.validate(bearer(await token(ec)))).tenant, 'acme');
    assert.equal(requests, 2);
  });

  it('refuses with 503 when the key server is unreachable, and refuses plain http off loopback', async () => {
    const dead = createServer();
    await new Promise<void>((r) => dead.listen(0, '127.0.0.1', r));
    const port = (dead.address() as AddressInfo).port;
    await new Promise<void>((r) => dead.close(() => r()));
    const registry = new Registry();
    const v = validator(jwksFromUrl(`http://127.0.0.1:${port}/jwks.json`, { timeoutMs: 1_000 }), registry);
    await refuses(v, registry, bearer(await token(rsa)), 'JWKS_UNAVAILABLE', 503, 'jwks_unavailable');
    assert.throws(
      () => jwksFromUrl('http://idp.example.test/jwks.json'),
      (err: unknown) => isWardenError(err, 'CONFIG_INVALID'),
    );
  });
});
