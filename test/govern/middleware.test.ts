import assert from 'node:assert/strict';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import express, { type NextFunction, type Request, type Response } from 'express';
import Fastify, { type FastifyInstance } from 'fastify';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import { startAgent, type RunningAgent } from '../../src/agent/agent.js';
import { parseConfig } from '../../src/config/load.js';
import type { Governance } from '../../src/govern/verdict/governance.js';
import { createEnforcer, type RequestAction } from '../../src/govern/middleware/enforce.js';
import { wardenExpress } from '../../src/govern/middleware/express.js';
import { wardenGovernance } from '../../src/govern/middleware/fastify.js';
import { createLogger } from '../../src/observe/logger.js';
import { tempDir } from '../helpers/fs.js';
import { exampleGovernanceYaml } from '../helpers/governance.js';
import { rawRequest } from '../helpers/raw-http.js';

const ISSUER = 'https://idp.example.test';
const AUDIENCE = 'orders-api';

/** An agent over copies of the example governance and kill-switch packs (directory sources, unsigned). */
async function governedAgent(tenants?: { jwksFile: string }): Promise<RunningAgent> {
  const dir = tempDir('warden-middleware-');
  const yaml = await exampleGovernanceYaml(dir, {
    tenants: tenants
      ? `{ issuer: "${ISSUER}", audience: ${AUDIENCE}, algorithms: [ES256], jwks_file: ${tenants.jwksFile} }`
      : undefined,
  });
  return startAgent(parseConfig(yaml, join(dir, 'agent.yaml')), createLogger('silent'));
}

/** What the test services do: GET /m/<module>/<action>?resource=…&purpose=…; /boom is a bug in the service. */
function contextOf(url: string, subject?: string): RequestAction {
  const u = new URL(url, 'http://service.test');
  if (u.pathname === '/boom') throw new Error('context bug');
  const [, , module = '', action = ''] = u.pathname.split('/');
  return {
    module,
    action,
    resource: u.searchParams.get('resource') ?? undefined,
    purpose: u.searchParams.get('purpose') ?? undefined,
    subject,
  };
}

/** A service with the governance step mounted, and how often its handler ran. */
interface Mount {
  readonly name: string;
  readonly url: string;
  readonly calls: () => number;
  close(): Promise<void>;
}

