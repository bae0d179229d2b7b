/**
 * The metrics catalogue (src/observe/catalogue.ts) is the one list of what
 * Warden exposes: docs/metrics.md documents exactly its metrics, with their
 * types and labels, and an agent started with every optional part (governance
 * with tenants, kill switches, decision cache and log, webhooks) exposes
 * nothing on /metrics the catalogue lacks, nor lacks anything it lists.
 */
import assert from 'node:assert/strict';
import { cp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { exportJWK, generateKeyPair } from 'jose';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { startAgent, type RunningAgent } from '../../src/agent/agent.js';
import { parseConfig } from '../../src/config/load.js';
import { CATALOGUE, METRIC_NAMES, type MetricName } from '../../src/observe/catalogue.js';
import { createLogger } from '../../src/observe/logger.js';
import { PROJECT_ROOT } from '../../src/project.js';
import { tempDir } from '../helpers/fs.js';
import { GOVERNANCE_DIR, exampleGovernanceYaml } from '../helpers/governance.js';

const isCatalogued = (name: string): name is MetricName => Object.hasOwn(CATALOGUE, name);

interface DocumentedMetric {
  readonly type: string;
  readonly labels: readonly string[];
}

/** The metric rows of docs/metrics.md's `## The family` section (its subsections included). */
async function documented(): Promise<Map<string, DocumentedMetric>> {
  const doc = await readFile(join(PROJECT_ROOT, 'docs/metrics.md'), 'utf8');
  const start = doc.indexOf('\n## The family\n');
  assert.ok(start >= 0, 'docs/metrics.md has a "## The family" section');
  const section = doc.slice(start + 1).split('\n## ')[0] ?? '';
  const rows = new Map<string, DocumentedMetric>();
  for (const m of section.matchAll(/^\| `([a-zA-Z_:][a-zA-Z0-9_:]*)` \| ([^|]+) \| ([^|]*) \|/gm)) {
    const name = m[1] ?? '';
    assert.ok(!rows.has(name), `docs/metrics.md lists ${name} twice`);
    const labels = (m[3] ?? '')
      .split(',')
      .map((l) => l.trim())
      .filter((l) => l !== '' && l !== '—');
    rows.set(name, { type: (m[2] ?? '').trim().split(/\s/)[0] ?? '', labels });
  }
  return rows;
}

describe('docs/metrics.md and the metrics catalogue', () => {
  it('documents every catalogued metric with its type and labels', async () => {
    const rows = await documented();
    for (const name of METRIC_NAMES) {
      const row = rows.get(name);
      assert.ok(row, `${name} is in src/observe/catalogue.ts but not in docs/metrics.md's tables`);
      assert.equal(
        row.type,
        CATALOGUE[name].type,
        `${name}: docs/metrics.md says ${row.type}, the catalogue ${CATALOGUE[name].type}`,
      );
      assert.deepEqual(
        row.labels,
        [...CATALOGUE[name].labels],
        `${name}: the labels in docs/metrics.md differ from the catalogue's`,
      );
    }
  });

  it('documents no metric the catalogue lacks', async () => {
    const extra = [...(await documented()).keys()].filter((name) => !isCatalogued(name));
    assert.deepEqual(extra, [], 'docs/metrics.md lists metrics that src/observe/catalogue.ts does not define');
  });

  it('keeps catalogue entries well formed: Prometheus names, a help text, buckets only on histograms', () => {
    for (const name of METRIC_NAMES) {
      const d: { type: string; help: string; labels: readonly string[]; buckets?: readonly number[] } = CATALOGUE[name];
      assert.match(name, /^[a-z_][a-z0-9_]*$/);
      assert.ok(d.help.length > 0, `${name} has a help text`);
      for (const label of d.labels) assert.match(label, /^[a-z_][a-z0-9_]*$/, `${name}: label ${label}`);
      assert.equal(d.buckets !== undefined, d.type === 'histogram', `${name}: buckets exactly when a histogram`);
    }
  });
});

describe('a fully started agent exposes exactly the catalogue', () => {
  let agent: RunningAgent;
  // Serving processes answer only embedded engines: their metrics come from a second agent.
  let served: RunningAgent;

  before(async () => {
    const dir = tempDir('warden-metrics-docs-');
    const { publicKey } = await generateKeyPair('ES256');
    await writeFile(
      join(dir, 'jwks.json'),
      JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' }] }),
    );
    await writeFile(join(dir, 'webhook.secret'), 'a-webhook-secret-of-32-characters');
    // One pack answered by a real OPA, so that the OPA engine's metrics exist too.
    await cp(join(GOVERNANCE_DIR, '..', 'authz'), join(dir, 'authz'), { recursive: true });
    const yaml = await exampleGovernanceYaml(dir, {
      packs: [
        '  - name: authz',
        '    source: { directory: { path: authz } }',
        '    verify: { unsigned: true }',
        '    engine: opa',
      ],
      // A Redis nobody listens on: the revocation sync and its metrics exist; its reads fail, which is not tested here.
      tenants:
        '{ issuer: "https://idp.example.test", audience: orders-api, algorithms: [ES256], jwks_file: jwks.json, ' +
        'revocation: { redis: { url: "redis://127.0.0.1:9" }, on_stale: fail_open } }',
      budget: '{ verdict_ms: 50, on_exceed: fail_closed }',
      extra: [
        // A collector nobody listens on: the shipper and its metrics exist; its uploads fail, which is not tested here.
        'decision_log: { dir: decisions, flush_interval_ms: 20, service: { url: "http://127.0.0.1:9/v1" } }',
        'events:',
        '  webhooks:',
        // An event that never happens here: the dispatcher and its counter exist, nothing is sent.
        '    - { url: "http://127.0.0.1:9/hook", secret_file: webhook.secret, events: [policy.rolled_back] }',
      ],
    });
    agent = await startAgent(parseConfig(yaml, join(dir, 'agent.yaml')), createLogger('silent'));
    const servedYaml = [
      'listen: 127.0.0.1:0',
      'data_dir: data-served',
      'http_processes: 2',
      'packs:',
      '  - name: authz',
      '    source: { directory: { path: authz } }',
      '    verify: { unsigned: true }',
    ].join('\n');
    served = await startAgent(parseConfig(servedYaml, join(dir, 'served.yaml')), createLogger('silent'));
  });

  after(async () => {
    await agent.close();
    await served.close();
  });

  it('serves on /metrics no Warden metric the catalogue lacks, and every one it lists, each with its catalogue type', async () => {
    const defaults = new Registry();
    collectDefaultMetrics({ register: defaults });
    const nodeMetrics = new Set((await defaults.getMetricsAsJSON()).map((m) => m.name));
    const text = [
      await (await fetch(`${agent.url}/metrics`)).text(),
      await (await fetch(`${served.url}/metrics`)).text(),
    ].join('\n');
    const exposed = new Map<string, string>();
    for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm))
      if (!nodeMetrics.has(m[1] ?? '')) exposed.set(m[1] ?? '', m[2] ?? '');
    const uncatalogued = [...exposed.keys()].filter((name) => !isCatalogued(name));
    assert.deepEqual(uncatalogued, [], 'metrics served on /metrics that src/observe/catalogue.ts does not define');
    assert.deepEqual(
      METRIC_NAMES.filter((name) => !exposed.has(name)),
      [],
      'catalogued metrics an agent with every part configured does not serve',
    );
    for (const [name, type] of exposed)
      if (isCatalogued(name)) assert.equal(type, CATALOGUE[name].type, `${name} is served as a ${type}`);
  });
});
