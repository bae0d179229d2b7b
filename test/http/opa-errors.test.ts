/**
 * OPA's error shape and query parameters on OPA's routes, against the real
 * `opa run --server` on the same pack (a Warden pack is an OPA bundle): the same
 * requests must get the same status and the same OPA `code`, with Warden's own code
 * in `warden_code`; `?pretty` must indent as OPA does; `?metrics` must give OPA's
 * names with measured values; `?strict-builtin-errors` is refused (the wasm engine
 * cannot tell a failing builtin from an undefined one), where OPA answers 500.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { OPAClient } from '@open-policy-agent/opa';
import { startAgent, type RunningAgent } from '../../src/agent/agent.js';
import { parseConfig } from '../../src/config/load.js';
import { ERROR_CODES } from '../../src/errors.js';
import { createLogger } from '../../src/observe/logger.js';
import { tempDir } from '../helpers/fs.js';
import { startOpaServer, type OpaServer } from '../helpers/opa-server.js';
import { buildFrom, signedFilePack } from '../helpers/packs.js';
import { rawRequest, type RawAnswer } from '../helpers/raw-http.js';

const MAX_BODY = 4096;

const PACK = {
  'warden.yaml': 'name: errs\nentrypoints: [errs/allow, errs/echo, errs/sum, errs/conflict, errs/num, errs/obj]\n',
  'errs.rego': [
    'package errs',
    'import rego.v1',
    'default allow := false',
    'allow if input.user == "alice"',
    'echo := input',
    'sum := input.a + input.b',
    'conflict := 1 if input.x',
    'conflict := 2 if input.x',
    'num := to_number(input.s)',
    'obj := {"big": 12345678901234567891, "dec": 2.0, "neg": -0.5e-3, "list": [1, [], {}, [{"k": "a\\"b\\\\c"}]], "empty": {}, "s": "x y"}',
    '',
  ].join('\n'),
};

interface Call {
  readonly method: 'GET' | 'POST';
  readonly path: string;
  readonly body?: string;
}

const q = (input: unknown): string => encodeURIComponent(JSON.stringify(input));

// Failures both servers answer with an error: same status and OPA code expected.
const ERRORS: readonly Call[] = [
  { method: 'GET', path: '/v1/data/errs/echo?input=%7Bbad' },
  { method: 'GET', path: '/v1/data/errs/echo?input=%7Bbad&pretty' },
  { method: 'POST', path: '/v1/data/errs/echo', body: '{bad' },
  { method: 'POST', path: '/v1/data/errs/echo', body: '[1]' },
  { method: 'POST', path: '/v1/data/errs/echo', body: '5' },
  { method: 'POST', path: '/v1/data/errs/echo', body: `{"input":"${'x'.repeat(MAX_BODY)}"}` },
  { method: 'POST', path: '/v0/data/errs/echo', body: '{bad' },
  { method: 'POST', path: '/v0/data/errs/echo', body: `"${'x'.repeat(MAX_BODY)}"` },
  { method: 'POST', path: '/v0/data/errs/sum', body: '{}' },
  { method: 'POST', path: '/v0/data/errs/num?strict-builtin-errors', body: '{"s":"x"}' },
  { method: 'POST', path: '/', body: '{"user":"bob","a":1}' },
  { method: 'POST', path: '/', body: '{bad' },
  { method: 'POST', path: '/v1/data/errs/conflict', body: '{"input":{"x":true}}' },
  { method: 'GET', path: `/v1/data/errs/conflict?input=${q({ x: true })}` },
  { method: 'POST', path: '/v0/data/errs/conflict', body: '{"x":true}' },
];

const send = (base: string, call: Call): Promise<RawAnswer> =>
  rawRequest(`${base}${call.path}`, {
    method: call.method,
    ...(call.body === undefined ? {} : { body: call.body, headers: { 'content-type': 'application/json' } }),
  });

// Warden's pretty text without the decision id it adds (OPA without a decision log has none).
const withoutDecisionId = (text: string): string => text.replace(/,(?:\n {2})?"decision_id": ?"[^"]*"/, '');

describe("OPA's error shape and query parameters: Warden against opa run --server on the same pack", () => {
  let agent: RunningAgent;
  let opa: OpaServer;

  before(async () => {
    const dir = tempDir();
    const built = await buildFrom(PACK);
    const entry = await signedFilePack(dir, 'errs', built.bytes);
    await writeFile(
      join(dir, 'opa.yaml'),
      `default_decision: /errs/sum\nserver:\n  decoding:\n    max_length: ${MAX_BODY}\n`,
    );
    opa = await startOpaServer(['-c', join(dir, 'opa.yaml'), '-b', join(dir, 'errs.tar.gz')]);
    agent = await startAgent(
      parseConfig(
        [
          'listen: 127.0.0.1:0',
          'data_dir: data',
          'default_decision: /errs/sum',
          `limits: { max_body_bytes: ${MAX_BODY} }`,
          'packs:',
          ...entry,
        ].join('\n'),
        join(dir, 'agent.yaml'),
      ),
      createLogger('silent'),
    );
  });

  after(async () => {
    await agent?.close();
    await opa?.stop();
  });

  it("answers each failure with OPA's status and OPA code, Warden's code in warden_code", async () => {
    for (const call of ERRORS) {
      const what = `${call.method} ${call.path.slice(0, 80)} ${call.body?.slice(0, 40) ?? ''}`;
      const [w, o] = [await send(agent.url, call), await send(opa.url, call)];
      assert.equal(w.status, o.status, `${what}: status`);
      assert.ok(o.status >= 400, `${what}: OPA answers an error`);
      assert.equal(w.body.code, o.body.code, `${what}: OPA code`);
      assert.equal(typeof w.body.message, 'string', what);
      assert.ok(
        Object.hasOwn(ERROR_CODES, String(w.body.warden_code)),
        `${what}: warden_code ${String(w.body.warden_code)}`,
      );
      // Indented with two spaces and a final newline, as OPA writes every error.
      assert.ok(w.text.startsWith('{\n  "code": ') && w.text.endsWith('}\n'), `${what}: indented like OPA`);
    }
  });

  it('lists an evaluation error under errors with its code and location, as OPA', async () => {
    const call = ERRORS.find((c) => c.path === '/v1/data/errs/conflict')!;
    const [w, o] = [await send(agent.url, call), await send(opa.url, call)];
    type Detail = { code: string; message: string; location?: { file: string; row: number; col: number } };
    const [we, oe] = [(w.body.errors as Detail[])[0], (o.body.errors as Detail[])[0]];
    assert.equal(we?.code, 'eval_conflict_error');
    assert.equal(we?.code, oe?.code);
    assert.equal(we?.location?.row, oe?.location?.row);
    assert.equal(we?.location?.col, oe?.location?.col);
    assert.ok(oe?.location?.file.endsWith(we?.location?.file ?? '?'), `${we?.location?.file} vs ${oe?.location?.file}`);
    assert.equal(w.body.warden_code, 'DECISION_FAILED');
    assert.equal((w.body.details as { entrypoint: string }).entrypoint, 'errs/conflict');
  });

  it("is read by OPA's TypeScript SDK as OPA's own error: same code", async () => {
    const codeOf = async (url: string): Promise<unknown> => {
      try {
        await new OPAClient(url).evaluate('errs/conflict', { x: true });
      } catch (err) {
        return (err as { code?: unknown }).code;
      }
      return 'no error';
    };
    assert.equal(await codeOf(agent.url), 'internal_error');
    assert.equal(await codeOf(agent.url), await codeOf(opa.url));
  });

  it("answers an unknown route of OPA's namespace with 404 resource_not_found, Warden's routes in Warden's shape", async () => {
    const [w, o] = [await rawRequest(`${agent.url}/v1/nope`), await rawRequest(`${opa.url}/v1/nope`)];
    assert.equal(w.status, o.status);
    assert.equal(w.body.code, 'resource_not_found');
    assert.equal(w.body.warden_code, 'DECISION_PATH_UNKNOWN');
    const own = await rawRequest(`${agent.url}/v1/verdict`);
    assert.equal(own.status, 404);
    assert.equal(own.body.code, 'DECISION_PATH_UNKNOWN');
    assert.equal(own.body.warden_code, undefined);
  });

  it('indents ?pretty answers byte for byte as OPA, numbers as written', async () => {
    for (const call of [
      { method: 'GET', path: '/v1/data/errs/obj?pretty' },
      { method: 'GET', path: '/v1/data/errs/obj?pretty=true' },
      { method: 'GET', path: '/v1/data/errs/obj?pretty=1' },
      { method: 'GET', path: '/v1/data/errs/obj?pretty=false' },
      {
        method: 'POST',
        path: '/v1/data/errs/echo?pretty',
        body: '{"input":{"a":[1.10,{}],"b":-12345678901234567891}}',
      },
      { method: 'POST', path: '/v0/data/errs/obj?pretty', body: '{}' },
      { method: 'POST', path: '/v0/data/errs/echo?pretty', body: '[]' },
      { method: 'POST', path: '/?pretty', body: '{"a":1,"b":2}' },
    ] as const) {
      const [w, o] = [await send(agent.url, call), await send(opa.url, call)];
      assert.equal(w.status, 200);
      const wText = call.path.startsWith('/v1/') ? withoutDecisionId(w.text) : w.text;
      // OPA ends every body with a newline; Warden's compact answers have none.
      assert.equal(wText.trimEnd(), o.text.trimEnd(), `${call.method} ${call.path}`);
      if (wText.includes('\n')) assert.equal(wText, o.text, `${call.method} ${call.path}: final newline`);
    }
  });

  it('gives ?metrics with OPA names and measured nanoseconds on /v1/data, none on /v0/data', async () => {
    for (const call of [
      { method: 'POST', path: '/v1/data/errs/echo?metrics', body: '{"input":{"a":1}}' },
      { method: 'GET', path: `/v1/data/errs/allow?metrics&input=${q({ user: 'alice' })}` },
      { method: 'GET', path: '/v1/data/errs/allow?metrics&pretty' },
    ] as const) {
      const [w, o] = [await send(agent.url, call), await send(opa.url, call)];
      const [wm, om] = [w.body.metrics as Record<string, unknown>, o.body.metrics as Record<string, unknown>];
      assert.deepEqual(w.body.result, o.body.result, call.path);
      for (const name of ['timer_server_handler_ns', 'timer_rego_query_eval_ns'])
        assert.ok(
          Number.isInteger(wm[name]) && (wm[name] as number) > 0,
          `${call.path}: ${name} = ${String(wm[name])}`,
        );
      for (const name of Object.keys(wm)) assert.ok(name in om, `${call.path}: ${name} is not one of OPA's`);
      assert.ok((wm.timer_server_handler_ns as number) >= (wm.timer_rego_query_eval_ns as number));
      if (call.method === 'POST' || call.path.includes('input='))
        assert.ok(Number.isInteger(wm.timer_rego_input_parse_ns), `${call.path}: input parse timed`);
    }
    const bare = { method: 'POST', path: '/v0/data/errs/echo?metrics', body: '{"a":1}' } as const;
    const [w, o] = [await send(agent.url, bare), await send(opa.url, bare)];
    assert.equal(w.text, '{"a":1}');
    assert.equal(w.text, o.text.trimEnd());
  });

  it('refuses ?strict-builtin-errors on /v1/data with 400 STRICT_BUILTIN_ERRORS_UNSUPPORTED, where OPA answers 500', async () => {
    const failing = `/v1/data/errs/num?input=${q({ s: 'x' })}`;
    // Without the parameter both treat the failing builtin as undefined.
    const [w0, o0] = [await rawRequest(`${agent.url}${failing}`), await rawRequest(`${opa.url}${failing}`)];
    assert.equal(w0.status, 200);
    assert.equal(o0.status, 200);
    assert.equal('result' in w0.body, false);
    assert.equal('result' in o0.body, false);
    for (const flag of ['strict-builtin-errors', 'strict-builtin-errors=true', 'strict-builtin-errors=TRUE']) {
      const o = await rawRequest(`${opa.url}${failing}&${flag}`);
      assert.equal(o.status, 500);
      assert.equal((o.body.errors as Array<{ code: string }>)[0]?.code, 'eval_builtin_error');
      for (const call of [
        { method: 'GET', path: `${failing}&${flag}` },
        { method: 'POST', path: `/v1/data/errs/allow?${flag}`, body: '{"input":{"user":"alice"}}' },
      ] as const) {
        const w = await send(agent.url, call);
        assert.equal(w.status, 400, call.path);
        assert.equal(w.body.code, 'invalid_parameter');
        assert.equal(w.body.warden_code, 'STRICT_BUILTIN_ERRORS_UNSUPPORTED');
      }
    }
    // What OPA reads as off is off in Warden too.
    for (const flag of ['strict-builtin-errors=false', 'strict-builtin-errors=1']) {
      const [w, o] = [
        await rawRequest(`${agent.url}${failing}&${flag}`),
        await rawRequest(`${opa.url}${failing}&${flag}`),
      ];
      assert.equal(w.status, 200, flag);
      assert.equal(o.status, 200, flag);
    }
  });
});

describe('?strict-builtin-errors with engine: opa: passed to OPA, answered as OPA answers it', () => {
  let agent: RunningAgent;
  let opa: OpaServer;

  before(async () => {
    const dir = tempDir();
    const built = await buildFrom(PACK);
    const entry = await signedFilePack(dir, 'errs', built.bytes);
    opa = await startOpaServer(['-b', join(dir, 'errs.tar.gz')]);
    // A loaded machine must not turn OPA's slow answer into OPA_DECISION_TIMEOUT here.
    const config = [
      'listen: 127.0.0.1:0',
      'data_dir: data',
      'engine: opa',
      'opa: { decision_timeout_ms: 5000 }',
      'packs:',
      ...entry,
    ].join('\n');
    agent = await startAgent(parseConfig(config, join(dir, 'agent.yaml')), createLogger('silent'));
  });

  after(async () => {
    await agent?.close();
    await opa?.stop();
  });

  it("fails a decision whose builtin fails with OPA's 500 and OPA's errors; without the parameter it is undefined", async () => {
    const failing = `/v1/data/errs/num?input=${q({ s: 'x' })}`;
    for (const flag of ['strict-builtin-errors', 'strict-builtin-errors=true']) {
      for (const call of [
        { method: 'GET', path: `${failing}&${flag}` },
        { method: 'POST', path: `/v1/data/errs/num?${flag}`, body: '{"input":{"s":"x"}}' },
      ] as const) {
        const [w, o] = [await send(agent.url, call), await send(opa.url, call)];
        assert.equal(o.status, 500, call.path);
        assert.equal(w.status, o.status, call.path);
        assert.equal(w.body.code, o.body.code, call.path);
        type Detail = { code: string; message: string };
        const [we, oe] = [(w.body.errors as Detail[])[0], (o.body.errors as Detail[])[0]];
        assert.equal(oe?.code, 'eval_builtin_error');
        assert.deepEqual(we, oe, call.path);
        assert.equal(w.body.warden_code, 'DECISION_FAILED');
      }
    }
    // A defined answer is the same with the parameter; without it the failing builtin is undefined.
    const ok = {
      method: 'POST',
      path: '/v1/data/errs/num?strict-builtin-errors',
      body: '{"input":{"s":"12"}}',
    } as const;
    const [w, o] = [await send(agent.url, ok), await send(opa.url, ok)];
    assert.equal(w.status, 200);
    assert.equal(w.body.result, 12);
    assert.equal(o.body.result, 12);
    const lenient = await rawRequest(`${agent.url}${failing}`);
    assert.equal(lenient.status, 200);
    assert.equal('result' in lenient.body, false);
  });
});