async function fastifyService(agent: RunningAgent, subject?: string): Promise<Mount> {
  let calls = 0;
  const app: FastifyInstance = Fastify();
  await app.register(wardenGovernance, {
    governance: governanceOf(agent),
    metrics: agent.metrics,
    context: (request) => contextOf(request.url, subject),
    exclude: (url) => url === '/healthz',
  });
  app.get('/healthz', () => ({ ok: true, governance: app.hasRequestDecorator('governance') }));
  app.get('/m/:module/:action', (request) => {
    calls++;
    const g = request.governance;
    return {
      tenant: g?.tenant,
      subject: g?.subject,
      decision_id: g?.verdict.decisionId,
      claims_tenant: g?.claims?.['tenant'],
    };
  });
  app.get('/boom', () => {
    calls++;
    return {};
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  return {
    name: 'fastify',
    url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`,
    calls: () => calls,
    close: () => app.close(),
  };
}

async function expressService(agent: RunningAgent, subject?: string): Promise<Mount> {
  let calls = 0;
  const app = express();
  app.use(
    wardenExpress({
      governance: governanceOf(agent),
      metrics: agent.metrics,
      context: (req: IncomingMessage) => contextOf(req.url ?? '/', subject),
    }),
  );
  app.get('/m/:module/:action', (req: Request, res: Response) => {
    calls++;
    const g = req.governance;
    res.json({
      tenant: g?.tenant,
      subject: g?.subject,
      decision_id: g?.verdict.decisionId,
      claims_tenant: g?.claims?.['tenant'],
    });
  });
  app.get('/boom', (_req: Request, res: Response) => {
    calls++;
    res.json({});
  });
  app.use((err: Error, _req: Request, res: Response, _next: NextFunction) => {
    res.status(500).json({ code: 'SERVICE_ERROR', message: err.message });
  });
  const server: Server = createServer(app);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    name: 'express',
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    calls: () => calls,
    close: () => new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve()))),
  };
}

function governanceOf(agent: RunningAgent): Governance {
  assert.ok(agent.governance, 'the agent has a governance: block');
  return agent.governance;
}

interface Answer {
  status: number;
  headers: Headers;
  body: {
    code?: string;
    message?: string;
    details?: Record<string, unknown>;
    tenant?: string;
    subject?: string;
    decision_id?: string;
    claims_tenant?: string;
  };
}
async function get(mount: Mount, path: string, headers: Headers | Record<string, string> = {}): Promise<Answer> {
  const res = await fetch(`${mount.url}${path}`, { headers });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Answer['body'] };
}

/** Asserts the request was refused with this status and code, without the handler running. */
async function refused(
  mount: Mount,
  path: string,
  headers: Headers | Record<string, string>,
  status: number,
  code: string,
): Promise<Answer> {
  const before = mount.calls();
  const answer = await get(mount, path, headers);
  assert.equal(answer.status, status, `${mount.name} ${path}: ${JSON.stringify(answer.body)}`);
  assert.equal(answer.body.code, code, mount.name);
  assert.equal(typeof answer.body.message, 'string');
  assert.equal(mount.calls(), before, `${mount.name}: the handler must not run on a refusal`);
  return answer;
}

describe('governance middleware with verified tenants (JWT)', () => {
  let agent: RunningAgent;
  let mounts: Mount[] = [];
  let privateKey: CryptoKey;
  const token = (tenant: string, sub = 'alice'): Promise<string> =>
    new SignJWT({ tenant })
      .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setSubject(sub)
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(privateKey);
  const as = async (tenant: string, extra: Record<string, string> = {}): Promise<Record<string, string>> => ({
    authorization: `Bearer ${await token(tenant)}`,
    ...extra,
  });

  before(async () => {
    const keys = await generateKeyPair('ES256', { extractable: true });
    privateKey = keys.privateKey;
    const jwksFile = join(tempDir('warden-jwks-'), 'jwks.json');
    await writeFile(
      jwksFile,
      JSON.stringify({ keys: [{ ...(await exportJWK(keys.publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' }] }),
    );
    agent = await governedAgent({ jwksFile });
    mounts = [await fastifyService(agent), await expressService(agent)];
  });
  after(async () => {
    await Promise.all(mounts.map((m) => m.close()));
    await agent?.close();
  });

  it('lets an allowed request through; the handler sees the tenant, subject and claims of the token', async () => {
    for (const m of mounts) {
      const before = m.calls();
      const answer = await get(m, '/m/billing/read?resource=acme/invoices/1', await as('acme'));
      assert.equal(answer.status, 200, `${m.name}: ${JSON.stringify(answer.body)}`);
      assert.equal(answer.body.tenant, 'acme');
      assert.equal(answer.body.subject, 'alice');
      assert.equal(answer.body.claims_tenant, 'acme');
      assert.match(answer.body.decision_id ?? '', /^[0-9a-f-]{36}$/);
      assert.equal(answer.headers.get('x-warden-decision-id'), answer.body.decision_id);
      assert.equal(m.calls(), before + 1);
    }
  });

  it('refuses a denied request with 403 POLICY_DENIED, its reasons and decision id', async () => {
    for (const m of mounts) {
      const answer = await refused(m, '/m/reporting/export', await as('acme'), 403, 'POLICY_DENIED');
      assert.deepEqual(answer.body.details?.['reasons'], ['module_not_enabled']);
      assert.match(String(answer.body.details?.['decision_id']), /^[0-9a-f-]{36}$/);
      assert.equal(answer.headers.get('x-warden-decision-id'), answer.body.details?.['decision_id']);
      await refused(m, '/m/billing/read?resource=globex/invoices/1', await as('acme'), 403, 'POLICY_DENIED');
    }
  });

  it('takes the purpose from X-Purpose when the service gives none', async () => {
    for (const m of mounts) {
      const denied = await refused(m, '/m/ai_inference/invoke', await as('acme'), 403, 'POLICY_DENIED');
      assert.deepEqual(denied.body.details?.['reasons'], ['purpose_required']);
      const allowed = await get(m, '/m/ai_inference/invoke', await as('acme', { 'x-purpose': 'fraud_detection' }));
      assert.equal(allowed.status, 200, m.name);
    }
  });

  it('refuses a module behind an active kill switch with 503 KILL_SWITCH_ACTIVE', async () => {
    for (const m of mounts) {
      const answer = await refused(
        m,
        '/m/ai_training/train',
        await as('globex', { 'x-purpose': 'model_improvement' }),
        503,
        'KILL_SWITCH_ACTIVE',
      );
      assert.equal(answer.body.details?.['module'], 'ai_training');
      assert.equal(answer.body.details?.['reason'], 'training paused pending model review');
      assert.equal(typeof answer.body.details?.['source'], 'string');
      assert.equal(answer.headers.get('x-warden-decision-id'), answer.body.details?.['decision_id']);
    }
  });

  it('refuses a request without a token with 401 and a Bearer challenge, and a bad token with invalid_token', async () => {
    for (const m of mounts) {
      const none = await refused(m, '/m/billing/read', {}, 401, 'TOKEN_INVALID');
      assert.equal(none.headers.get('www-authenticate'), 'Bearer');
      assert.equal(none.headers.get('x-warden-decision-id'), null, 'no verdict, no decision id');
      const bad = await refused(m, '/m/billing/read', { authorization: 'Bearer not.a.jwt' }, 401, 'TOKEN_INVALID');
      assert.match(bad.headers.get('www-authenticate') ?? '', /^Bearer error="invalid_token"/);
    }
  });

  it('refuses a request that sends Authorization twice with 401 TOKEN_INVALID, never picking one', async () => {
    const acme = `Bearer ${await token('acme')}`;
    const globex = `Bearer ${await token('globex')}`;
    for (const m of mounts) {
      const before = m.calls();
      for (const pair of [
        [acme, globex],
        [globex, acme],
      ]) {
        const answer = await rawRequest(`${m.url}/m/billing/read`, { headers: { authorization: pair } });
        assert.equal(answer.status, 401, `${m.name}: ${answer.text}`);
        assert.equal(answer.body.code, 'TOKEN_INVALID');
        assert.equal((answer.body.details as { reason?: string } | undefined)?.reason, 'authorization_repeated');
      }
      assert.equal(m.calls(), before, `${m.name}: the handler must not run`);
    }
  });

  it("refuses acme's token addressed to globex (X-Tenant-ID) with 403 TENANT_MISMATCH", async () => {
    for (const m of mounts) {
      const answer = await refused(
        m,
        '/m/billing/read',
        await as('acme', { 'x-tenant-id': 'globex' }),
        403,
        'TENANT_MISMATCH',
      );
      assert.equal(answer.body.details?.['reason'], 'tenant_mismatch');
      const same = await get(m, '/m/billing/read', await as('acme', { 'x-tenant-id': 'acme' }));
      assert.equal(same.status, 200, m.name);
    }
  });

  it('skips excluded URLs (Fastify) and sends an unexpected error to the framework, not to the handler', async () => {
    const [fastify, expressMount] = mounts as [Mount, Mount];
    const health = await get(fastify, '/healthz');
    assert.equal(health.status, 200);
    for (const m of [fastify, expressMount]) {
      const before = m.calls();
      const answer = await get(m, '/boom', await as('acme'));
      assert.equal(answer.status, 500, m.name);
      assert.equal(answer.body.message, 'context bug');
      assert.equal(m.calls(), before);
    }
  });

  it('observes the governance step in http_request_duration_seconds{middleware="governance"}', async () => {
    const text = await agent.metrics.registry.metrics();
    const count = (labels: string): number =>
      Number(new RegExp(`^http_request_duration_seconds_count\\{${labels}\\} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
    assert.ok(count('route="/m/:module/:action",method="GET",status_code="200",middleware="governance"') >= 3, text);
    assert.ok(count('route="/m/:module/:action",method="GET",status_code="403",middleware="governance"') >= 3);
    assert.ok(count('route="/m/:module/:action",method="GET",status_code="503",middleware="governance"') >= 1);
    assert.ok(count('route="/m/:module/:action",method="GET",status_code="401",middleware="governance"') >= 2);
    assert.ok(count('route="governance",method="GET",status_code="200",middleware="governance"') >= 3);
    assert.ok(count('route="governance",method="GET",status_code="403",middleware="governance"') >= 3);
    assert.ok(
      count('route="governance",method="GET",status_code="500",middleware="governance"') >= 1,
      'a bug is observed as 500',
    );
  });
});

