import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Histogram, Registry } from 'prom-client';
import { FastHistogram } from '../../src/observe/fast-histogram.js';

const BUCKETS = [0.001, 0.01, 0.1, 1];
const SAMPLES = [0.0005, 0.001, 0.002, 0.05, 0.05, 0.5, 3, 0.0001];

describe('FastHistogram', () => {
  it("exposes exactly what prom-client's Histogram exposes for the same observations", async () => {
    const promRegistry = new Registry();
    const prom = new Histogram({
      name: 'x_seconds',
      help: 'h',
      labelNames: ['pack', 'engine'],
      buckets: BUCKETS,
      registers: [promRegistry],
    });
    const fastRegistry = new Registry();
    const fast = new FastHistogram('x_seconds', 'h', BUCKETS, fastRegistry);
    for (const [pack, values] of [
      ['a', SAMPLES],
      ['b', SAMPLES.slice(2)],
    ] as const) {
      const series = fast.series({ pack, engine: 'wasm' });
      for (const v of values) {
        prom.observe({ pack, engine: 'wasm' }, v);
        series.observe(v);
      }
    }
    assert.equal(await fastRegistry.metrics(), await promRegistry.metrics());
  });

  it('returns the same series for the same labels, and forgets everything on reset', async () => {
    const registry = new Registry();
    const fast = new FastHistogram('y_seconds', 'h', BUCKETS, registry);
    fast.series({ pack: 'a' }).observe(0.5);
    fast.series({ pack: 'a' }).observe(0.5);
    assert.match(await registry.metrics(), /^y_seconds_count\{pack="a"\} 2$/m);
    registry.resetMetrics();
    assert.doesNotMatch(await registry.metrics(), /y_seconds_count/);
  });
});
