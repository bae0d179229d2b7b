/**
 * Shadow rollout in-process: an Activator in rollout mode shadow (in-memory
 * store, real signed packs, the real engine), the Decider and the real
 * ShadowEvaluator. Sampling is exact and bounded, a full queue drops (counted),
 * offering decisions to a shadow costs the request path no I/O, the gate refuses
 * a deny → allow (event, history, counts) and promotes a candidate with no
 * behavioural change through the normal activation path, an operator promotes by
 * hand, and a rollback or pin during a shadow cancels it coherently.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Activator } from '../../src/activate/activator.js';
import { Decider } from '../../src/decide/decider.js';
import { DecisionRouter } from '../../src/decide/router.js';
import { isWardenError } from '../../src/errors.js';
import type { NewEvent } from '../../src/notify/events.js';
import { createLogger } from '../../src/observe/logger.js';
import { WardenMetrics } from '../../src/observe/metrics.js';
import { ShadowEvaluator } from '../../src/shadow/evaluator.js';
import type { ShadowSettings } from '../../src/shadow/settings.js';
import type { PackUpdate } from '../../src/source/types.js';
import { sha256Digest } from '../../src/verify/digest.js';
import { keyTrust } from '../../src/verify/trust.js';
import { MemoryStore } from '../activate/memory-store.js';
import { tempDir } from '../helpers/fs.js';
import { spyIo } from '../helpers/io-spy.js';
import { p256, signedBundle } from '../helpers/packs.js';
import { eventually } from '../helpers/wait.js';
import { BASE_ROLES, FLIPPED_ROLES, tenantInputs, tenantPack } from './tenant-packs.js';

const key = p256();
const who = { actor: 'ops', reason: 'test' };

function settings(over: Partial<ShadowSettings> = {}, gate: Partial<ShadowSettings['gate']> = {}): ShadowSettings {
  return {
    sample: 1,
    queueLimit: 10_000,
    logMaxBytes: 1 << 20,
    ...over,
    gate: { minDecisions: 60, maxDiffRate: 0.5, allowDenyToAllow: false, autoPromote: true, ...gate },
  };
}

interface Setup {
  a: Activator;
  store: MemoryStore;
  decider: Decider;
  shadows: ShadowEvaluator;
  events: NewEvent[];
  metrics: WardenMetrics;
  dir: string;
}

// An activator in rollout mode shadow, with a decider and an evaluator (no timer: tests drain by hand).
function setup(s: ShadowSettings): Setup {
  const store = new MemoryStore();
  const metrics = new WardenMetrics({ defaultMetrics: false });
  const events: NewEvent[] = [];
  const dir = tempDir('warden-shadow-');
  const shadows = new ShadowEvaluator({ dir, log: createLogger('silent'), registry: metrics.registry });
  const activators: Activator[] = [];
  const router = new DecisionRouter(activators);
  const a = new Activator({
    name: 'authz',
    sourceKind: 'http',
    origin: 'test',
    trust: keyTrust({ publicKeys: [{ pem: key.publicPem }] }),
    store,
    limits: {},
    metrics,
    log: createLogger('silent'),
    emit: (e) => void events.push(e),
    onActivated: () => router.rebuild(),
    rollout: { start: shadows.starter(s) },
  });
  activators.push(a);
  return { a, store, decider: new Decider(router, metrics), shadows, events, metrics, dir };
}

async function update(sequence: number, roles: Record<string, string[]>): Promise<PackUpdate> {
  const pack = await tenantPack(sequence, roles);
  return {
    pack,
    signature: await signedBundle(pack, key.privateKey),
    etag: undefined,
    origin: `test/r${sequence}`,
    correlationId: `c${sequence}`,
  };
}

// The first version, activated: a pack's first version has nothing to be compared with.
async function withActive(x: Setup): Promise<string> {
  const u = await update(1, BASE_ROLES);
  await x.store.commit('authz', { pack: u.pack, signature: u.signature, version: versionOf(u) }, true);
  assert.equal(await x.a.boot(), true);
  return sha256Digest(u.pack);
}

function versionOf(u: PackUpdate): {
  digest: string;
  revision: string;
  sequence: number;
  signer: string;
  origin: string;
} {
  return { digest: sha256Digest(u.pack), revision: 'r1', sequence: 1, signer: 'test', origin: u.origin };
}

function ask(decider: Decider, inputs: ReturnType<typeof tenantInputs>): void {
  for (const input of inputs) {
    const d = decider.decideJson('authz/allow', JSON.stringify(input));
    assert.ok(!(d instanceof Promise));
  }
}

async function metric(m: WardenMetrics, name: string, labels: Record<string, string>): Promise<number> {
  const found = (await m.registry.getSingleMetric(name)?.get())?.values.find((v) =>
    Object.entries(labels).every(([k, val]) => v.labels[k] === val),
  );
  return found?.value ?? 0;
}

// The running shadow's digest (a getter read afresh: no narrowing from an earlier assertion).
function shadowOf(a: Activator): string | undefined {
  return a.shadow?.pack.digest;
}

describe('shadow rollout', () => {
  it('a new version becomes the shadow, not active; sampling takes exactly one decision in ten; a full queue drops the oldest, counted', async () => {
    const x = setup(settings({ sample: 0.1, queueLimit: 10 }, { minDecisions: 1_000_000 }));
    const v1 = await withActive(x);
    const outcome = await x.a.submit(await update(2, FLIPPED_ROLES));
    assert.equal(outcome.status, 'recorded');
    assert.equal(x.a.current?.digest, v1, 'the active version keeps answering');
    assert.ok(x.a.shadow, 'a shadow runs');
    assert.equal(x.a.status().last_reload?.result, 'shadow');
    ask(x.decider, tenantInputs(1000 / 6 + 1).slice(0, 1000));
    const p = x.a.status().shadow;
    assert.equal(p?.sampled, 100, 'exactly 10 % of 1000');
    assert.equal(p?.dropped, 90, 'a ring of 10 keeps the newest 10');
    await x.shadows.drain();
    assert.equal(x.a.status().shadow?.decisions, 10);
    assert.equal(await metric(x.metrics, 'policy_shadow_dropped_total', { pack: 'authz' }), 90);
    assert.equal(await metric(x.metrics, 'policy_shadow_active', { pack: 'authz' }), 1);
    assert.equal(x.store.snapshot.versions.find((v) => v.number === 2)?.shadow?.result, 'running');
    assert.deepEqual(
      x.events.map((e) => e.type),
      ['policy.version_created', 'policy.shadow_started'],
    );
  });

  it('offering decisions to a shadow does no file or network I/O on the request path', async () => {
    const x = setup(settings({ queueLimit: 20_000 }, { minDecisions: 1_000_000 }));
    await withActive(x);
    await x.a.submit(await update(2, FLIPPED_ROLES));
    const inputs = tenantInputs(1000); // 6,000 decisions, every one sampled
    const spy = await spyIo();
    let during: Record<string, number>;
    try {
      ask(x.decider, inputs);
      during = { ...spy.calls };
    } finally {
      spy.restore();
    }
    assert.deepEqual(during, {}, 'no fs or net call while 6,000 decisions were offered');
    assert.equal(x.a.status().shadow?.sampled, 6000);
    assert.equal(x.a.status().shadow?.decisions, 0, 'nothing evaluated on the request path');
    await x.shadows.drain();
    assert.equal(x.a.status().shadow?.decisions, 6000);
  });

  it('refuses a shadow with a deny → allow under the gate: event, history with its counts, metric, the shadow log; not shadowed again', async () => {
    const x = setup(settings({}, { minDecisions: 60 }));
    const v1 = await withActive(x);
    const u2 = await update(2, FLIPPED_ROLES);
    await x.a.submit(u2);
    ask(x.decider, tenantInputs(10)); // 60 decisions: 10 of them t2 viewers
    await x.shadows.drain();
    await eventually(() => x.a.shadow === undefined);
    assert.equal(x.a.current?.digest, v1);
    const refused = x.events.find((e) => e.type === 'policy.shadow_refused');
    assert.equal(refused?.data.code, 'SHADOW_REFUSED');
    assert.equal(refused?.data.decisions, 60);
    assert.deepEqual(refused?.data.outcomes, {
      unchanged: 50,
      allow_to_deny: 0,
      deny_to_allow: 10,
      value_changed: 0,
      became_undefined: 0,
      became_defined: 0,
      error: 0,
    });
    assert.match(String(refused?.data.reason), /10 of 60 shadow decisions went from deny to allow/);
    const history = x.store.snapshot.versions.find((v) => v.digest === sha256Digest(u2.pack))?.shadow;
    assert.equal(history?.result, 'refused');
    assert.equal(history?.decisions, 60);
    assert.equal(history?.outcomes.deny_to_allow, 10);
    assert.equal(x.a.status().last_error?.code, 'SHADOW_REFUSED');
    assert.equal(await metric(x.metrics, 'policy_shadow_refused_total', { pack: 'authz' }), 1);
    assert.equal(await metric(x.metrics, 'policy_shadow_active', { pack: 'authz' }), 0);
    assert.equal(
      await metric(x.metrics, 'policy_shadow_decisions_total', { pack: 'authz', outcome: 'deny_to_allow' }),
      10,
    );
    const lines = (await readFile(join(x.dir, 'authz.ndjson'), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(lines.length, 10, 'the changed decisions only');
    assert.deepEqual(lines[0]?.input, { tenant: 't2', role: 'viewer', user: 'u0' });
    assert.deepEqual(lines[0]?.active, { result: false });
    assert.deepEqual(lines[0]?.candidate, { result: true });
    assert.equal(lines[0]?.outcome, 'deny_to_allow');
    // The source delivers the refused version again: recorded, not shadowed again.
    assert.equal((await x.a.submit(u2)).status, 'recorded');
    assert.equal(x.a.shadow, undefined);
  });

  it('promotes a shadow with no behavioural change once the gate holds, through the normal activation path', async () => {
    const x = setup(settings({}, { minDecisions: 60 }));
    const v1 = await withActive(x);
    const u2 = await update(2, BASE_ROLES);
    await x.a.submit(u2);
    ask(x.decider, tenantInputs(10));
    await x.shadows.drain();
    await eventually(() => x.a.current?.digest === sha256Digest(u2.pack));
    assert.equal(x.a.shadow, undefined);
    assert.equal(x.store.snapshot.active, sha256Digest(u2.pack));
    assert.equal(x.store.snapshot.lastKnownGood, v1, 'the previous active is the last-known-good');
    const types = x.events.map((e) => e.type);
    assert.deepEqual(types.slice(-2), ['policy.shadow_promoted', 'policy.updated']);
    const promoted = x.events.find((e) => e.type === 'policy.shadow_promoted');
    assert.equal(promoted?.data.actor, 'warden');
    assert.equal(promoted?.data.decisions, 60);
    const history = x.store.snapshot.versions.find((v) => v.digest === sha256Digest(u2.pack))?.shadow;
    assert.equal(history?.result, 'promoted');
    assert.equal(history?.outcomes.unchanged, 60);
    assert.equal(await metric(x.metrics, 'policy_shadow_promoted_total', { pack: 'authz' }), 1);
    // The promoted version answers.
    const d = x.decider.decideJson('authz/allow', JSON.stringify({ tenant: 't1', role: 'admin' }));
    assert.ok(!(d instanceof Promise));
    assert.equal(d.digest, sha256Digest(u2.pack));
  });

  it('without auto_promote the gate holds and waits; an operator promotes; promote with no shadow is SHADOW_NOT_RUNNING', async () => {
    const x = setup(settings({}, { minDecisions: 6, autoPromote: false }));
    await withActive(x);
    const u2 = await update(2, BASE_ROLES);
    await x.a.submit(u2);
    ask(x.decider, tenantInputs(2));
    await x.shadows.drain();
    assert.equal(x.a.status().shadow?.gate.state, 'passed');
    assert.ok(x.a.shadow, 'still a shadow: it waits for an operator');
    const active = await x.a.promote({ actor: 'ops', reason: 'looks right' });
    assert.equal(active.digest, sha256Digest(u2.pack));
    const history = x.store.snapshot.versions.find((v) => v.digest === active.digest)?.shadow;
    assert.equal(history?.result, 'promoted');
    assert.equal(history?.actor, 'ops');
    await assert.rejects(x.a.promote(who), (err) => isWardenError(err, 'SHADOW_NOT_RUNNING'));
  });

  it('a rollback during a shadow cancels it and pins; a new version is then recorded; unpin shadows the newest, never activates it', async () => {
    const x = setup(settings({}, { minDecisions: 1_000_000 }));
    const v1 = await withActive(x);
    const u2 = await update(2, FLIPPED_ROLES);
    await x.a.submit(u2);
    await x.a.rollback({ digest: v1 }, who);
    assert.equal(x.a.shadow, undefined);
    assert.equal(x.a.status().pinned, true);
    assert.equal(
      x.store.snapshot.versions.find((v) => v.digest === sha256Digest(u2.pack))?.shadow?.result,
      'cancelled',
    );
    const cancelled = x.events.find((e) => e.type === 'policy.shadow_cancelled');
    assert.equal(cancelled?.data.result, 'cancelled');
    assert.equal(cancelled?.data.actor, 'ops');
    const u3 = await update(3, BASE_ROLES);
    assert.equal((await x.a.submit(u3)).status, 'recorded');
    assert.equal(x.a.shadow, undefined, 'pinned: recorded, not shadowed');
    await x.a.unpin(who);
    assert.equal(x.a.current?.digest, v1, 'unpin does not activate past the gate');
    assert.equal(shadowOf(x.a), sha256Digest(u3.pack), 'the newest version is the shadow');
    // A newer version supersedes the running shadow.
    const u4 = await update(4, BASE_ROLES);
    await x.a.submit(u4);
    assert.equal(shadowOf(x.a), sha256Digest(u4.pack));
    assert.equal(
      x.store.snapshot.versions.find((v) => v.digest === sha256Digest(u3.pack))?.shadow?.result,
      'superseded',
    );
    // Pinning cancels the shadow too.
    await x.a.pin(who);
    assert.equal(x.a.shadow, undefined);
    assert.equal(
      x.store.snapshot.versions.find((v) => v.digest === sha256Digest(u4.pack))?.shadow?.result,
      'cancelled',
    );
  });

  it('max_duration refuses a shadow that has not seen min_decisions in time', async () => {
    const x = setup(settings({ maxDurationMs: 50 }, { minDecisions: 100 }));
    await withActive(x);
    await x.a.submit(await update(2, BASE_ROLES));
    await eventually(() => x.events.some((e) => e.type === 'policy.shadow_refused'));
    const refused = x.events.find((e) => e.type === 'policy.shadow_refused');
    assert.match(String(refused?.data.reason), /only 0 of the 100 shadow decisions needed in max_duration_seconds/);
  });
});
