import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { createClient, type RedisClientType } from 'redis';
import { revoke, revokedKey } from '../../src/govern/tenant/revocation-keys.js';
import type { OnStale } from '../../src/govern/tenant/revocation-list.js';
import { RedisRevocation } from '../../src/govern/tenant/revocation-redis.js';
import { RedisServer } from '../helpers/redis-server.js';
import { eventually } from '../helpers/wait.js';

const PREFIX = 'test:';
const soon = (): number => Date.now() / 1000 + 300;

async function metric(registry: Registry, name: string): Promise<number> {
  const data = await registry.getSingleMetric(name)?.get();
  return data?.values.reduce((sum, v) => sum + v.value, 0) ?? Number.NaN;
}

describe('token revocation from a real redis-server', () => {
  let server: RedisServer;
  let writer: RedisClientType;
  const open: RedisRevocation[] = [];

  // A started revocation check on `server`; closed after the suite.
  function revocation(
    opts: { refreshMs: number; staleAfterMs: number; onStale: OnStale; url?: string },
    registry = new Registry(),
  ): { r: RedisRevocation; registry: Registry } {
    const r = new RedisRevocation({ url: server.url, keyPrefix: PREFIX, registry, ...opts });
    r.start();
    open.push(r);
    return { r, registry };
  }

  before(async () => {
    server = await RedisServer.start();
    writer = createClient({ url: server.url, socket: { reconnectStrategy: 50 } });
    writer.on('error', () => {}); // the restart test kills the server under it
    await writer.connect();
  });
  after(async () => {
    for (const r of open) await r.close();
    writer?.destroy();
    await server?.stop();
  });

  it('refuses a jti written to the set within refresh_seconds, by the periodic read alone (no notice)', async () => {
    const { r } = revocation({ refreshMs: 200, staleAfterMs: 10_000, onStale: 'fail_closed' });
    await r.loaded();
    assert.equal(r.check({ jti: 'periodic-1' }), 'ok');
    const written = performance.now();
    await writer.zAdd(revokedKey(PREFIX, 'jti'), { score: Math.ceil(soon()), value: 'periodic-1' });
    await eventually(() => r.check({ jti: 'periodic-1' }) === 'revoked', { timeoutMs: 5_000, everyMs: 10 });
    const took = performance.now() - written;
    // One interval plus room for a loaded machine's scheduling (seen at 683 ms with a load average of 12).
    assert.ok(took < 200 + 1_500, `seen after ${took.toFixed(0)} ms; the refresh interval is 200 ms`);
    assert.equal(r.check({ jti: 'other' }), 'ok');
  });

  it('refuses a revoked sid at once through the channel notice, long before the next full read', async () => {
    const { r } = revocation({ refreshMs: 300_000, staleAfterMs: 300_000, onStale: 'fail_closed' });
    await r.loaded();
    assert.equal(r.check({ jti: 'x', sid: 'session-9' }), 'ok');
    await revoke(writer, PREFIX, 'sid', 'session-9', soon());
    await eventually(() => r.check({ jti: 'x', sid: 'session-9' }) === 'revoked', { timeoutMs: 2_000, everyMs: 5 });
    assert.equal(r.check({ sid: 'session-10' }), 'ok');
  });

  it('does not load revocations whose time has passed, and a write prunes them', async () => {
    const key = revokedKey(PREFIX, 'jti');
    await writer.zAdd(key, { score: Math.floor(Date.now() / 1000) - 10, value: 'expired-1' });
    const { r } = revocation({ refreshMs: 60_000, staleAfterMs: 60_000, onStale: 'fail_closed' });
    await r.loaded();
    assert.equal(r.check({ jti: 'expired-1' }), 'ok', 'its token has expired anyway');
    await revoke(writer, PREFIX, 'jti', 'fresh-1', soon());
    assert.equal(await writer.zScore(key, 'expired-1'), null, 'pruned by the write');
  });

  it('keeps the last known list while Redis is down, goes stale after stale_after_seconds, and reads again after a restart', async () => {
    const { r, registry } = revocation({ refreshMs: 100, staleAfterMs: 1_500, onStale: 'fail_closed' });
    await revoke(writer, PREFIX, 'jti', 'before-outage', soon());
    await eventually(() => r.check({ jti: 'before-outage' }) === 'revoked');
    assert.equal(await metric(registry, 'governance_revocation_stale'), 0);
    assert.ok((await metric(registry, 'governance_revocation_last_refresh_timestamp_seconds')) > 0);

    await server.stop();
    await eventually(async () => (await metric(registry, 'governance_revocation_refresh_failures_total')) > 0);
    assert.equal(r.check({ jti: 'before-outage' }), 'revoked', 'the last known list stays');
    assert.equal(r.check({ jti: 'unlisted' }), 'ok', 'not stale yet: accepted');
    await eventually(() => r.list.stale, { timeoutMs: 5_000 });
    assert.equal(r.check({ jti: 'unlisted' }), 'unavailable', 'stale and fail_closed: refused');
    assert.equal(r.check({ jti: 'before-outage' }), 'revoked', 'a listed token is still refused as revoked');
    await eventually(async () => (await metric(registry, 'governance_revocation_stale')) === 1);

    await server.start(); // no persistence: the restarted server starts empty
    await writer.zAdd(revokedKey(PREFIX, 'jti'), { score: Math.ceil(soon()), value: 'after-restart' });
    await eventually(() => r.check({ jti: 'after-restart' }) === 'revoked', { timeoutMs: 10_000 });
    assert.equal(r.check({ jti: 'unlisted' }), 'ok', 'current again');
    assert.equal(r.check({ jti: 'before-outage' }), 'ok', 'the list is what Redis holds now');
    assert.equal(await metric(registry, 'governance_revocation_stale'), 0);
  });

  it('keeps accepting unlisted tokens when stale with on_stale fail_open, and still refuses listed ones', async () => {
    const { r } = revocation({ refreshMs: 100, staleAfterMs: 500, onStale: 'fail_open' });
    await revoke(writer, PREFIX, 'jti', 'open-1', soon());
    await eventually(() => r.check({ jti: 'open-1' }) === 'revoked');
    await server.stop();
    try {
      await eventually(() => r.list.stale, { timeoutMs: 5_000 });
      assert.equal(r.check({ jti: 'unlisted' }), 'ok');
      assert.equal(r.check({ jti: 'open-1' }), 'revoked');
    } finally {
      await server.start();
    }
  });

  for (const onStale of ['fail_closed', 'fail_open'] as const) {
    it(`cold start with Redis down, ${onStale}: ${onStale === 'fail_closed' ? 'refuses' : 'accepts'} until the first read, then reads`, async () => {
      await server.stop();
      const registry = new Registry();
      const { r } = revocation({ refreshMs: 100, staleAfterMs: 60_000, onStale }, registry);
      try {
        await eventually(async () => (await metric(registry, 'governance_revocation_refresh_failures_total')) > 0);
        assert.equal(r.check({ jti: 'cold-1' }), onStale === 'fail_closed' ? 'unavailable' : 'ok');
        assert.equal(await metric(registry, 'governance_revocation_stale'), 1);
        assert.equal(await metric(registry, 'governance_revocation_last_refresh_timestamp_seconds'), 0);
      } finally {
        await server.start();
      }
      await r.loaded();
      assert.equal(r.check({ jti: 'cold-1' }), 'ok');
      assert.equal(await metric(registry, 'governance_revocation_stale'), 0);
    });
  }
});
