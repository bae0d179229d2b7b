import assert from 'node:assert/strict';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { Registry } from 'prom-client';
import { isWardenError } from '../../src/errors.js';
import { jwksFromFile } from '../../src/govern/tenant/jwks-file.js';
import { jwksFromUrl, type JwksSource } from '../../src/govern/tenant/jwks.js';
import { createTenantValidator, type TenantValidator } from '../../src/govern/tenant/tenant.js';
import { tempDir } from '../helpers/fs.js';

const ISSUER = 'https://idp.example.test';
const AUDIENCE = 'orders-api';

interface Key {
  kid: string;
  privateKey: CryptoKey;
  jwk: JWK;
}
async function key(kid: string): Promise<Key> {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  return { kid, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' } };
}
const jwks = (...keys: Key[]): string => JSON.stringify({ keys: keys.map((k) => k.jwk) });
const token = (by: Key, tenant: string): Promise<string> =>
  new SignJWT({ tenant })
    .setProtectedHeader({ alg: 'ES256', kid: by.kid })
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setSubject(`${tenant}-user`)
    .setExpirationTime('5m')
    .sign(by.privateKey);
const bearer = (t: string): { authorization: string } => ({ authorization: `Bearer ${t}` });

/** The source with its key lookups counted: a lookup means the token was verified, not served from the cache. */
function counted(source: JwksSource): JwksSource & { lookups: () => number } {
  let lookups = 0;
  return {
    getKey: (h, t) => ((lookups += 1), source.getKey(h, t)),
    close: () => source.close(),
    onChange: (listener) => source.onChange?.(listener) ?? (() => undefined),
    lookups: () => lookups,
  };
}

function validator(keys: JwksSource, registry: Registry): TenantValidator {
  return createTenantValidator({
    issuer: ISSUER,
    audience: AUDIENCE,
    algorithms: ['ES256'],
    keys,
    registry,
    tokenCacheSeconds: 3600,
  });
}

async function forgotten(registry: Registry, reason: string): Promise<number> {
  const data = await registry.getSingleMetric('governance_token_cache_forgotten_total')?.get();
  return data?.values.find((v) => v.labels['reason'] === reason)?.value ?? 0;
}

/** Validates and returns how many key lookups (verifications) it took. */
async function lookupsFor(v: TenantValidator, keys: { lookups: () => number }, t: string): Promise<number> {
  const before = keys.lookups();
  await v.validate(bearer(t));
  return keys.lookups() - before;
}

describe('verified-token cache flushes on JWKS and tenant changes', () => {
  let k1: Key;
  let k2: Key;
  before(async () => {
    [k1, k2] = await Promise.all([key('k1'), key('k2')]);
  });

  it('a JWKS file rotation drops only the tokens of the changed kid; forgetTenants only those tenants', async () => {
    const path = join(tempDir('warden-flush-'), 'jwks.json');
    await writeFile(path, jwks(k1, k2));
    const file = await jwksFromFile(path, { watch: false });
    const keys = counted(file);
    const registry = new Registry();
    const v = validator(keys, registry);
    const acmeK1 = await token(k1, 'acme');
    const globexK2 = await token(k2, 'globex');
    const acmeK2 = await token(k2, 'acme');
    for (const t of [acmeK1, globexK2, acmeK2]) assert.equal(await lookupsFor(v, keys, t), 1, 'verified once');
    for (const t of [acmeK1, globexK2, acmeK2]) assert.equal(await lookupsFor(v, keys, t), 0, 'then cached');

    // k1 rotated under the same kid: a token signed by the old k1 no longer verifies.
    const k1b = await key('k1');
    await writeFile(path, jwks(k1b, k2));
    assert.equal(await file.reload(), true);
    assert.equal(await forgotten(registry, 'jwks_change'), 1, "only the k1 token's entry");
    await assert.rejects(v.validate(bearer(acmeK1)), (err: unknown) => isWardenError(err, 'TOKEN_INVALID'));
    assert.equal(await lookupsFor(v, keys, globexK2), 0, 'k2 tokens stay cached');
    assert.equal(await lookupsFor(v, keys, acmeK2), 0);

    // Re-reading the same keys changes nothing.
    assert.equal(await file.reload(), true);
    assert.equal(await forgotten(registry, 'jwks_change'), 1);

    // acme's configuration changed: its tokens are verified again, globex's are not.
    assert.equal(v.forgetTenants(['acme']), 1);
    assert.equal(await forgotten(registry, 'tenant_change'), 1);
    assert.equal(await lookupsFor(v, keys, acmeK2), 1);
    assert.equal(await lookupsFor(v, keys, globexK2), 0);
    v.close();
    file.close();
  });

  describe('a JWKS URL', () => {
    let server: Server;
    let body = '';
    before(async () => {
      server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(body));
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
    });
    after(() => new Promise<void>((resolve) => server.close(() => resolve())));

    it('a refetched set that dropped a key drops the cached tokens of that kid', async () => {
      const k3 = await key('k3');
      body = jwks(k1, k2);
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`;
      const keys = counted(jwksFromUrl(url, { cooldownMs: 0 }));
      const registry = new Registry();
      const v = validator(keys, registry);
      const acmeK1 = await token(k1, 'acme');
      const globexK2 = await token(k2, 'globex');
      await v.validate(bearer(acmeK1));
      await v.validate(bearer(globexK2));

      // The provider retires k1 and adds k3; a k3 token makes jose refetch the set.
      body = jwks(k2, k3);
      await v.validate(bearer(await token(k3, 'initech')));
      assert.equal(await forgotten(registry, 'jwks_change'), 1);
      await assert.rejects(v.validate(bearer(acmeK1)), (err: unknown) => isWardenError(err, 'TOKEN_INVALID'));
      assert.equal(await lookupsFor(v, keys, globexK2), 0, 'the k2 token stays cached');
      v.close();
    });
  });
});
