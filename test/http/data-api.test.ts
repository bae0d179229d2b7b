import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { startAgent, type RunningAgent } from '../../src/agent/agent.js';
import { parseConfig } from '../../src/config/load.js';
import { WardenError } from '../../src/errors.js';
import { createLogger } from '../../src/observe/logger.js';
import { signPack } from '../../src/sign/sign.js';
import { tempDir } from '../helpers/fs.js';
import { eventually } from '../helpers/wait.js';
import { p256 } from '../helpers/packs.js';
import { variant } from '../helpers/variants.js';

describe('OPA data API', () => {
  let agent: RunningAgent;

  before(async () => {
    const dir = tempDir();
    const key = p256();
    const pack = await variant(7, { minLevel: 3 });
    await writeFile(join(dir, 'app.tar.gz'), pack);
    await writeFile(join(dir, 'app.tar.gz.sigstore.json'), JSON.stringify(await signPack(pack, key.privateKey)));
    await writeFile(join(dir, 'policy.pub'), key.publicPem);
    const config = parseConfig(
      'listen: 127.0.0.1:0\ndata_dir: data\nlimits: { max_body_bytes: 2097152 }\npacks:\n  - name: app\n    source: { file: { path: app.tar.gz } }\n    verify: { public_keys: [policy.pub] }\n',
      join(dir, 'agent.yaml'),
    );
    agent = await startAgent(config, createLogger('silent'));
  });

  after(() => agent.close());

  // POSTs a body to a data path.
  const post = (path: string, body: string, headers: Record<string, string> = { 'content-type': 'application/json' }) =>
    fetch(`${agent.url}/v1/data/${path}`, { method: 'POST', body, headers });

  it('answers POST /v1/verdict with 404 GOVERNANCE_DISABLED when no governance: block is configured', async () => {
    const res = await fetch(`${agent.url}/v1/verdict`, { method: 'POST', body: '{"tenant":"acme"}' });
    assert.equal(res.status, 404);
    assert.equal(((await res.json()) as { code: string }).code, 'GOVERNANCE_DISABLED');
    assert.equal(agent.governance, undefined);
  });

  it('answers {result, decision_id} and names the pack version in headers', async () => {
    const res = await post('app/allow', '{"input":{"level":5}}');
    assert.equal(res.status, 200);
    const body = (await res.json()) as { result: boolean; decision_id: string };
    assert.equal(body.result, true);
    assert.match(body.decision_id, /^[0-9a-f-]{36}$/);
    assert.equal(res.headers.get('x-warden-revision'), 'v7');
    assert.match(res.headers.get('x-warden-digest') ?? '', /^sha256:[0-9a-f]{64}$/);
  });

  it('evaluates without input when the body is empty, as OPA does', async () => {
    const body = (await (await post('app/allow', '')).json()) as { result: boolean };
    assert.equal(body.result, false);
  });

  it('reads the body as JSON whatever the content type (curl -d sends form encoding)', async () => {
    const res = await post('app/allow', '{"input":{"level":9}}', {
      'content-type': 'application/x-www-form-urlencoded',
    });
    assert.deepEqual(((await res.json()) as { result: boolean }).result, true);
  });

  it('answers an undefined result with the decision id alone, as OPA does', async () => {
    const undefinedTier = (await (await post('app/tier', '{"input":{"level":1}}')).json()) as object;
    assert.deepEqual(Object.keys(undefinedTier), ['decision_id']);
    const definedTier = (await (await post('app/tier', '{"input":{"level":10}}')).json()) as { result: string };
    assert.equal(definedTier.result, 'gold');
  });

  it('answers a rule the pack does not define as undefined (200, the decision id alone), as OPA does', async () => {
    const res = await post('app/nope', '{"input":{}}');
    assert.equal(res.status, 200);
    assert.deepEqual(Object.keys((await res.json()) as object), ['decision_id']);
    assert.equal(res.headers.get('x-warden-revision'), 'v7', 'the pack owning the path answered');
    const unowned = await post('nobody/here', '{"input":{}}');
    assert.equal(unowned.status, 200);
    assert.deepEqual(Object.keys((await unowned.json()) as object), ['decision_id']);
    assert.equal(unowned.headers.get('x-warden-pack'), null, 'no pack owns the path');
  });

  it('refuses a body that is not JSON, or not an object, with 400 DECISION_INPUT_INVALID', async () => {
    for (const bad of ['{"input":', '[1,2]', '"text"']) {
      const res = await post('app/allow', bad);
      assert.equal(res.status, 400, bad);
      const body = (await res.json()) as { code: string; warden_code: string };
      assert.deepEqual([body.code, body.warden_code], ['invalid_parameter', 'DECISION_INPUT_INVALID'], bad);
    }
  });

  it("takes bodies up to limits.max_body_bytes and refuses a larger one with OPA's 400 naming the key", async () => {
    const ok = await post('app/allow', JSON.stringify({ input: { level: 5, pad: 'x'.repeat(1536 * 1024) } }));
    assert.equal(ok.status, 200, 'a 1.5 MiB body (over the old fixed 1 MiB) is taken');
    const res = await post('app/allow', JSON.stringify({ input: { pad: 'x'.repeat(2 * 1024 * 1024) } }));
    assert.equal(res.status, 400, 'OPA answers a body over its limit with 400 invalid_parameter');
    const body = (await res.json()) as { code: string; warden_code: string; details: { key: string; limit: number } };
    assert.deepEqual(
      [body.code, body.warden_code, body.details],
      ['invalid_parameter', 'DECISION_INPUT_INVALID', { limit: 2097152, key: 'limits.max_body_bytes' }],
    );
  });

  it('inflates a gzip body, refuses one that inflates past the limit or does not inflate (400, as OPA)', async () => {
    const zipped = (text: string): Uint8Array => new Uint8Array(gzipSync(text));
    const send = (body: Uint8Array) =>
      fetch(`${agent.url}/v1/data/app/allow`, {
        method: 'POST',
        body,
        headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
      });
    const ok = await send(zipped('{"input":{"level":5}}'));
    assert.equal(ok.status, 200);
    assert.equal(((await ok.json()) as { result: boolean }).result, true);
    const bomb = zipped(JSON.stringify({ input: { pad: ' '.repeat(3 * 1024 * 1024) } }));
    assert.ok(bomb.length < 10_000, `a small bomb: ${bomb.length} bytes`);
    const big = await send(bomb);
    assert.equal(big.status, 400);
    assert.equal(((await big.json()) as { warden_code: string }).warden_code, 'DECISION_INPUT_INVALID');
    const corrupt = await send(new TextEncoder().encode('not gzip at all'));
    assert.equal(corrupt.status, 400);
    const body = (await corrupt.json()) as { code: string; warden_code: string };
    assert.deepEqual([body.code, body.warden_code], ['invalid_parameter', 'DECISION_INPUT_INVALID']);
    const other = await fetch(`${agent.url}/v1/data/app/allow`, {
      method: 'POST',
      body: '{}',
      headers: { 'content-encoding': 'br' },
    });
    assert.equal(other.status, 400);
  });

  it('gzips an answer of 1 KiB or more when the client accepts gzip, and never a small one', async () => {
    const metrics = await fetch(`${agent.url}/metrics`, { headers: { 'accept-encoding': 'gzip' } });
    assert.equal(metrics.headers.get('content-encoding'), 'gzip');
    assert.match(await metrics.text(), /opa_client_latency_seconds/, 'fetch inflates it back');
    const plain = await fetch(`${agent.url}/metrics`, { headers: { 'accept-encoding': 'identity' } });
    assert.equal(plain.headers.get('content-encoding'), null);
    const small = await post('app/allow', '{"input":{"level":5}}', {
      'content-type': 'application/json',
      'accept-encoding': 'gzip',
    });
    assert.equal(small.headers.get('content-encoding'), null);
  });

  it('answers an in-process input too deep for the engine with INPUT_TOO_DEEP (a usage error), not DECISION_FAILED', async () => {
    let deep: unknown = 1;
    for (let i = 0; i < 200_000; i++) deep = [deep];
    const err = await agent.decider.decideAsync('app/allow', { level: deep }).then(
      () => undefined,
      (e: unknown) => e as WardenError,
    );
    assert.equal(err?.code, 'INPUT_TOO_DEEP');
    assert.equal(err.kind, 'usage');
    assert.equal(err.details.entrypoint, 'app/allow');
    const next = await agent.decider.decideAsync('app/allow', { level: 5 });
    assert.equal(next.result, true, 'the engine answers the next decision');
  });

  it('reports the decision workers in /healthz', async () => {
    const health = (await (await fetch(`${agent.url}/healthz`)).json()) as {
      decision_workers: { size: number; ready: number; loading: number; down: number };
    };
    const w = health.decision_workers;
    assert.ok(w.size >= 1, JSON.stringify(w));
    assert.deepEqual(w, { size: w.size, ready: w.size, loading: 0, down: 0 });
  });

  it("answers OPA's /health: {} while up; ?plugins is 500 while a decision worker is down unless excluded", async () => {
    const health = async (q: string): Promise<[number, unknown]> => {
      const res = await fetch(`${agent.url}/health${q}`);
      return [res.status, await res.json()];
    };
    for (const q of ['', '?bundles', '?plugins', '?bundles=true&plugins=true'])
      assert.deepEqual(await health(q), [200, {}], q);
    const pool = agent.decisionWorkers;
    assert.ok(pool);
    // A worker killed and not yet replaced (replacement waits its backoff): the plugin is down.
    await pool.killWorker(0);
    assert.deepEqual(await health('?plugins'), [
      500,
      { error: 'one or more plugins are not up', warden_code: 'NOT_READY' },
    ]);
    assert.deepEqual(await health('?plugins&exclude-plugin=decision_workers'), [200, {}]);
    assert.deepEqual(await health('?bundles'), [200, {}], 'every pack is active');
    await eventually(async () => (await health('?plugins'))[0] === 200, { what: 'the worker replaced' });
  });

  it('refuses a synchronous decision on a pack the decision workers answer with DECISION_ASYNC_ONLY', () => {
    assert.throws(
      () => agent.decider.decide('app/allow', { level: 5 }),
      (e: unknown) => e instanceof WardenError && e.code === 'DECISION_ASYNC_ONLY',
    );
  });

  it('counts decisions in opa_client_latency_seconds', async () => {
    const text = await (await fetch(`${agent.url}/metrics`)).text();
    const count = /^opa_client_latency_seconds_count\{pack="app",engine="wasm"\} (\d+)$/m.exec(text)?.[1];
    assert.ok(Number(count) >= 3, `count ${count}`);
  });
});
