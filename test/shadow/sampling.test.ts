/**
 * The shadow's sampler: exactly one decision per window of 1/sample (the counts the gate
 * judges stay exact), at a random place in the window, so traffic that repeats with a period
 * (a client walking a fixed list of requests) reaches the shadow in every one of its kinds.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ActivePack } from '../../src/activate/types.js';
import { LiveShadow } from '../../src/shadow/run.js';
import type { ShadowSettings } from '../../src/shadow/settings.js';

const settings = (sample: number, queueLimit = 100_000): ShadowSettings => ({
  sample,
  queueLimit,
  gate: { minDecisions: Number.MAX_SAFE_INTEGER, maxDiffRate: 1, allowDenyToAllow: true, autoPromote: false },
  logMaxBytes: 1 << 20,
});

// The sampler reads nothing of the pack; the run keeps it for the evaluator.
const pack = {} as ActivePack;

function sampledKinds(sample: number, kinds: number, decisions: number): { total: number; perKind: number[] } {
  const run = new LiveShadow(
    pack,
    settings(sample),
    () => undefined,
    () => undefined,
  );
  for (let i = 0; i < decisions; i++) run.offerJson('p/allow', String(i % kinds), 'true', `d${i}`);
  const perKind = Array.from({ length: kinds }, () => 0);
  for (const d of run.ring.take(decisions)) perKind[Number(d.inputJson) % kinds]! += 1;
  run.end();
  return { total: run.sampled, perKind };
}

describe('shadow sampling', () => {
  it('takes exactly one decision per window: 10 % of 10,000 is 1,000, 1 takes all', () => {
    assert.equal(sampledKinds(0.1, 7, 10_000).total, 1_000);
    assert.equal(sampledKinds(0.25, 7, 10_000).total, 2_500);
    assert.equal(sampledKinds(1, 7, 1_000).total, 1_000);
  });

  it('sees every kind of a periodic stream (a fixed list of 8 walked in turn) in its share', () => {
    // A fixed every-tenth pick would see only the odd kinds: 10 and 8 share the factor 2.
    const { perKind } = sampledKinds(0.1, 8, 80_000);
    for (const [kind, n] of perKind.entries()) {
      assert.ok(n > 700 && n < 1_300, `kind ${kind}: ${n} of the expected ~1,000`);
    }
  });

  it('places the sample at random within the window: different runs take different decisions', () => {
    const taken = (): string => {
      const run = new LiveShadow(
        pack,
        settings(0.1),
        () => undefined,
        () => undefined,
      );
      for (let i = 0; i < 1_000; i++) run.offerJson('p/allow', String(i), 'true', `d${i}`);
      const ids = run.ring
        .take(1_000)
        .map((d) => d.inputJson)
        .join(',');
      run.end();
      return ids;
    };
    assert.notEqual(taken(), taken());
  });
});