describe('governance middleware without tenant verification (X-Tenant-ID)', () => {
  let agent: RunningAgent;
  let mounts: Mount[] = [];

  before(async () => {
    agent = await governedAgent();
    mounts = [await fastifyService(agent, 'svc-orders'), await expressService(agent, 'svc-orders')];
  });
  after(async () => {
    await Promise.all(mounts.map((m) => m.close()));
    await agent?.close();
  });

  it('refuses a request without X-Tenant-ID with 403 TENANT_MISSING: there is no default tenant', async () => {
    for (const m of mounts) {
      const answer = await refused(m, '/m/billing/read', {}, 403, 'TENANT_MISSING');
      assert.equal(answer.headers.get('www-authenticate'), null);
    }
  });

  it('refuses a repeated or malformed X-Tenant-ID with 403 TENANT_MALFORMED', async () => {
    for (const m of mounts) {
      const twice = new Headers();
      twice.append('x-tenant-id', 'acme');
      twice.append('x-tenant-id', 'globex');
      await refused(m, '/m/billing/read', twice, 403, 'TENANT_MALFORMED');
      await refused(m, '/m/billing/read', { 'x-tenant-id': 'ACME' }, 403, 'TENANT_MALFORMED');
    }
  });

  it("takes the tenant from X-Tenant-ID and the subject from the service's context", async () => {
    for (const m of mounts) {
      const answer = await get(m, '/m/billing/read', { 'x-tenant-id': 'globex' });
      assert.equal(answer.status, 200, m.name);
      assert.equal(answer.body.tenant, 'globex');
      assert.equal(answer.body.subject, 'svc-orders');
      assert.equal(answer.body.claims_tenant, undefined);
      const suspended = await refused(m, '/m/billing/read', { 'x-tenant-id': 'initech' }, 403, 'POLICY_DENIED');
      assert.deepEqual(suspended.body.details?.['reasons'], ['tenant_suspended']);
    }
  });

  it('answers as data without a framework, and refuses bad options with CONFIG_INVALID', async () => {
    const enforce = createEnforcer({
      governance: governanceOf(agent),
      context: () => ({ module: 'identity', action: 'read', subject: 'svc' }),
    });
    const pass = await enforce({ 'x-tenant-id': 'acme' }, { headers: {} });
    assert.ok(pass.ok);
    assert.equal(pass.governance.tenant, 'acme');
    assert.equal(pass.headers['x-warden-decision-id'], pass.governance.verdict.decisionId);
    const noSubject = await createEnforcer({
      governance: governanceOf(agent),
      context: () => ({ module: 'identity', action: 'read' }),
    })({ 'x-tenant-id': 'acme' }, { headers: {} });
    assert.ok(!noSubject.ok);
    assert.equal(noSubject.status, 400);
    assert.equal(noSubject.body.code, 'DECISION_INPUT_INVALID');
    assert.throws(
      () => createEnforcer({ governance: governanceOf(agent), context: 'billing' as never }),
      (err: unknown) => (err as { code?: string }).code === 'CONFIG_INVALID',
    );
  });
});
