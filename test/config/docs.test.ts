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
