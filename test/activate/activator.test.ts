/**
 * The Activator's paths — boot, update, rollback, pin, unpin — against an
 * in-memory store and real signed packs: which version each one makes active,
 * and that each leaves the same bookkeeping (pin, last-known-good flag and its
 * gauge, events) behind.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Activator } from '../../src/activate/activator.js';
import type { NewEvent } from '../../src/notify/events.js';
import { createLogger } from '../../src/observe/logger.js';
import { WardenMetrics } from '../../src/observe/metrics.js';
import type { PackUpdate } from '../../src/source/types.js';
import { sha256Digest } from '../../src/verify/digest.js';
import { keyTrust } from '../../src/verify/trust.js';
import { p256, signedBundle } from '../helpers/packs.js';
import { variant } from '../helpers/variants.js';
import { MemoryStore } from './memory-store.js';

const key = p256();
const stranger = p256();
const who = { actor: 'ops', reason: 'test' };

// An activator on `store`, recording its events.
function activator(store: MemoryStore): { a: Activator; events: NewEvent[]; metrics: WardenMetrics } {
  const events: NewEvent[] = [];
  const metrics = new WardenMetrics({ defaultMetrics: false });
  const a = new Activator({
    name: 'app',
    sourceKind: 'http',
    origin: 'test',
    trust: keyTrust({ publicKeys: [{ pem: key.publicPem }] }),
    store,
    limits: {},
    metrics,
    log: createLogger('silent'),
    emit: (e) => void events.push(e),
  });
  return { a, events, metrics };
}

// A signed update carrying version n (marker sequence n unless given).
async function update(n: number, sequence = n): Promise<PackUpdate> {
  const pack = await variant(n, { sequence });
  return {
    pack,
    signature: await signedBundle(pack, key.privateKey),
    etag: undefined,
    origin: `test/v${n}`,
    correlationId: `c${n}`,
  };
}

// Digests of versions 1..n, stored and activated in order through a first activator.
async function seeded(store: MemoryStore, n: number): Promise<string[]> {
  const { a } = activator(store);
  const digests: string[] = [];
  for (let i = 1; i <= n; i++) {
    const u = await update(i);
    assert.equal((await a.submit(u)).status, 'activated');
    digests.push(sha256Digest(u.pack));
  }
  return digests;
}

// Makes a stored version fail verification (a signature by a key the trust lacks).
async function tamper(store: MemoryStore, digest: string): Promise<void> {
  const { pack } = await store.load('app', digest);
  store.tamper(digest, await signedBundle(pack, stranger.privateKey));
}

async function gauge(metrics: WardenMetrics, name: 'onLastKnownGood' | 'pinned'): Promise<number | undefined> {
  return (await metrics[name].get()).values.find((v) => v.labels.pack === 'app')?.value;
}

describe('Activator', () => {
  it('boots the pinned version, then the active, the last-known-good and the history, skipping ones that no longer verify', async () => {
    const store = new MemoryStore();
    const [v1, v2, v3, v4] = await seeded(store, 4); // active v4, lkg v3
    await store.setPin('app', { digest: v1 ?? '', at: new Date().toISOString(), ...who });
    const expected: [tampered: (string | undefined)[], booted: string | undefined, lkg: boolean][] = [
      [[], v1, true],
      [[v1], v4, false],
      [[v4], v3, true],
      [[v3], v2, true],
    ];
    for (const [tampered, booted, lkg] of expected) {
      for (const d of tampered) await tamper(store, d ?? '');
      const { a, metrics } = activator(store);
      assert.equal(await a.boot(), true);
      assert.equal(a.current?.digest, booted);
      const s = a.status();
      assert.equal(s.last_known_good, lkg, `booted ${booted}`);
      assert.equal(await gauge(metrics, 'onLastKnownGood'), lkg ? 1 : 0);
      assert.equal(s.stale, true, 'unconfirmed until the source answers');
      assert.equal(s.pinned, true);
    }
    await tamper(store, v2 ?? '');
    assert.equal(await activator(store).a.boot(), false, 'nothing verifies');
  });

  it('records, not activates, a new pack while pinned', async () => {
    const store = new MemoryStore();
    const [v1] = await seeded(store, 1);
    const { a, events } = activator(store);
    await a.boot();
    await a.pin(who);
    const u2 = await update(2);
    assert.deepEqual(await a.submit(u2), { status: 'recorded', digest: sha256Digest(u2.pack) });
    assert.equal(a.current?.digest, v1);
    assert.equal(store.snapshot.active, v1);
    assert.equal(store.snapshot.versions.length, 2);
    assert.equal((await a.submit(u2)).status, 'recorded', 'a version already recorded stays recorded');
    assert.deepEqual(
      events.map((e) => [e.type, e.data.activated]),
      [
        ['policy.pinned', undefined],
        ['policy.version_created', false],
      ],
    );
    assert.equal(a.status().last_reload?.result, 'recorded');
  });

  it('refuses a downgrade while pinned: newer means newer than every recorded version', async () => {
    const store = new MemoryStore();
    const [v1] = await seeded(store, 3);
    const { a } = activator(store);
    await a.boot();
    await a.rollback({ digest: v1 }, who);
    const outcome = await a.submit(await update(20, 2));
    assert.equal(outcome.status === 'refused' ? outcome.error.code : outcome.status, 'PACK_DOWNGRADE');
    assert.equal(a.current?.digest, v1);
    assert.equal((await a.submit(await update(4))).status, 'recorded');
  });

  it('rolls back and pins; an explicit pin after it keeps the rolled-back version', async () => {
    const store = new MemoryStore();
    const [v1, , v3] = await seeded(store, 3);
    const { a, events, metrics } = activator(store);
    await a.boot();
    const back = await a.rollback({ number: 1 }, who);
    assert.equal(back.digest, v1);
    assert.equal(back.number, 1);
    assert.equal(store.snapshot.active, v1);
    assert.equal(store.snapshot.lastKnownGood, v3);
    assert.equal(a.status().pin?.digest, v1);
    assert.equal(await gauge(metrics, 'pinned'), 1);
    const pin = await a.pin(who);
    assert.equal(pin.digest, v1);
    assert.equal(a.current?.digest, v1);
    assert.deepEqual(
      events.map((e) => e.type),
      ['policy.rolled_back', 'policy.pinned', 'policy.pinned'],
    );
  });

  it('unpins and activates the newest version that still verifies', async () => {
    const store = new MemoryStore();
    const [v1, v2, v3] = await seeded(store, 3);
    const { a, events, metrics } = activator(store);
    await a.boot();
    await a.rollback({ digest: v1 }, who);
    await tamper(store, v3 ?? '');
    const now = await a.unpin(who);
    assert.equal(now?.digest, v2);
    assert.equal(store.snapshot.active, v2);
    assert.equal(store.snapshot.pinned, undefined);
    assert.equal(a.status().pinned, false);
    assert.equal(await gauge(metrics, 'pinned'), 0);
    assert.deepEqual(
      events.slice(-2).map((e) => [e.type, e.data.reason]),
      [
        ['policy.unpinned', 'test'],
        ['policy.updated', 'unpinned'],
      ],
    );
  });

  it('keeps the current pack when an update is refused', async () => {
    const store = new MemoryStore();
    const [v1] = await seeded(store, 1);
    const { a, events, metrics } = activator(store);
    await a.boot();
    const u2 = await update(2);
    const outcome = await a.submit({ ...u2, signature: await signedBundle(u2.pack, stranger.privateKey) });
    assert.equal(outcome.status, 'refused');
    assert.equal(a.current?.digest, v1);
    assert.equal(store.snapshot.versions.length, 1, 'nothing stored');
    assert.equal(a.status().last_reload?.result, 'refused');
    assert.deepEqual(
      events.map((e) => [e.type, e.data.kept]),
      [['policy.validation_failed', v1]],
    );
    assert.equal((await metrics.reloadFailure.get()).values.length, 1);
  });

  it('clears the last-known-good flag when a rollback or an unpin activates what the store calls active', async () => {
    const store = new MemoryStore();
    const [v1, v2, v3] = await seeded(store, 3);
    await tamper(store, v3 ?? '');
    const { a, metrics } = activator(store);
    await a.boot();
    assert.equal(a.current?.digest, v2);
    assert.equal(a.status().last_known_good, true);

    await a.rollback({ digest: v1 }, who);
    assert.equal(a.status().last_known_good, false, 'the rolled-back version is the active one');
    assert.equal(await gauge(metrics, 'onLastKnownGood'), 0);

    await a.unpin(who); // v3 does not verify; v2 is the newest that does
    assert.equal(a.current?.digest, v2);
    assert.equal(store.snapshot.active, v2);
    assert.equal(a.status().last_known_good, false);
    assert.equal(await gauge(metrics, 'onLastKnownGood'), 0);
  });
});
