/**
 * The configurations the docs show are real: docs/configuration.md's block and
 * the example `npm start` runs parse with the agent's own schema.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadConfig, parseConfig } from '../../src/config/load.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

describe('documented configurations', () => {
  it("docs/configuration.md's block is a valid configuration, governance and decision log included", async () => {
    const doc = await readFile(`${root}docs/configuration.md`, 'utf8');
    const yaml = /```yaml\n([\s\S]*?)```/.exec(doc)?.[1];
    assert.ok(yaml, 'a yaml block in docs/configuration.md');
    const config = parseConfig(yaml, '/etc/warden/agent.yaml');
    assert.equal(config.governance?.pack, 'governance');
    assert.equal(
      config.governance.kill_switches?.source.http?.poll_min_seconds,
      30,
      'kill switches poll every 30 s by default',
    );
    assert.equal(config.governance.kill_switches.source.http.poll_max_seconds, 30);
    assert.equal(config.governance.evidence.dir, '/etc/warden/artifacts/governance/runtime');
    assert.equal(config.decision_log?.dir, '/etc/warden/decisions');
    const revocation = config.governance.tenants?.revocation;
    assert.equal(revocation?.on_stale, 'fail_closed');
    assert.equal(
      revocation.redis.password_file,
      '/etc/warden/redis.password',
      'credential files resolve beside the config',
    );
    assert.equal(revocation.redis.tls?.ca_file, '/etc/warden/redis-ca.pem');
  });

  it('refuses a revocation block without on_stale, refreshing past 300 s, stale before a refresh, or TLS on redis://', () => {
    const base =
      'packs:\n  - name: app\n    source: { file: { path: a.tar.gz } }\n    verify: { public_keys: [k.pub] }\n' +
      'governance:\n  pack: app\n  tenants:\n    issuer: i\n    audience: a\n    algorithms: [ES256]\n    jwks_file: j.json\n';
    const revocation = (r: string): string => `${base}    revocation: ${r}\n`;
    const ok = parseConfig(
      revocation('{ redis: { url: "redis://127.0.0.1:6379" }, on_stale: fail_open }'),
      '/x/a.yaml',
    );
    const r = ok.governance?.tenants?.revocation;
    assert.deepEqual(
      [r?.key_prefix, r?.refresh_seconds, r?.stale_after_seconds],
      ['warden:', 60, 300],
      'defaults: prefix warden:, a full read every 60 s, stale after 300 s',
    );
    for (const [bad, why] of [
      ['{ redis: { url: "redis://h:6379" } }', /on_stale/],
      ['{ redis: { url: "redis://h:6379" }, on_stale: fail_open, refresh_seconds: 301 }', /refresh_seconds/],
      [
        '{ redis: { url: "redis://h:6379" }, on_stale: fail_open, refresh_seconds: 60, stale_after_seconds: 30 }',
        /stale_after_seconds/,
      ],
      ['{ redis: { url: "redis://h:6379", tls: { ca_file: ca.pem } }, on_stale: fail_open }', /rediss/],
      ['{ redis: { url: "http://h:6379" }, on_stale: fail_open }', /url/],
    ] as const)
      assert.throws(
        () => parseConfig(revocation(bad), '/x/a.yaml'),
        (e: Error) => why.test(e.message),
        bad,
      );
  });

  it('the npm start example is a valid configuration with governance', async () => {
    const config = await loadConfig(`${root}examples/agent.yaml`);
    assert.deepEqual(
      config.packs.map((p) => p.name),
      ['authz', 'governance'],
    );
    assert.equal(config.governance?.kill_switches?.name, 'killswitches');
  });

  it('refuses a governance block naming no configured pack, or a kill-switch pack reusing a name', () => {
    const base =
      'packs:\n  - name: app\n    source: { file: { path: a.tar.gz } }\n    verify: { public_keys: [k.pub] }\n';
    assert.throws(
      () => parseConfig(`${base}governance: { pack: nope }\n`, '/x/a.yaml'),
      (e: Error) => /governance\.pack/.test(e.message),
    );
    assert.throws(
      () =>
        parseConfig(
          `${base}governance:\n  pack: app\n  kill_switches:\n    name: app\n    source: { file: { path: k.tar.gz } }\n    verify: { public_keys: [k.pub] }\n`,
          '/x/a.yaml',
        ),
      (e: Error) => /kill_switches\.name/.test(e.message),
    );
    assert.throws(
      () =>
        parseConfig(
          `${base}governance:\n  pack: app\n  tenants: { issuer: i, audience: a, algorithms: [ES256] }\n`,
          '/x/a.yaml',
        ),
      (e: Error) => /exactly one of jwks_file, jwks_url/.test(e.message),
    );
  });
});
