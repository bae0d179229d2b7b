/**
 * The OPA sidecar engine against the real opa: delivery and acknowledgement,
 * refusal, exact numbers, decision errors and timeouts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { isWardenError } from '../../src/errors.js';
import { opaBundleOf } from '../../src/opa-engine/bundle-of.js';
import type { OpaSidecar } from '../../src/opa-engine/sidecar.js';
import { parseManifest } from '../../src/pack/manifest.js';
import { buildFrom, simplePolicy } from '../helpers/packs.js';
import { closeAllSidecars, regoBundle, startSidecar } from '../helpers/opa-sidecar.js';
import { eventually } from '../helpers/wait.js';

const alice = '{"user":"alice"}';
const bob = '{"user":"bob"}';

describe('OpaSidecar (child mode, real opa)', () => {
  let sidecar: OpaSidecar;

  before(async () => {
    sidecar = await startSidecar(['simple', 'num']);
  });
  after(closeAllSidecars);

  it('answers from a delivered pack once OPA reports its revision active, and from the next one after it', async () => {
    const first = await buildFrom(simplePolicy());
    const roots = parseManifest(first.files.get('.manifest')).roots;
    await sidecar.deliver('simple', opaBundleOf(first.files, 'simple-1', roots), 'simple-1');
    assert.equal(sidecar.state().bundles.simple?.revision, 'simple-1');
    assert.equal(await sidecar.evaluate('simple/allow', alice, 2000), 'true');
    assert.equal(await sidecar.evaluate('simple/allow', bob, 2000), 'false');

    const second = await buildFrom(
      simplePolicy({
        'warden.yaml': 'name: simple\nentrypoints: [simple/allow]\n',
        'data.json': JSON.stringify({ simple: { users: ['bob'] } }),
      }),
      { sequence: 2 },
    );
    await sidecar.deliver('simple', opaBundleOf(second.files, 'simple-2', roots), 'simple-2');
    assert.equal(sidecar.state().bundles.simple?.revision, 'simple-2');
    assert.equal(await sidecar.evaluate('simple/allow', bob, 2000), 'true');
    assert.equal(await sidecar.evaluate('simple/allow', alice, 2000), 'false');
  });

  it('rejects a bundle OPA refuses with OPA_BUNDLE_REFUSED and OPA errors, and keeps answering from the previous revision', async () => {
    const good = { 'num/num.rego': 'package num\n\necho := input.n\n\nbig := 12345678901234567891\n\nv := 1\n' };
    await sidecar.deliver('num', regoBundle(good, 'num-1', ['num']), 'num-1');
    const refused = sidecar.deliver(
      'num',
      regoBundle({ 'num/num.rego': 'package num\n\nv := \n' }, 'num-bad', ['num']),
      'num-bad',
    );
    await assert.rejects(refused, (err) => {
      assert.ok(isWardenError(err, 'OPA_BUNDLE_REFUSED'), String(err));
      const errors = err.details.errors as Array<{ code: string }>;
      assert.ok(errors.length > 0 && errors.every((e) => e.code === 'rego_parse_error'), JSON.stringify(errors));
      assert.equal(err.details.active_revision, 'num-1');
      return true;
    });
    assert.equal(await sidecar.evaluate('num/v', undefined, 2000), '1');
    assert.equal(sidecar.state().bundles.num?.revision, 'num-1');
    assert.match(sidecar.state().bundles.num?.lastError ?? '', /unexpected eof token/);
    // The endpoint serves num-1 again, and the next delivery works (and clears the error).
    await sidecar.deliver(
      'num',
      regoBundle({ 'num/num.rego': good['num/num.rego'].replace('v := 1', 'v := 2') }, 'num-2', ['num']),
      'num-2',
    );
    assert.equal(await sidecar.evaluate('num/v', undefined, 2000), '2');
    assert.equal(sidecar.state().bundles.num?.lastError, undefined);
  });

  it('passes numbers through exactly, both ways, and says undefined as undefined', async () => {
    assert.equal(await sidecar.evaluate('num/echo', '{"n":12345678901234567891}', 2000), '12345678901234567891');
    assert.equal(await sidecar.evaluate('num/big', undefined, 2000), '12345678901234567891');
    assert.equal(
      await sidecar.evaluate('num/echo', '{"n":0.1000000000000000055511151231257827}', 2000),
      '0.1000000000000000055511151231257827',
    );
    assert.equal(await sidecar.evaluate('num/missing', '{}', 2000), undefined);
  });

  it('answers DECISION_FAILED with OPA’s error body when the policy errs', async () => {
    await sidecar.deliver(
      'num',
      regoBundle({ 'num/num.rego': 'package num\n\nx := 3 if input.a\n\nx := 4 if input.a\n\nv := 3\n' }, 'num-3', [
        'num',
      ]),
      'num-3',
    );
    await assert.rejects(sidecar.evaluate('num/x', '{"a":true}', 2000), (err) => {
      assert.ok(isWardenError(err, 'DECISION_FAILED'), String(err));
      const opa = err.details.opa as { errors: Array<{ code: string }> };
      assert.equal(opa.errors[0]?.code, 'eval_conflict_error');
      return true;
    });
  });

  it('aborts a decision past its time limit with OPA_DECISION_TIMEOUT and answers the next one', async () => {
    await sidecar.deliver(
      'num',
      regoBundle(
        {
          'num/num.rego':
            'package num\n\nslow := count([x | some i in numbers.range(1, 20000000); x := i * 2])\n\nv := 4\n',
        },
        'num-4',
        ['num'],
      ),
      'num-4',
    );
    await assert.rejects(sidecar.evaluate('num/slow', undefined, 50), (err) =>
      isWardenError(err, 'OPA_DECISION_TIMEOUT'),
    );
    assert.equal(await sidecar.evaluate('num/v', undefined, 5000), '4');
  });

  it('times out an activation OPA does not acknowledge in time, and serves the previous bundle again', async () => {
    const pid = sidecar.state().pid ?? 0;
    const seen: string[] = [];
    sidecar.on('report', (r) => {
      if (r.pack === 'num' && r.revision !== undefined && seen.at(-1) !== r.revision) seen.push(r.revision);
    });
    // A stopped OPA gets num-5 in its socket buffer but cannot acknowledge it.
    process.kill(pid, 'SIGSTOP');
    try {
      const late = sidecar.deliver(
        'num',
        regoBundle({ 'num/num.rego': 'package num\n\nv := 5\n' }, 'num-5', ['num']),
        'num-5',
        {
          timeoutMs: 300,
        },
      );
      await assert.rejects(late, (err) => isWardenError(err, 'OPA_ACTIVATION_TIMEOUT'));
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    // Resumed, OPA activates num-5 late, then polls and gets num-4 back from the endpoint.
    await eventually(() => seen.join(',').endsWith('num-5,num-4'), {
      what: () => `num-5 then num-4, saw ${seen.join(',')}`,
    });
    assert.equal(await sidecar.evaluate('num/v', undefined, 2000), '4');
  });
});
