/**
 * OPA's REST calls beyond `POST /v1/data/{entrypoint}`, against the real
 * `opa run --server` on the same pack (a Warden pack is an OPA bundle): GET with
 * `?input=`, `POST /v0/data/…`, `POST /` with a default decision, and /health.
 * Status and body must match (Warden's decision_id aside; for errors only the status
 * here: the OPA codes of error bodies are compared in opa-errors.test.ts).
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startAgent, type RunningAgent } from '../../src/agent/agent.js';
import { parseConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/observe/logger.js';
import { canonicalJson } from '../helpers/canonical-json.js';
import { tempDir } from '../helpers/fs.js';
import { startOpaServer, type OpaServer } from '../helpers/opa-server.js';
import { buildFrom, signedFilePack } from '../helpers/packs.js';

const PACK = {
  'warden.yaml': 'name: rest\nentrypoints: [rest/allow, rest/echo, rest/sum]\n',
  'rest.rego': [
    'package rest',
    'import rego.v1',
    'default allow := false',
    'allow if input.user == "alice"',
    'echo := input',
    'sum := input.a + input.b',
    '',
  ].join('\n'),
};

interface Call {
  readonly method: 'GET' | 'POST';
  readonly path: string;
  readonly body?: string;
}

const CALLS: readonly Call[] = [
  { method: 'GET', path: `/v1/data/rest/echo?input=${encodeURIComponent('{"a":12345678901234567891,"b":1.0}')}` },
  { method: 'GET', path: '/v1/data/rest/echo' },
  { method: 'GET', path: `/v1/data/rest/allow?input=${encodeURIComponent('{"user":"alice"}')}` },
  { method: 'GET', path: '/v1/data/rest/echo?input=1&input=2' },
  { method: 'GET', path: '/v1/data/rest/echo?input=%7Bbad' },
  { method: 'POST', path: '/v0/data/rest/echo', body: '{"a":1.0,"big":-12345678901234567891}' },
  { method: 'POST', path: '/v0/data/rest/allow', body: '{"user":"alice"}' },
  { method: 'POST', path: '/v0/data/rest/allow' },
  { method: 'POST', path: '/v0/data/rest/sum', body: '{}' },
  { method: 'POST', path: '/v0/data/rest/sum', body: '{"a":1,"b":2}' },
  { method: 'POST', path: '/', body: '{"user":"alice"}' },
  { method: 'POST', path: '/', body: '{"user":"bob"}' },
  { method: 'GET', path: '/health' },
  { method: 'GET', path: '/health?bundles' },
  { method: 'GET', path: '/health?plugins' },
  { method: 'GET', path: '/health?bundles=false' },
];

// Status and canonical body; the decision id Warden adds is dropped.
async function ask(base: string, call: Call): Promise<{ status: number; body: string }> {
  const res = await fetch(`${base}${call.path}`, {
    method: call.method,
    ...(call.body === undefined ? {} : { body: call.body, headers: { 'content-type': 'application/json' } }),
  });
  const text = (await res.text()).replace(/,?"decision_id":"[^"]*"/, '').replace('{,', '{');
  if (res.status >= 400) return { status: res.status, body: '' };
  return { status: res.status, body: canonicalJson(text) };
}

describe("OPA's REST API: Warden against opa run --server on the same pack", () => {
  let agent: RunningAgent;
  let opa: OpaServer;

  before(async () => {
    const dir = tempDir();
    const built = await buildFrom(PACK);
    const entry = await signedFilePack(dir, 'rest', built.bytes);
    const packPath = join(dir, 'rest.tar.gz');
    await writeFile(join(dir, 'opa.yaml'), 'default_decision: /rest/allow\n');
    opa = await startOpaServer(['-c', join(dir, 'opa.yaml'), '-b', packPath]);
    agent = await startAgent(
      parseConfig(
        ['listen: 127.0.0.1:0', 'data_dir: data', 'default_decision: /rest/allow', 'packs:', ...entry].join('\n'),
        join(dir, 'agent.yaml'),
      ),
      createLogger('silent'),
    );
  });

  after(async () => {
    await agent?.close();
    await opa?.stop();
  });

  it('answers each call with the status and body OPA gives', async () => {
    for (const call of CALLS) {
      const [w, o] = [await ask(agent.url, call), await ask(opa.url, call)];
      assert.deepEqual(w, o, `${call.method} ${call.path} ${call.body ?? ''}`);
    }
  });

  it('answers an undefined bare document with 404 undefined_document (DECISION_UNDEFINED) and the decision id in a header', async () => {
    const res = await fetch(`${agent.url}/v0/data/rest/sum`, { method: 'POST', body: '{}' });
    assert.equal(res.status, 404);
    const body = (await res.json()) as { code: string; warden_code: string };
    assert.deepEqual([body.code, body.warden_code], ['undefined_document', 'DECISION_UNDEFINED']);
    assert.match(res.headers.get('x-warden-decision-id') ?? '', /^[0-9a-f-]{36}$/);
  });
});
