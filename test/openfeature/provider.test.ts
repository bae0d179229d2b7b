/**
 * The OpenFeature provider with the real server SDK over a real in-process
 * agent (directory sources, the real opa building the packs): flags of every
 * kind through `OpenFeature.getClient()`, hooks, the evaluation context as the
 * input, cold start, and provider events driven by the agent's sources.
 */
import assert from 'node:assert/strict';
import { readdir, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, it } from 'node:test';
import {
  ErrorCode,
  OpenFeature,
  ProviderEvents,
  ProviderStatus,
  StandardResolutionReasons,
  type EvaluationDetails,
  type EventDetails,
  type FlagValue,
  type Hook,
} from '@openfeature/server-sdk';
import Fastify from 'fastify';
import { WardenProvider } from '../../src/index.js';
import { writeTree } from '../helpers/fs.js';
import { ALLOW_CORE } from '../helpers/governance.js';
import { eventually } from '../helpers/wait.js';
import { killSwitchFiles, SWITCHES, startTestAgent, type TestAgent } from './fixtures.js';

const started: TestAgent[] = [];

async function agentWithProvider(
  opts: {
    coldStart?: boolean;
    decisionLog?: boolean;
    provider?: ConstructorParameters<typeof WardenProvider>[1];
  } = {},
): Promise<TestAgent & { provider: WardenProvider }> {
  const t = await startTestAgent({ coldStart: opts.coldStart ?? false, decisionLog: opts.decisionLog ?? false });
  started.push(t);
  const provider = new WardenProvider(t.agent, opts.provider);
  await OpenFeature.setProviderAndWait(provider);
  return { ...t, provider };
}

// The active digest of pack `name`.
function digestOf(t: TestAgent, name: string): string | undefined {
  return t.agent.packs.find((p) => p.config.name === name)?.activator.current?.digest;
}

afterEach(async () => {
  // The OpenFeature API is a process-wide singleton: every test starts from a clean one.
  await OpenFeature.close();
  await OpenFeature.clearProviders();
  OpenFeature.clearHooks();
  OpenFeature.clearHandlers();
  for (const t of started.splice(0)) await t.agent.close();
});

