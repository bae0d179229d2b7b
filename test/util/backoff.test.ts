import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Backoff, nextPollDelayMs } from '../../src/util/backoff.js';

// A seeded generator (mulberry32): the same seed gives the same draws.
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const always = (r: number) => (): number => r;

describe('Backoff', () => {
  it('doubles the ceiling on each failure in a row', () => {
    const b = new Backoff({ baseMs: 100, maxMs: 60_000, random: always(1) });
    assert.deepEqual([b.next(), b.next(), b.next(), b.next(), b.next()], [100, 200, 400, 800, 1600]);
    assert.equal(b.failures, 5);
  });

  it('equal jitter (the default) stays within [ceiling/2, ceiling], so retries never come at once', () => {
    const low = new Backoff({ baseMs: 100, maxMs: 60_000, random: always(0) });
    assert.deepEqual([low.next(), low.next(), low.next()], [50, 100, 200]);
    const b = new Backoff({ baseMs: 100, maxMs: 60_000, random: seeded(7) });
    for (let n = 0; n < 8; n++) {
      const ceiling = 100 * 2 ** n;
      const d = b.next();
      assert.ok(d >= ceiling / 2 && d <= ceiling, `failure ${n}: ${d} not in [${ceiling / 2}, ${ceiling}]`);
    }
  });

  it('full jitter spreads each delay over [0, ceiling]', () => {
    const b = new Backoff({ baseMs: 100, maxMs: 60_000, jitter: 'full', random: always(0.25) });
    assert.deepEqual([b.next(), b.next(), b.next()], [25, 50, 100]);
    assert.equal(new Backoff({ baseMs: 100, maxMs: 1000, jitter: 'full', random: always(0) }).next(), 0);
  });

  it('carries jitter: different random draws give different delays', () => {
    const delays = (r: () => number): number[] => {
      const b = new Backoff({ baseMs: 1000, maxMs: 60_000, random: r });
      return [b.next(), b.next(), b.next()];
    };
    assert.notDeepEqual(delays(seeded(1)), delays(seeded(2)));
    assert.deepEqual(delays(seeded(3)), delays(seeded(3)), 'deterministic given random');
  });

  it('is capped at maxMs however many failures there were', () => {
    const b = new Backoff({ baseMs: 1000, maxMs: 300_000, random: seeded(11) });
    const delays = Array.from({ length: 2000 }, () => b.next());
    assert.ok(delays.every((d) => Number.isFinite(d) && d >= 0 && d <= 300_000));
    assert.ok(
      delays.slice(20).every((d) => d >= 150_000),
      'at the cap, equal jitter keeps the lower half',
    );
    assert.equal(b.ceilingMs, 300_000);
  });

  it('starts again from baseMs after reset (a success)', () => {
    const b = new Backoff({ baseMs: 100, maxMs: 60_000, random: always(1) });
    b.next();
    b.next();
    b.next();
    b.reset();
    assert.equal(b.failures, 0);
    assert.equal(b.next(), 100);
  });

  it('clamps a faulty random to [0, 1]', () => {
    assert.equal(new Backoff({ baseMs: 100, maxMs: 1000, random: always(7) }).next(), 100);
    assert.equal(new Backoff({ baseMs: 100, maxMs: 1000, random: always(Number.NaN) }).next(), 50);
  });
});

describe('nextPollDelayMs', () => {
  it('stays within [min, max] seconds', () => {
    assert.equal(nextPollDelayMs(10, 20, always(0)), 10_000);
    assert.equal(nextPollDelayMs(10, 20, always(1)), 20_000);
    assert.equal(nextPollDelayMs(10, 20, always(0.5)), 15_000);
    const r = seeded(5);
    for (let i = 0; i < 1000; i++) {
      const d = nextPollDelayMs(10, 20, r);
      assert.ok(d >= 10_000 && d <= 20_000, String(d));
    }
  });

  it('spreads a fleet over the whole range (no thundering herd)', () => {
    const r = seeded(42);
    const buckets = new Array<number>(10).fill(0);
    for (let i = 0; i < 1000; i++) {
      const d = nextPollDelayMs(10, 20, r);
      const k = Math.min(9, Math.floor((d - 10_000) / 1000));
      buckets[k] = (buckets[k] ?? 0) + 1;
    }
    // Uniform: each tenth of the range gets about 100 of 1000 draws.
    assert.ok(
      buckets.every((n) => n >= 60 && n <= 140),
      `buckets ${buckets.join(',')}`,
    );
  });

  it('accepts min = max (no jitter) and swapped bounds', () => {
    assert.equal(nextPollDelayMs(5, 5, seeded(1)), 5000);
    assert.equal(nextPollDelayMs(20, 10, always(0)), 10_000);
  });
});
