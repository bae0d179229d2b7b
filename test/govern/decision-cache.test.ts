import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Registry } from 'prom-client';
import type { Decision } from '../../src/decide/decider.js';
import { isWardenError } from '../../src/errors.js';
import { canonicalJson } from '../../src/govern/cache/decision-cache-key.js';
import { DecisionCache } from '../../src/govern/cache/decision-cache.js';

// A decision whose id tells tests apart.
const decision = (id: string): Decision => ({
  defined: true,
  result: true,
  decisionId: id,
  pack: 'authz',
  revision: '1',
  digest: 'sha256:00',
});

// A cache on a fake clock the test moves by hand.
function fakeClockCache(opts: { maxEntries?: number; ttlMs?: number } = {}): {
  cache: DecisionCache;
  clock: { now: number };
  registry: Registry;
} {
  const clock = { now: 1000 };
  const registry = new Registry();
  const cache = new DecisionCache({
    maxEntries: opts.maxEntries ?? 100,
    ttlMs: opts.ttlMs ?? 30_000,
    registry,
    now: () => clock.now,
  });
  return { cache, clock, registry };
}

// The value of one series of a counter in the registry's exposition.
async function metric(registry: Registry, series: string): Promise<number> {
  const text = await registry.metrics();
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

describe('decision cache', () => {
  it('misses, then hits what was set, and counts both', async () => {
    const { cache, registry } = fakeClockCache();
    const k = cache.key('authz/allow', { user: 'ada' });
    assert.equal(cache.get(k), undefined);
    cache.set(k, decision('d1'));
    assert.equal(cache.get(k)?.decisionId, 'd1');
    assert.equal(cache.get(k)?.decisionId, 'd1');
    assert.equal(await metric(registry, 'warden_decision_cache_total{result="hit"}'), 2);
    assert.equal(await metric(registry, 'warden_decision_cache_total{result="miss"}'), 1);
    cache.get('absent');
    assert.equal(
      await metric(registry, 'warden_decision_cache_total{result="miss"}'),
      2,
      'later lookups are added at the next scrape',
    );
  });

  it('expires an entry ttlMs after it was set, counting the lookup as a miss', async () => {
    const { cache, clock, registry } = fakeClockCache({ ttlMs: 30_000 });
    cache.set('k', decision('d1'));
    clock.now += 29_999;
    assert.equal(cache.get('k')?.decisionId, 'd1');
    clock.now += 1;
    assert.equal(cache.get('k'), undefined);
    assert.equal(cache.size, 0, 'the expired entry is removed');
    assert.equal(await metric(registry, 'warden_decision_cache_total{result="miss"}'), 1);
  });

  it('evicts the least recently used entry, where a hit counts as a use', () => {
    const { cache } = fakeClockCache({ maxEntries: 3 });
    cache.set('a', decision('a'));
    cache.set('b', decision('b'));
    cache.set('c', decision('c'));
    assert.ok(cache.get('a'), 'a becomes the most recent');
    cache.set('d', decision('d'));
    assert.equal(cache.size, 3);
    assert.equal(cache.get('b'), undefined, 'b was least recently used');
    assert.deepEqual(
      ['a', 'c', 'd'].map((k) => cache.get(k)?.decisionId),
      ['a', 'c', 'd'],
    );
    cache.set('c', decision('c2'));
    cache.set('e', decision('e'));
    assert.equal(cache.get('a'), undefined, 'then a, the oldest use');
    assert.equal(cache.get('c')?.decisionId, 'c2', 'a set replaces the entry');
  });

  it('empties on flush and counts flushes by reason', async () => {
    const { cache, registry } = fakeClockCache();
    cache.set('a', decision('a'));
    cache.set('b', decision('b'));
    cache.flush('activation');
    assert.equal(cache.size, 0);
    assert.equal(cache.get('a'), undefined);
    cache.flush('activation');
    assert.equal(await metric(registry, 'warden_decision_cache_flush_total{reason="activation"}'), 2);
  });

  it('gives inputs that differ only in key order the same key', () => {
    const { cache } = fakeClockCache();
    const a = { user: { name: 'ada', roles: ['admin', 'viewer'] }, action: 'read', n: 1.5 };
    const b = { n: 1.5, action: 'read', user: { roles: ['admin', 'viewer'], name: 'ada' } };
    assert.equal(cache.key('authz/allow', a), cache.key('authz/allow', b));
    assert.equal(canonicalJson(b), '{"action":"read","n":1.5,"user":{"name":"ada","roles":["admin","viewer"]}}');
  });

  it('keys apart different values, types, array orders and paths', () => {
    const { cache } = fakeClockCache();
    const keys = [
      cache.key('authz/allow', { id: 1 }),
      cache.key('authz/allow', { id: '1' }),
      cache.key('authz/allow', { id: 2 }),
      cache.key('authz/allow', { id: true }),
      cache.key('authz/allow', { id: null }),
      cache.key('authz/allow', { id: [1] }),
      cache.key('authz/allow', { id: { '1': 1 } }),
      cache.key('authz/allow', { ids: [1, 2] }),
      cache.key('authz/allow', { ids: [2, 1] }),
      cache.key('authz/allow', { id: 1, extra: 'x' }),
      cache.key('authz/deny', { id: 1 }),
      cache.key('authz/allow', undefined),
      cache.key('authz/allow', null),
    ];
    assert.equal(new Set(keys).size, keys.length);
  });

  it('writes canonical JSON as JSON.stringify would, with keys sorted', () => {
    const input = {
      b: [1, undefined, () => 1, 'x"\n\u2028'],
      a: { z: undefined, y: new Date(0), x: NaN },
      c: -0,
      d: 1e21,
      é: 'ü',
      [Symbol('s')]: 1,
    };
    const sorted = (v: unknown): unknown =>
      Array.isArray(v)
        ? v.map(sorted)
        : v !== null && typeof v === 'object'
          ? Object.fromEntries(
              Object.keys(v)
                .sort()
                .map((k) => [k, sorted((v as Record<string, unknown>)[k])]),
            )
          : v;
    const viaJson = JSON.stringify(sorted(JSON.parse(JSON.stringify(input))));
    assert.equal(canonicalJson(input), viaJson);
    const long = { s: `${'a'.repeat(200)}"` };
    assert.equal(canonicalJson(long), JSON.stringify(long));
    assert.equal(canonicalJson(new Number(1)), '1');
  });

  it('refuses input nested past the depth limit, cyclic, or holding a BigInt, with a coded error', () => {
    const cache = new DecisionCache({ maxEntries: 10, ttlMs: 1000, maxDepth: 4 });
    assert.doesNotThrow(() => cache.key('p', { a: { b: { c: [1] } } }));
    assert.throws(
      () => cache.key('p', { a: { b: { c: [[1]] } } }),
      (e) => isWardenError(e, 'DECISION_INPUT_INVALID'),
    );
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    assert.throws(
      () => cache.key('p', cyclic),
      (e) => isWardenError(e, 'DECISION_INPUT_INVALID'),
    );
    assert.throws(
      () => cache.key('p', { n: 1n }),
      (e) => isWardenError(e, 'DECISION_INPUT_INVALID'),
    );
  });

  it('sorts objects with many keys too', () => {
    const keys = Array.from({ length: 50 }, (_, i) => `k${(i * 37) % 50}`);
    const a = Object.fromEntries(keys.map((k) => [k, k]));
    const b = Object.fromEntries([...keys].reverse().map((k) => [k, k]));
    assert.equal(canonicalJson(a), canonicalJson(b));
    assert.equal(canonicalJson(a), JSON.stringify(Object.fromEntries([...keys].sort().map((k) => [k, k]))));
  });

  it('rejects bounds that are not positive', () => {
    assert.throws(() => new DecisionCache({ maxEntries: 0, ttlMs: 1000 }), RangeError);
    assert.throws(() => new DecisionCache({ maxEntries: 10, ttlMs: 0 }), RangeError);
  });
});