describe('OpenFeature provider', () => {
  it('resolves kill switches as boolean flags: STATIC, on/off, metadata of the kill-switch pack', async () => {
    const t = await agentWithProvider();
    const client = OpenFeature.getClient();
    assert.equal(client.providerStatus, ProviderStatus.READY);
    assert.equal(client.metadata.providerMetadata.name, 'warden');

    const training = await client.getBooleanDetails('kill-switch.ai_training', false);
    assert.equal(training.value, true);
    assert.equal(training.reason, StandardResolutionReasons.STATIC);
    assert.equal(training.variant, 'on');
    assert.equal(training.errorCode, undefined);
    assert.deepEqual(training.flagMetadata, {
      pack: 'killswitches',
      digest: digestOf(t, 'killswitches'),
      revision: '1',
      stale: false,
      source: 'pack',
      switchReason: 'training paused pending model review',
    });

    const billing = await client.getBooleanDetails('kill-switch.billing', true);
    assert.equal(billing.value, false);
    assert.equal(billing.variant, 'off');
    // A module the governance pack declares (risk) but the state does not list: open.
    assert.equal(await client.getBooleanValue('kill-switch.reporting', true), false);

    assert.deepEqual(await client.getObjectValue('kill-switch.ai_training', {}), {
      active: true,
      reason: 'training paused pending model review',
      source: 'pack',
    });

    const unknown = await client.getBooleanDetails('kill-switch.no_such_module', true);
    assert.equal(unknown.value, true, "the caller's default");
    assert.equal(unknown.reason, StandardResolutionReasons.ERROR);
    assert.equal(unknown.errorCode, ErrorCode.FLAG_NOT_FOUND);

    const asString = await client.getStringDetails('kill-switch.billing', 'x');
    assert.equal(asString.errorCode, ErrorCode.TYPE_MISMATCH);
    assert.equal(asString.value, 'x');
  });

  it('resolves verdicts: the context is the verdict context, CACHED on a cache hit, STATIC when blocked', async () => {
    const t = await agentWithProvider();
    const client = OpenFeature.getClient();
    const { tenant, subject, action, resource } = ALLOW_CORE;
    const context = { targetingKey: subject, tenant, action, resource };

    const first = await client.getBooleanDetails('verdict.billing', false, context);
    assert.equal(first.value, true);
    assert.equal(first.reason, StandardResolutionReasons.TARGETING_MATCH);
    assert.equal(first.variant, 'allow');
    assert.equal(first.flagMetadata.pack, 'governance');
    assert.equal(first.flagMetadata.digest, digestOf(t, 'governance'));
    assert.equal(typeof first.flagMetadata.decisionId, 'string');
    const again = await client.getBooleanDetails('verdict.billing', false, context);
    assert.equal(again.reason, StandardResolutionReasons.CACHED);
    assert.notEqual(again.flagMetadata.decisionId, first.flagMetadata.decisionId);

    // Another tenant's resource: denied, with the policy's reasons.
    const denied = await client.getObjectDetails('verdict.billing', {}, { ...context, resource: 'globex/invoices/1' });
    assert.equal(denied.variant, 'deny');
    assert.equal((denied.value as { allow: boolean }).allow, false);
    assert.ok((denied.value as { reasons: string[] }).reasons.length > 0);

    const blocked = await client.getStringDetails('verdict.ai_training', '', {
      targetingKey: 'svc',
      tenant: 'acme',
      action: 'train',
    });
    assert.equal(blocked.value, 'blocked');
    assert.equal(blocked.reason, StandardResolutionReasons.STATIC);
    assert.equal(blocked.flagMetadata.killSwitchSource, 'pack');

    const noTenant = await client.getBooleanDetails('verdict.billing', false, { targetingKey: subject, action });
    assert.equal(noTenant.errorCode, ErrorCode.INVALID_CONTEXT);
    assert.match(noTenant.errorMessage ?? '', /^TENANT_MISSING: /);
    assert.equal(noTenant.flagMetadata.wardenCode, 'TENANT_MISSING');
    const noSubject = await client.getBooleanDetails('verdict.billing', false, { tenant, action });
    assert.equal(noSubject.errorCode, ErrorCode.TARGETING_KEY_MISSING);
    const twoSubjects = await client.getBooleanDetails('verdict.billing', false, { ...context, subject: 'bob' });
    assert.equal(twoSubjects.errorCode, ErrorCode.INVALID_CONTEXT);
    assert.equal((await client.getNumberDetails('verdict.billing', 0, context)).errorCode, ErrorCode.TYPE_MISMATCH);
  });

  it('resolves decision paths of every type; the context reaches the input; hooks see the evaluation and metadata', async () => {
    const t = await agentWithProvider();
    const seen: { before: Record<string, unknown>[]; after: EvaluationDetails<FlagValue>[]; errors: unknown[] } = {
      before: [],
      after: [],
      errors: [],
    };
    const hook: Hook = {
      before: (hc) => void seen.before.push({ flagKey: hc.flagKey, ...hc.context }),
      after: (_hc, details) => void seen.after.push(details),
      error: (_hc, err) => void seen.errors.push(err),
    };
    OpenFeature.addHooks(hook);
    const client = OpenFeature.getClient();

    const allow = await client.getBooleanDetails('authz/allow', false, { targetingKey: 'alice' });
    assert.equal(allow.value, true);
    assert.equal(allow.reason, StandardResolutionReasons.TARGETING_MATCH);
    assert.equal(allow.variant, 'true');
    assert.equal(allow.flagMetadata.pack, 'authz');
    assert.equal(allow.flagMetadata.revision, '1');
    assert.equal(allow.flagMetadata.digest, digestOf(t, 'authz'));
    assert.equal(await client.getBooleanValue('authz/allow', true, { targetingKey: 'bob' }), false);
    assert.equal(await client.getBooleanValue('authz/allow', false, { targetingKey: 'bob', role: 'admin' }), true);

    assert.equal(await client.getStringValue('authz/level', 'none', { targetingKey: 'alice' }), 'gold');
    const undefinedLevel = await client.getStringDetails('authz/level', 'none', { targetingKey: 'bob' });
    assert.equal(undefinedLevel.value, 'none', 'undefined for this input: the default');
    assert.equal(undefinedLevel.reason, StandardResolutionReasons.DEFAULT);
    assert.equal(undefinedLevel.errorCode, undefined);

    assert.equal(await client.getNumberValue('authz/limit', 0, { teams: ['a', 'b'] }), 20);
    const profile = await client.getObjectValue(
      'authz/profile',
      {},
      {
        targetingKey: 'carol',
        tier: 'pro',
        when: new Date('2026-01-02T03:04:05Z'),
      },
    );
    assert.deepEqual(profile, { subject: 'carol', tier: 'pro' });

    const mismatch = await client.getStringDetails('authz/allow', 'x', { targetingKey: 'alice' });
    assert.equal(mismatch.errorCode, ErrorCode.TYPE_MISMATCH);
    assert.equal(mismatch.value, 'x');
    assert.equal(mismatch.flagMetadata.pack, 'authz', 'the metadata says which version answered');
    const notFound = await client.getBooleanDetails('nothing/here', true);
    assert.equal(notFound.errorCode, ErrorCode.FLAG_NOT_FOUND);
    assert.equal(notFound.value, true);

    assert.deepEqual(seen.before[0], { flagKey: 'authz/allow', targetingKey: 'alice' });
    assert.equal(seen.after[0]?.flagMetadata.digest, digestOf(t, 'authz'));
    assert.equal(seen.after[0]?.reason, StandardResolutionReasons.TARGETING_MATCH);
    assert.equal(seen.errors.length, 2, 'the type mismatch and the unknown flag reach the error hooks');
  });

  it('logs decision-path flags to the decision log as the data API does: decision id, path, input, result, bundles', async () => {
    const t = await agentWithProvider({ decisionLog: true });
    const client = OpenFeature.getClient();
    const allow = await client.getBooleanDetails('authz/allow', false, { targetingKey: 'alice' });
    const level = await client.getStringDetails('authz/level', 'none', { targetingKey: 'bob' });
    assert.equal(level.reason, StandardResolutionReasons.DEFAULT, 'an undefined decision is still a decision');
    const mismatch = await client.getStringDetails('authz/allow', 'x', { targetingKey: 'bob' });
    assert.equal(mismatch.errorCode, ErrorCode.TYPE_MISMATCH);
    const notFound = await client.getBooleanDetails('nothing/here', true);
    assert.equal(notFound.errorCode, ErrorCode.FLAG_NOT_FOUND);
    await t.agent.drainDecisionLog();

    const dir = join(t.dir, 'decisions');
    const events = (await Promise.all((await readdir(dir)).map((n) => readFile(join(dir, n), 'utf8'))))
      .flatMap((text) => text.split('\n'))
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    const byId = new Map(events.map((e) => [e.decision_id, e]));
    const revision = { authz: { revision: '1' } };
    for (const [details, input, result] of [
      [allow, { subject: 'alice' }, true],
      [level, { subject: 'bob' }, undefined],
      [mismatch, { subject: 'bob' }, false],
    ] as const) {
      const id = details.flagMetadata.decisionId;
      assert.equal(typeof id, 'string');
      const event = byId.get(id);
      assert.ok(event, `decision ${String(id)} is in the log`);
      assert.equal(event.path, details.flagKey);
      assert.deepEqual(event.input, input);
      assert.deepEqual(event.result, result);
      assert.deepEqual(event.bundles, revision);
      assert.equal(event.requested_by, 'openfeature');
    }
    assert.equal(events.length, 3, 'the unknown flag decided nothing and logged nothing');
  });

  it('emits CONFIGURATION_CHANGED with flagsChanged on an activation, STALE when a source fails, READY when it is back', async () => {
    const t = await agentWithProvider();
    const client = OpenFeature.getClient();
    const changes: EventDetails[] = [];
    const stale: EventDetails[] = [];
    const ready: EventDetails[] = [];
    client.addHandler(ProviderEvents.ConfigurationChanged, (d) => void (d && changes.push(d)));
    client.addHandler(ProviderEvents.Stale, (d) => void (d && stale.push(d)));
    client.addHandler(ProviderEvents.Ready, (d) => void (d && ready.push(d)));
    const readyAtStart = ready.length; // a handler added when the provider is ready runs at once

    await writeTree(
      t.killswitch,
      killSwitchFiles('2', { ...SWITCHES, billing: { active: true, reason: 'migration' } }),
    );
    // The source may see the files in two steps (two activations): wait for the one that switched billing.
    const switched = (): EventDetails | undefined =>
      changes.find((c) => (c.flagsChanged as string[] | undefined)?.includes('kill-switch.billing'));
    await eventually(() => switched() !== undefined, { what: 'PROVIDER_CONFIGURATION_CHANGED for billing' });
    assert.deepEqual(switched()?.flagsChanged, ['kill-switch.billing', 'killswitch/state', 'verdict.billing']);
    assert.equal(switched()?.metadata?.pack, 'killswitches');
    await eventually(() => changes.at(-1)?.metadata?.digest === digestOf(t, 'killswitches'));
    const billing = await client.getBooleanDetails('kill-switch.billing', false);
    assert.equal(billing.value, true);
    assert.equal(billing.flagMetadata.revision, '2');

    // The folder vanishes: the source fails, the pack keeps answering, stale.
    await rename(t.killswitch, join(t.dir, 'away'));
    await eventually(() => stale.length > 0, { what: 'PROVIDER_STALE' });
    assert.equal(client.providerStatus, ProviderStatus.STALE);
    assert.equal(stale[0]?.metadata?.pack, 'killswitches');
    const whileStale = await client.getBooleanDetails('kill-switch.billing', false);
    assert.equal(whileStale.value, true, 'the last state still answers');
    assert.equal(whileStale.flagMetadata.stale, true);

    await rename(join(t.dir, 'away'), t.killswitch);
    await eventually(() => ready.length > readyAtStart, { what: 'PROVIDER_READY after the source is back' });
    assert.equal(client.providerStatus, ProviderStatus.READY);
    assert.equal((await client.getBooleanDetails('kill-switch.billing', false)).flagMetadata.stale, false);
  });

  it('cold start: kill-switch flags are PROVIDER_NOT_READY (the caller default) until a state loads; PROVIDER_ERROR while its only update is refused', async () => {
    const t = await agentWithProvider({ coldStart: true });
    const client = OpenFeature.getClient();
    assert.equal(
      client.providerStatus,
      ProviderStatus.READY,
      'the agent serves; only the kill-switch state is missing',
    );

    const ai = await client.getBooleanDetails('kill-switch.ai_inference', true);
    assert.equal(ai.value, true, "the caller's (fail-safe) default");
    assert.equal(ai.errorCode, ErrorCode.PROVIDER_NOT_READY);
    assert.equal(ai.reason, StandardResolutionReasons.ERROR, 'the SDK reports an error code with reason ERROR');
    assert.deepEqual(ai.flagMetadata, { source: 'cold_start', coldStartActive: true });
    // A path no active pack declares while a pack is still missing: not ready rather than not found.
    assert.equal((await client.getBooleanDetails('killswitch/state', false)).errorCode, ErrorCode.PROVIDER_NOT_READY);
    // The verdict itself answers: Warden's cold-start default blocks high-risk modules.
    const verdict = await client.getStringDetails('verdict.ai_inference', '', {
      targetingKey: 'svc-fraud',
      tenant: 'acme',
      action: 'invoke',
      resource: 'acme/tx/9',
      purpose: 'fraud_detection',
    });
    assert.equal(verdict.value, 'blocked');
    assert.equal(verdict.flagMetadata.killSwitchSource, 'cold_start');

    // A kill-switch pack that does not build, with nothing active to keep: PROVIDER_ERROR.
    const errors: EventDetails[] = [];
    client.addHandler(ProviderEvents.Error, (d) => void (d && errors.push(d)));
    await writeTree(t.killswitch, {
      ...killSwitchFiles('0', SWITCHES),
      'policy.rego': 'package killswitch\n\nstate := {',
    });
    await eventually(() => errors.length > 0, { what: 'PROVIDER_ERROR' });
    assert.equal(client.providerStatus, ProviderStatus.ERROR);
    assert.equal(errors[0]?.metadata?.pack, 'killswitches');

    const changed: EventDetails[] = [];
    const readyAgain: EventDetails[] = [];
    client.addHandler(ProviderEvents.ConfigurationChanged, (d) => void (d && changed.push(d)));
    client.addHandler(ProviderEvents.Ready, (d) => void (d && readyAgain.push(d)));
    await writeTree(t.killswitch, killSwitchFiles('1', SWITCHES));
    await eventually(() => changed.length > 0, { what: 'the kill-switch state loading' });
    assert.ok(
      (changed[0]?.flagsChanged as string[] | undefined)?.includes('kill-switch.ai_inference'),
      JSON.stringify(changed[0]),
    );
    await eventually(() => readyAgain.length > 0, { what: 'PROVIDER_READY once the pack is active' });
    assert.equal(client.providerStatus, ProviderStatus.READY);
    const loaded = await client.getBooleanDetails('kill-switch.ai_inference', true);
    assert.equal(loaded.value, false);
    assert.equal(loaded.reason, StandardResolutionReasons.STATIC);
  });

  it("cold start with coldStart: 'warden' answers Warden's own risk-based default, reason DEFAULT", async () => {
    await agentWithProvider({ coldStart: true, provider: { coldStart: 'warden' } });
    const client = OpenFeature.getClient();
    const ai = await client.getBooleanDetails('kill-switch.ai_inference', false);
    assert.equal(ai.value, true, 'high risk: blocked until a state loads');
    assert.equal(ai.reason, StandardResolutionReasons.DEFAULT);
    assert.equal(ai.variant, 'cold_start');
    assert.equal(ai.errorCode, undefined);
    assert.equal(await client.getBooleanValue('kill-switch.billing', true), false, 'core: open');
  });

  it('answers inside a Fastify route: an SDK client decides a real HTTP request', async () => {
    await agentWithProvider();
    const client = OpenFeature.getClient('orders-api');
    const app = Fastify();
    app.get<{ Params: { id: string } }>('/invoices/:id', async (request, reply) => {
      const tenant = request.headers['x-tenant-id'];
      const context = {
        targetingKey: String(request.headers['x-user'] ?? ''),
        ...(typeof tenant === 'string' ? { tenant } : {}),
        action: 'read',
        resource: `acme/invoices/${request.params.id}`,
      };
      if (await client.getBooleanValue('kill-switch.billing', true)) return reply.code(503).send({ blocked: true });
      const verdict = await client.getBooleanDetails('verdict.billing', false, context);
      return reply
        .code(verdict.value ? 200 : 403)
        .send({ allow: verdict.value, decision: verdict.flagMetadata.decisionId, error: verdict.errorCode });
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    try {
      const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
      const ok = await fetch(`${url}/invoices/7`, { headers: { 'x-tenant-id': 'acme', 'x-user': 'alice' } });
      assert.equal(ok.status, 200);
      const body = (await ok.json()) as { allow: boolean; decision: string };
      assert.equal(body.allow, true);
      assert.match(body.decision, /\S/);
      const other = await fetch(`${url}/invoices/7`, { headers: { 'x-tenant-id': 'globex', 'x-user': 'alice' } });
      assert.equal(other.status, 403, "globex may not read acme's invoice");
      const anonymous = await fetch(`${url}/invoices/7`, { headers: { 'x-user': 'alice' } });
      assert.equal(anonymous.status, 403);
      assert.equal(((await anonymous.json()) as { error: string }).error, ErrorCode.INVALID_CONTEXT);
    } finally {
      await app.close();
    }
  });

  it('onClose unsubscribes: a closed provider hears no more activations', async () => {
    const t = await agentWithProvider();
    let heard = 0;
    t.provider.events.addHandler(ProviderEvents.ConfigurationChanged, () => void heard++);
    await OpenFeature.close();
    // The agent's own subscribers still hear the activation; the provider does not.
    let agentHeard = 0;
    t.agent.events.subscribe(['policy.updated'], () => void agentHeard++);
    await writeTree(t.killswitch, killSwitchFiles('3', SWITCHES));
    await eventually(() => agentHeard > 0, { what: 'the activation on the bus' });
    assert.equal(heard, 0);
  });
});
