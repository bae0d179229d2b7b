import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseNotice } from '../../src/govern/tenant/revocation-keys.js';
import { RevocationList } from '../../src/govern/tenant/revocation-list.js';

describe('revocation list (in memory, injected clock)', () => {
  it('refuses a listed jti or sid; stale after stale_after: fail_closed refuses the rest, fail_open accepts it', () => {
    let now = 1_000_000;
    const closed = new RevocationList({ staleAfterMs: 60_000, onStale: 'fail_closed', now: () => now });
    const open = new RevocationList({ staleAfterMs: 60_000, onStale: 'fail_open', now: () => now });
    assert.equal(closed.check({ jti: 'a' }), 'unavailable', 'cold start, fail_closed: refused until the first read');
    assert.equal(open.check({ jti: 'a' }), 'ok', 'cold start, fail_open: accepted');
    for (const list of [closed, open]) list.replace({ jti: ['j1'], sid: ['s1'] });
    for (const list of [closed, open]) {
      assert.equal(list.check({ jti: 'j1' }), 'revoked');
      assert.equal(list.check({ jti: 'other', sid: 's1' }), 'revoked', 'a revoked session revokes its tokens');
      assert.equal(list.check({ jti: 'other', sid: 'other' }), 'ok');
      assert.equal(list.check({ jti: 42, sid: ['s1'] } as never), 'ok', 'non-string claims are not looked up');
    }
    now += 60_000;
    assert.equal(closed.stale, false, 'stale only past stale_after');
    now += 1;
    assert.equal(closed.check({ jti: 'other' }), 'unavailable');
    assert.equal(open.check({ jti: 'other' }), 'ok');
    assert.equal(closed.check({ jti: 'j1' }), 'revoked', 'listed tokens stay refused as revoked');
    closed.add('jti', 'j2');
    assert.equal(closed.check({ jti: 'j2' }), 'revoked', 'a notice adds at once');
    closed.replace({ jti: [], sid: [] });
    assert.equal(closed.check({ jti: 'j1' }), 'ok', 'a full read replaces the list');
  });

  it('reads channel notices as "<kind> <value>"', () => {
    assert.deepEqual(parseNotice('jti abc def'), { kind: 'jti', value: 'abc def' });
    assert.deepEqual(parseNotice('sid s-1'), { kind: 'sid', value: 's-1' });
    for (const bad of ['', 'jti', 'jti ', 'sub x', ' x']) assert.equal(parseNotice(bad), undefined, bad);
  });
});
