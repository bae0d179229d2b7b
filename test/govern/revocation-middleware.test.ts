import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import { createClient, type RedisClientType } from 'redis';
import { startAgent, type RunningAgent } from '../../src/agent/agent.js';
import { parseConfig } from '../../src/config/load.js';
import { wardenGovernance } from '../../src/govern/middleware/fastify.js';
import { revoke } from '../../src/govern/tenant/revocation-keys.js';
import { createLogger } from '../../src/observe/logger.js';
import { tempDir } from '../helpers/fs.js';
import { exampleGovernanceYaml } from '../helpers/governance.js';
import { RedisServer } from '../helpers/redis-server.js';
import { eventually } from '../helpers/wait.js';

const ISSUER = 'https://idp.example.test';
const AUDIENCE = 'orders-api';
const PREFIX = 'orders:';

describe('a revoked token through the Fastify governance plugin over HTTP (agent config, real redis-server)', () => {
  let redis: RedisServer;
  let writer: RedisClientType;
  let agent: RunningAgent;
  let app: FastifyInstance;
  let url: string;
  let privateKey: CryptoKey;
  let calls = 0;
  const token = (jti: string, sid: string): Promise<string> =>
    new SignJWT({ tenant: 'acme', sid })
      .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setSubject('alice')
      .setJti(jti)
      .setExpirationTime('5m')
      .sign(privateKey);
  const get = async (t: string): Promise<{ status: number; code?: string; challenge: string | null }> => {
    const res = await fetch(`${url}/m/billing/read?resource=acme/invoices/1`, {
      headers: { authorization: `Bearer ${t}` },
    });
    const body = (await res.json()) as { code?: string };
    return { status: res.status, code: body.code, challenge: res.headers.get('www-authenticate') };
  };

  before(async () => {
    redis = await RedisServer.start();
    writer = createClient({ url: redis.url });
    await writer.connect();
    const keys = await generateKeyPair('ES256', { extractable: true });
    privateKey = keys.privateKey;
    const dir = tempDir('warden-revocation-mw-');
    const jwksFile = join(dir, 'jwks.json');
    await writeFile(
      jwksFile,
      JSON.stringify({ keys: [{ ...(await exportJWK(keys.publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' }] }),
    );
    const yaml = await exampleGovernanceYaml(dir, {
      tenants:
        `{ issuer: "${ISSUER}", audience: ${AUDIENCE}, algorithms: [ES256], jwks_file: ${jwksFile}, ` +
        `revocation: { redis: { url: "${redis.url}" }, key_prefix: "${PREFIX}", refresh_seconds: 0.2, on_stale: fail_closed } }`,
    });
    agent = await startAgent(parseConfig(yaml, join(dir, 'agent.yaml')), createLogger('silent'));
    app = Fastify();
    const governance = agent.governance;
    assert.ok(governance);
    await app.register(wardenGovernance, {
      governance,
      context: (request) => {
        const [, , module = '', action = ''] = new URL(request.url, 'http://x').pathname.split('/');
        return { module, action, resource: 'acme/invoices/1' };
      },
    });
    app.get('/m/:module/:action', () => ({ ok: (calls += 1) }));
    await app.listen({ host: '127.0.0.1', port: 0 });
    url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await app?.close();
    await agent?.close();
    writer?.destroy();
    await redis?.stop();
  });

  it('lets the token through, then refuses it with 401 TOKEN_REVOKED once its jti is revoked (the cached verification too)', async () => {
    const t = await token('jti-1', 'session-1');
    await eventually(async () => (await get(t)).status === 200, { what: 'the first revocation read' });
    assert.equal((await get(t)).status, 200, 'served from the verified-token cache');
    await revoke(writer, PREFIX, 'jti', 'jti-1', Date.now() / 1000 + 300);
    await eventually(async () => (await get(t)).code === 'TOKEN_REVOKED', { timeoutMs: 2_000 });
    const refused = await get(t);
    assert.equal(refused.status, 401);
    assert.match(refused.challenge ?? '', /^Bearer error="invalid_token"/);
    const handled = calls;
    await get(t);
    assert.equal(calls, handled, 'the handler never runs for a revoked token');
    assert.equal((await get(await token('jti-2', 'session-2'))).status, 200, 'other tokens pass');
  });

  it('refuses every token of a revoked session (sid)', async () => {
    const t = await token('jti-3', 'session-3');
    assert.equal((await get(t)).status, 200);
    await revoke(writer, PREFIX, 'sid', 'session-3', Date.now() / 1000 + 300);
    await eventually(async () => (await get(t)).code === 'TOKEN_REVOKED', { timeoutMs: 2_000 });
    assert.equal((await get(await token('jti-4', 'session-3'))).code, 'TOKEN_REVOKED');
  });
});
