import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setImmediate } from 'node:timers/promises';
import { Registry } from 'prom-client';
import { startAgent, type RunningAgent } from '../../src/agent/agent.js';
import { parseConfig } from '../../src/config/load.js';
import { Decider } from '../../src/decide/decider.js';
import { DecisionRouter } from '../../src/decide/router.js';
import { DecisionLog, writerThreadOf } from '../../src/decision-log/decision-log.js';
import { Governance, type Verdict } from '../../src/govern/verdict/governance.js';
import { createLogger } from '../../src/observe/logger.js';
import { buildPack } from '../../src/pack/build.js';
import { tempDir, writeTree } from '../helpers/fs.js';
import { ALLOW_AI, ALLOW_CORE, DENY, governancePack, governanceYaml, killSwitchPack } from '../helpers/governance.js';
import { spyIo } from '../helpers/io-spy.js';
import { p256 } from '../helpers/packs.js';
import { publish } from '../helpers/variants.js';
import { eventually } from '../helpers/wait.js';

const key = p256();
const quiet = createLogger('silent');

// The value of one series in the agent's metrics text (0 when absent).
async function metric(agent: RunningAgent, series: string): Promise<number> {
  const line = (await agent.metrics.registry.metrics()).split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

describe('governance verdicts in an agent', () => {
  let dir: string;
  let agent: RunningAgent;
  let gov: Governance;
  const packs = (): string => join(dir, 'packs');

  before(async () => {
    dir = tempDir();
    await writeTree(dir, { 'policy.pub': key.publicPem, 'packs/.keep': '' });
    await publish(packs(), 'governance', await governancePack(1), key.privateKey);
    await publish(
      packs(),
      'killswitches',
      await killSwitchPack(1, { ai_training: { active: true, reason: 'paused for review' } }),
      key.privateKey,
    );
    const config = parseConfig(
      governanceYaml({
        killSwitchSource: '{ file: { path: packs/killswitches.tar.gz, poll_seconds: 0.05 } }',
        extra: ['decision_log: { dir: decisions, flush_interval_ms: 20, queue_limit: 100000 }'],
      }),
      join(dir, 'agent.yaml'),
    );
    agent = await startAgent(config, createLogger('silent'));
    assert.ok(agent.governance);
    gov = agent.governance;
  });

  after(() => agent.close());

  // POSTs a context to /v1/verdict.
  const post = async (
    body: unknown,
    headers: Record<string, string> = {},
  ): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> => {
    const res = await fetch(`${agent.url}/v1/verdict`, {
      method: 'POST',
      body: JSON.stringify(body),
      headers: { 'content-type': 'application/json', ...headers },
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown>, headers: res.headers };
  };

  it('built the governance engines on the engine preparer thread', () => {
    // The governance and kill-switch packs are local engines: prepared off this thread, adopted here.
    assert.deepEqual(agent.enginePreparer?.state(), { running: true, loading: 0 });
  });

  it('answers allow and deny with reasons, the pack revision and a decision id', () => {
    const allow = gov.verdict(ALLOW_CORE);
    assert.equal(allow.allow, true);
    assert.equal(allow.result, 'allow');
    assert.deepEqual(allow.reasons, []);
    assert.equal(allow.pack, 'governance');
    assert.equal(allow.revision, 'v1');
    assert.match(allow.digest, /^sha256:[0-9a-f]{64}$/);
    assert.equal(gov.verdict(ALLOW_AI).allow, true);
    const deny = gov.verdict(DENY);
    assert.equal(deny.allow, false);
    assert.equal(deny.result, 'deny');
    assert.deepEqual(deny.reasons, ['purpose_not_consented', 'resource_other_tenant']);
  });

  it('answers a repeated context from the cache, each answer with its own decision id', () => {
    const context = { ...ALLOW_CORE, resource: 'acme/invoices/cache-probe' };
    const first = gov.verdict(context);
    const second = gov.verdict(context);
    const reordered = gov.verdict({
      action: context.action,
      resource: context.resource,
      module: context.module,
      subject: context.subject,
      tenant: context.tenant,
    });
    assert.equal(first.cached, false);
    assert.equal(second.cached, true);
    assert.equal(reordered.cached, true, 'the key is the canonical input: field order does not matter');
    assert.equal(new Set([first.decisionId, second.decisionId, reordered.decisionId]).size, 3);
    assert.deepEqual({ ...second, decisionId: '', cached: false }, { ...first, decisionId: '', cached: false });
  });

  it('never uses a default tenant: a missing or malformed tenant is refused with its code', () => {
    const { tenant: _omit, ...noTenant } = ALLOW_CORE;
    assert.throws(() => gov.verdict(noTenant), { code: 'TENANT_MISSING' });
    assert.throws(() => gov.verdict({ ...ALLOW_CORE, tenant: '' }), { code: 'TENANT_MISSING' });
    assert.throws(() => gov.verdict({ ...ALLOW_CORE, tenant: 42 }), { code: 'TENANT_MALFORMED' });
    assert.throws(() => gov.verdict({ ...ALLOW_CORE, tenant: 'ACME/../x' }), { code: 'TENANT_MALFORMED' });
    assert.throws(() => gov.verdict({ ...ALLOW_CORE, role: 'admin' }), { code: 'DECISION_INPUT_INVALID' });
    assert.throws(() => gov.verdict({ ...ALLOW_CORE, action: '' }), { code: 'DECISION_INPUT_INVALID' });
    assert.throws(() => gov.verdict({ ...ALLOW_CORE, resource: 'x'.repeat(2000) }), { code: 'DECISION_INPUT_INVALID' });
  });

  it('over HTTP: 200 for allow and deny, 503 KILL_SWITCH_ACTIVE when blocked, 403/400 for bad contexts', async () => {
    const allow = await post(ALLOW_CORE);
    assert.equal(allow.status, 200);
    assert.equal(allow.body.allow, true);
    assert.equal(allow.headers.get('x-warden-decision-id'), allow.body.decision_id);
    const deny = await post(DENY);
    assert.equal(deny.status, 200);
    assert.deepEqual(deny.body.reasons, ['purpose_not_consented', 'resource_other_tenant']);

    const blocked = await post({
      tenant: 'globex',
      subject: 's',
      module: 'ai_training',
      action: 'train',
      purpose: 'model_improvement',
    });
    assert.equal(blocked.status, 503);
    assert.equal(blocked.body.code, 'KILL_SWITCH_ACTIVE');
    assert.equal(blocked.body.result, 'blocked');
    assert.deepEqual(blocked.body.details, { module: 'ai_training', reason: 'paused for review', source: 'pack' });

    const { tenant: _t, purpose: _p, ...bare } = ALLOW_AI;
    const headers = await post(bare, { 'x-tenant-id': 'acme', 'x-purpose': 'fraud_detection' });
    assert.equal(headers.status, 200, 'X-Tenant-ID and X-Purpose supply tenant and purpose');
    assert.equal(headers.body.allow, true);
    assert.equal((await post(ALLOW_CORE, { 'x-tenant-id': 'globex' })).body.code, 'TENANT_MISMATCH');
    const missing = await post(bare);
    assert.equal(missing.status, 403);
    assert.equal(missing.body.code, 'TENANT_MISSING');
    const invalid = await post({ ...ALLOW_CORE, extra: 1 });
    assert.equal(invalid.status, 400);
    assert.equal(invalid.body.code, 'DECISION_INPUT_INVALID');
    assert.equal((await post([ALLOW_CORE])).status, 400);
  });

  it('counts verdicts by result and times the route under middleware="governance"', async () => {
    const before = await metric(agent, 'governance_decision_count{result="deny"}');
    gov.verdict(DENY);
    assert.equal(await metric(agent, 'governance_decision_count{result="deny"}'), before + 1);
    assert.ok((await metric(agent, 'governance_decision_count{result="blocked"}')) >= 1);
    const text = await agent.metrics.registry.metrics();
    assert.match(
      text,
      /http_request_duration_seconds_count\{route="\/v1\/verdict",method="POST",status_code="200",middleware="governance"\} [1-9]/,
    );
    assert.match(text, /opa_client_latency_seconds_count\{pack="governance",engine="wasm"\} [1-9]/);
  });

  it('does no file or network I/O on the verdict path, decision log on; the log then holds every verdict', async () => {
    const contexts = [
      ALLOW_CORE,
      ALLOW_AI,
      DENY,
      { tenant: 'globex', subject: 's', module: 'ai_training', action: 'train', purpose: 'model_improvement' },
    ];
    const logDir = join(dir, 'decisions');
    await agent.drainDecisionLog();
    const linesBefore = await countLines(logDir);
    const results: Record<Verdict['result'], number> = { allow: 0, deny: 0, blocked: 0 };
    const spy = await spyIo();
    let calls: Record<string, number>;
    try {
      for (let i = 0; i < 5000; i++) {
        const base = contexts[i % contexts.length] ?? ALLOW_CORE;
        // Half repeat (cache hits), half distinct (evaluated).
        const v = gov.verdict(i % 2 === 0 ? base : { ...base, subject: `user-${i}` });
        results[v.result]++;
      }
    } finally {
      calls = { ...spy.calls };
      spy.restore();
    }
    assert.deepEqual(calls, {}, 'no fs or net call during 5,000 verdicts');
    assert.deepEqual(results, { allow: 2500, deny: 1250, blocked: 1250 });
    await agent.drainDecisionLog();
    assert.equal((await countLines(logDir)) - linesBefore, 5000, 'the background writer wrote every verdict');
  });

  it('keeps answering while the decision-log writer thread ends mid-run; the exit is counted and every verdict still logged', async () => {
    // A Governance on the agent's packs with a decision log this test holds, so it can end the log's writer thread.
    const registry = new Registry();
    const logDir = join(dir, 'decisions-writer-exit');
    const decisionLog = new DecisionLog({ dir: logDir, flushIntervalMs: 20, batchSize: 200, registry, log: quiet });
    decisionLog.start();
    const router = new DecisionRouter(agent.packs.map((p) => p.activator));
    router.rebuild();
    const killSwitches = agent.killSwitches;
    assert.ok(killSwitches);
    const g = new Governance({
      decider: new Decider(router, agent.metrics),
      router,
      entrypoint: gov.entrypoint,
      killSwitches,
      decisionLog,
      log: quiet,
    });
    const first = writerThreadOf(decisionLog);
    assert.ok(first);
    const ids: string[] = [];
    for (let i = 0; i < 2000; i++) {
      if (i === 700) await first.terminate();
      const v = g.verdict({ ...ALLOW_CORE, subject: `exit-${i}` });
      assert.equal(v.result, 'allow');
      ids.push(v.decisionId);
      if (i % 50 === 49) await setImmediate();
    }
    await decisionLog.drain(10_000);
    const series = async (name: string): Promise<number> =>
      Number((await registry.getSingleMetric(name)?.get())?.values[0]?.value ?? 0);
    assert.equal(await series('warden_decision_log_writer_exit_total'), 1);
    const logged = new Set(
      (await Promise.all((await readdir(logDir)).map((n) => readFile(join(logDir, n), 'utf8'))))
        .flatMap((t) => t.split('\n'))
        .filter((l) => l !== '')
        .map((l) => (JSON.parse(l) as { decision_id: string }).decision_id),
    );
    assert.deepEqual(
      ids.filter((id) => !logged.has(id)),
      [],
      'every verdict is in the log',
    );
    await decisionLog.close();
  });

  it('flushes the cache on activation: a new governance pack answers at once, never a cached answer of the old one', async () => {
    const context = { ...ALLOW_CORE, resource: 'acme/invoices/flush-probe' };
    assert.equal(gov.verdict(context).allow, true);
    assert.equal(gov.verdict(context).cached, true);
    const flushes = await metric(agent, 'warden_decision_cache_flush_total{reason="activation"}');
    await publish(
      packs(),
      'governance',
      await governancePack(2, (data) => {
        const acme = data.governance.tenants.acme;
        if (acme) acme.modules = acme.modules.filter((m) => m !== 'billing');
      }),
      key.privateKey,
    );
    await eventually(() =>
      Promise.resolve(agent.packs.find((p) => p.config.name === 'governance')?.activator.current?.revision === 'v2'),
    );
    const after = gov.verdict(context);
    assert.equal(after.cached, false);
    assert.equal(after.revision, 'v2');
    assert.deepEqual(after.reasons, ['module_not_enabled']);
    assert.ok((await metric(agent, 'warden_decision_cache_flush_total{reason="activation"}')) > flushes);
  });

  it('takes kill-switch updates through verify → store → activate, and keeps the last good state when one is bad', async () => {
    assert.equal(gov.verdict(ALLOW_AI).result, 'allow');
    await publish(
      packs(),
      'killswitches',
      await killSwitchPack(2, { ai_inference: { active: true, reason: 'model incident 42' } }),
      key.privateKey,
    );
    await eventually(() => Promise.resolve(gov.verdict(ALLOW_AI).result === 'blocked'));
    assert.equal(gov.verdict(ALLOW_AI).killSwitch?.reason, 'model incident 42');
    assert.equal(
      gov.verdict({
        tenant: 'globex',
        subject: 's',
        module: 'ai_training',
        action: 'train',
        purpose: 'model_improvement',
      }).result,
      'allow',
      'ai_training is no longer listed: open',
    );

    // Signed by someone else: refused; the switch stays as it was.
    const refusedBefore = await metric(
      agent,
      'policy_reload_failure_total{pack="killswitches",source="file",code="SIGNATURE_KEY_UNKNOWN"}',
    );
    await publish(packs(), 'killswitches', await killSwitchPack(3, {}), p256().privateKey);
    await eventually(
      async () =>
        (await metric(
          agent,
          'policy_reload_failure_total{pack="killswitches",source="file",code="SIGNATURE_KEY_UNKNOWN"}',
        )) > refusedBefore,
    );
    assert.equal(gov.verdict(ALLOW_AI).result, 'blocked');

    await publish(
      packs(),
      'killswitches',
      await killSwitchPack(4, { ai_inference: { active: false } }),
      key.privateKey,
    );
    await eventually(() => Promise.resolve(gov.verdict(ALLOW_AI).result === 'allow'));
  });

  it('refuses a governance pack without the verdict entrypoint (GOVERNANCE_PACK_INVALID); the last good one keeps answering', async () => {
    const folder = await writeTree(tempDir(), {
      'warden.yaml': 'name: governance\nentrypoints: [governance/allow, governance/modules]\n',
      'policy.rego': 'package governance\n\ndefault allow := false\n\nmodules := {"billing": {"risk": "core"}}\n',
    });
    const built = await buildPack({ dir: folder, sequence: 100 });
    const active = agent.packs.find((p) => p.config.name === 'governance')?.activator;
    const digest = active?.current?.digest;
    await publish(packs(), 'governance', built.bytes, key.privateKey);
    await eventually(
      async () =>
        (await metric(
          agent,
          'policy_reload_failure_total{pack="governance",source="file",code="GOVERNANCE_PACK_INVALID"}',
        )) === 1,
    );
    assert.equal(active?.current?.digest, digest);
    assert.equal(gov.verdict(ALLOW_AI).allow, true);
  });

  it('wrote boot evidence for the governance pack it booted on', async () => {
    const path = await agent.evidence;
    assert.ok(path);
    const doc = JSON.parse(await readFile(path, 'utf8')) as {
      policy: { pack: string; digest: string };
      config_digest: string;
      packs: unknown[];
    };
    assert.equal(doc.policy.pack, 'governance');
    assert.equal(path, join(dir, 'evidence', doc.policy.digest.slice('sha256:'.length), 'boot.json'));
    assert.equal(doc.packs.length, 2, 'the governance and kill-switch packs');
  });
});

// NDJSON lines in every file of dir (0 if none yet).
async function countLines(dir: string): Promise<number> {
  const names = await readdir(dir).catch(() => [] as string[]);
  let n = 0;
  for (const name of names) n += (await readFile(join(dir, name), 'utf8')).split('\n').filter(Boolean).length;
  return n;
}
