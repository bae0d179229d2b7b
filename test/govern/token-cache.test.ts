import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TokenCache } from '../../src/govern/tenant/token-cache.js';

describe('verified-token cache', () => {
  it('answers until the earlier of the token exp and the maximum age, never after', () => {
    let now = 1_000_000;
    const cache = new TokenCache(10, 60_000, () => now);
    cache.set('short', { exp: now / 1000 + 5, tenant: 'acme' });
    cache.set('long', { exp: now / 1000 + 3600, tenant: 'acme' });
    assert.equal(cache.get('short')?.tenant, 'acme');
    now += 5_000;
    assert.equal(cache.get('short'), undefined, 'expired: its exp has passed');
    assert.equal(cache.get('long')?.tenant, 'acme');
    now += 55_000;
    assert.equal(cache.get('long'), undefined, 'the maximum age bounds a long-lived token');
  });

  it('does not keep a token already expired, and evicts the least recently used past its bound', () => {
    const now = 1_000_000;
    const cache = new TokenCache(2, 60_000, () => now);
    cache.set('old', { exp: now / 1000 - 1 });
    assert.equal(cache.size, 0);
    cache.set('a', { exp: now / 1000 + 60 });
    cache.set('b', { exp: now / 1000 + 60 });
    assert.ok(cache.get('a'));
    cache.set('c', { exp: now / 1000 + 60 });
    assert.equal(cache.get('b'), undefined, 'b was the least recently used');
    assert.ok(cache.get('a') && cache.get('c'));
    cache.clear();
    assert.equal(cache.size, 0);
  });
});
