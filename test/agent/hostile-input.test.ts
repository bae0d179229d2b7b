/**
 * Client input the engine cannot take is the client's 4xx or, where OPA takes
 * it, OPA's answer — never a 5xx — and every 5xx the agent does answer is
 * logged with its code, entrypoint and pack digest, at a bounded rate. Against
 * a real `warden agent` process, compared with the real `opa eval` where OPA
 * has an answer.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey } from 'jose';
import { locateOpa } from '../../src/opa/locate.js';
import { tempDir } from '../helpers/fs.js';
import { ALLOW_CORE, governancePack } from '../helpers/governance.js';
import { buildFrom, p256, signedBundle } from '../helpers/packs.js';
import { WardenProcess, startAgentProcess } from '../helpers/processes.js';
import { rawRequest, type RawAnswer } from '../helpers/raw-http.js';
import { publish } from '../helpers/variants.js';
import { eventually } from '../helpers/wait.js';

const PROBE = {
  'warden.yaml': 'name: probe\nentrypoints: [probe/allow, probe/echo, probe/clash]\n',
  // clash: two rules that conflict only when both bodies hold — a genuine policy failure at decision time.
  'probe.rego':
    'package probe\n\ndefault allow := false\n\nallow if input.a == "x"\n\necho := input\n\nclash := 1 if input.one\n\nclash := 2 if input.two\n',
};
const DEPTH_LIMIT = 1500;

// POSTs a raw body (escapes reach the agent verbatim) with optional repeated headers.
const post = (
  url: string,
  path: string,
  body: string,
  headers: Record<string, string | string[]> = {},
): Promise<RawAnswer> =>
  rawRequest(`${url}${path}`, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });

// `[[…1…]]`, `depth` arrays deep, as JSON text.
const nested = (depth: number): string => `${'['.repeat(depth)}1${']'.repeat(depth)}`;

describe('hostile decision input', () => {
  let proc: WardenProcess;
  let url: string;
  let packPath: string;
  let digest: string;
  let mint: (claims: Record<string, unknown>, sub?: string) => Promise<string>;

  before(async () => {
    const dir = tempDir();
    const key = p256();
    const built = await buildFrom(PROBE);
    packPath = join(dir, 'probe.tar.gz');
    await writeFile(packPath, built.bytes);
    await writeFile(`${packPath}.sigstore.json`, await signedBundle(built.bytes, key.privateKey));
    await publish(dir, 'governance', await governancePack(1), key.privateKey);
    await writeFile(join(dir, 'policy.pub'), key.publicPem);
    const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
    await writeFile(
      join(dir, 'jwks.json'),
      JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' }] }),
    );
    mint = (claims, sub = 'alice') => signToken(privateKey, claims, sub);
    const config = join(dir, 'agent.yaml');
    await writeFile(
      config,
      [
        'listen: 127.0.0.1:0',
        'data_dir: data',
        'log_level: info',
        `limits: { max_json_depth: ${DEPTH_LIMIT} }`,
        'packs:',
        '  - name: probe',
        '    source: { file: { path: probe.tar.gz } }',
        '    verify: { public_keys: [policy.pub] }',
        '  - name: governance',
        '    source: { file: { path: governance.tar.gz } }',
        '    verify: { public_keys: [policy.pub] }',
        'governance:',
        '  pack: governance',
        '  evidence: { dir: evidence }',
        '  tenants: { issuer: https://idp.test, audience: warden, algorithms: [ES256], jwks_file: jwks.json }',
      ].join('\n'),
    );
    ({ proc, url } = await startAgentProcess(config));
    digest = ((await (await fetch(`${url}/healthz`)).json()) as { packs: { probe: { active: { digest: string } } } })
      .packs.probe.active.digest;
  });

  after(() => WardenProcess.killAll());

  it('reads a lone UTF-16 surrogate as U+FFFD, as OPA does: the same answers as opa eval, never a 5xx', async () => {
    const opa = locateOpa().path;
    for (const input of [
      '{"a":"\\ud800"}',
      '{"a":"x\\udfff"}',
      '{"\\udbff":"\\ud800\\ud800"}',
      '{"a":"\\\\ud800"}',
      '{"a":"\\ud83d\\ude00"}',
      '[false,"\\udc00"]',
    ]) {
      const got = await post(url, '/v1/data/probe/echo', `{"input":${input}}`);
      assert.equal(got.status, 200, `${input}: ${JSON.stringify(got.body)}`);
      const expected = spawnSync(
        opa,
        ['eval', '--format', 'json', '--stdin-input', '-b', packPath, 'data.probe.echo'],
        { input, encoding: 'utf8' },
      );
      assert.equal(expected.status, 0, expected.stderr);
      const opaResult = (JSON.parse(expected.stdout) as { result: Array<{ expressions: Array<{ value: unknown }> }> })
        .result[0]?.expressions[0]?.value;
      assert.deepEqual(got.body.result, opaResult, `${input}: Warden and opa eval agree`);
    }
    const allow = await post(url, '/v1/data/probe/allow', '{"input":{"a":"\\ud800"}}');
    assert.deepEqual([allow.status, allow.body.result], [200, false]);
  });

  it('keeps falsy inputs (false, 0, "", null) as input, as OPA does, instead of "no input"', async () => {
    for (const input of ['false', '0', '""', 'null']) {
      const got = await post(url, '/v1/data/probe/echo', `{"input":${input}}`);
      assert.equal(got.status, 200);
      assert.deepEqual(got.body.result, JSON.parse(input), input);
    }
    const none = await post(url, '/v1/data/probe/echo', '{}');
    assert.equal('result' in none.body, false, 'no input at all stays undefined');
  });

  it('answers verdicts whose purpose, resource or token subject hold lone surrogates (no 5xx), for an authenticated caller', async () => {
    const { tenant: _t, subject: _s, ...context } = ALLOW_CORE;
    const bodies = [
      `{"module":"billing","action":"read","resource":"acme/\\udfff","purpose":"\\ud800"}`,
      JSON.stringify(context),
    ];
    for (const sub of ['alice', '\ud800', 'x\udc00y']) {
      const auth = `Bearer ${await mint({ tenant: 'acme' }, sub)}`;
      for (const body of bodies) {
        const got = await post(url, '/v1/verdict', body, { authorization: auth });
        assert.ok(
          got.status < 500,
          `sub ${JSON.stringify(sub)}, body ${body}: ${got.status} ${JSON.stringify(got.body)}`,
        );
        assert.equal(got.status, 200, JSON.stringify(got.body));
      }
    }
  });

  it('refuses a body nested past limits.max_json_depth with 400 INPUT_TOO_DEEP, and answers one at the limit', async () => {
    // The body {"input": X} is one level deeper than X.
    const atLimit = await post(url, '/v1/data/probe/echo', `{"input":${nested(DEPTH_LIMIT - 2)}}`);
    assert.equal(atLimit.status, 200, JSON.stringify(atLimit.body).slice(0, 200));
    for (const depth of [DEPTH_LIMIT, 5_000, 100_000]) {
      const deep = await post(url, '/v1/data/probe/echo', `{"input":${nested(depth)}}`);
      assert.equal(deep.status, 400, `depth ${depth}`);
      assert.deepEqual([deep.body.code, deep.body.warden_code], ['invalid_parameter', 'INPUT_TOO_DEEP']);
      assert.deepEqual(deep.body.details, { limit: DEPTH_LIMIT });
    }
    const objects = `${'{"k":'.repeat(10_000)}1${'}'.repeat(10_000)}`;
    assert.equal((await post(url, '/v1/data/probe/allow', `{"input":${objects}}`)).body.warden_code, 'INPUT_TOO_DEEP');
    // Brackets inside strings are text, not nesting.
    const inString = await post(
      url,
      '/v1/data/probe/echo',
      `{"input":{"a":"${'['.repeat(5_000)}\\"${'{'.repeat(5_000)}"}}`,
    );
    assert.equal(inString.status, 200);
    const verdict = await post(url, '/v1/verdict', `{"module":"billing","action":"read","extra":${nested(5_000)}}`, {
      authorization: `Bearer ${await mint({ tenant: 'acme' })}`,
    });
    assert.deepEqual([verdict.status, verdict.body.code], [400, 'INPUT_TOO_DEEP']);
  });

  it('logs each 5xx once with its code, entrypoint and pack digest, at a bounded rate, and counts every one', async () => {
    const failing = (): Promise<RawAnswer> => post(url, '/v1/data/probe/clash', '{"input":{"one":true,"two":true}}');
    const first = await failing();
    assert.equal(first.status, 500);
    assert.deepEqual([first.body.code, first.body.warden_code], ['internal_error', 'DECISION_FAILED']);
    const failures = (): Array<Record<string, unknown>> =>
      proc.logs().filter((l) => l.msg === 'request failed' && l.code === 'DECISION_FAILED');
    await proc.waitFor(/"msg":"request failed"/);
    const line = failures()[0] ?? {};
    assert.equal(line.entrypoint, 'probe/clash');
    assert.equal(line.digest, digest);
    assert.equal(line.pack, 'probe');
    assert.equal(line.status, 500);
    assert.match(String(line.err), /conflict/, JSON.stringify(line));

    const started = Date.now();
    const burst = 200;
    for (let i = 0; i < burst; i += 20) await Promise.all(Array.from({ length: 20 }, failing));
    const seconds = (Date.now() - started) / 1000;
    const metrics = await (await fetch(`${url}/metrics`)).text();
    const series = (name: string): number => Number(new RegExp(`^${name} (\\d+)`, 'm').exec(metrics)?.[1] ?? 'NaN');
    const counted = series('http_server_errors_total\\{route="/v1/data/\\*",code="DECISION_FAILED"\\}');
    const suppressed = series('http_server_error_logs_suppressed_total\\{code="DECISION_FAILED"\\}');
    assert.equal(counted, burst + 1, 'every 5xx is counted');
    // Log lines travel through a pipe: wait until every logged one has arrived.
    await eventually(() => Promise.resolve(failures().length + suppressed === burst + 1));
    const logged = failures().length;
    assert.ok(suppressed > 0, 'a burst past the rate is not logged line by line');
    assert.ok(
      failures().some((l) => typeof l.suppressed_since_last === 'number') || logged <= 10,
      'a line after suppressed ones says how many',
    );
    assert.ok(
      logged <= 10 + Math.ceil(seconds) + 1,
      `at most a burst of 10 plus 1 a second: ${logged} lines in ${seconds} s`,
    );
  });

  it("answers a request Node's HTTP parser refuses (headers over 16 KiB) with a coded body, not Fastify's own", async () => {
    const got = await post(url, '/v1/verdict', '{}', { authorization: `Bearer ${'a'.repeat(20 * 1024)}` });
    assert.equal(got.status, 431);
    assert.equal(got.body.code, 'HTTP_REQUEST_INVALID');
    assert.equal((await fetch(`${url}/readyz`)).status, 200, 'the agent serves the next request');
  });

  it('refuses a request that sends Authorization twice (401 TOKEN_INVALID), whichever token comes first', async () => {
    const acme = `Bearer ${await mint({ tenant: 'acme' })}`;
    const globex = `Bearer ${await mint({ tenant: 'globex' })}`;
    const { tenant: _t, subject: _s, ...context } = ALLOW_CORE;
    const body = JSON.stringify(context);
    assert.equal((await post(url, '/v1/verdict', body, { authorization: acme })).status, 200);
    for (const pair of [
      [acme, globex],
      [globex, acme],
      [acme, acme],
    ]) {
      const got = await post(url, '/v1/verdict', body, { authorization: pair });
      assert.equal(got.status, 401);
      assert.equal(got.body.code, 'TOKEN_INVALID');
      assert.equal((got.body.details as { reason: string }).reason, 'authorization_repeated');
    }
    const metrics = await (await fetch(`${url}/metrics`)).text();
    assert.match(metrics, /^security_tenant_missing_context_total\{reason="authorization_repeated"\} 3$/m);
  });
});

// A token from the test IdP.
function signToken(key: CryptoKey, claims: Record<string, unknown>, sub: string): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
    .setIssuer('https://idp.test')
    .setAudience('warden')
    .setExpirationTime('5m')
    .setSubject(sub)
    .sign(key);
}
