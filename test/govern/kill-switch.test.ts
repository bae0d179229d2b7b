import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { isWardenError } from '../../src/errors.js';
import { KillSwitches, parseModuleRisks, parseSwitchState } from '../../src/govern/verdict/kill-switch.js';

const RISKS = parseModuleRisks({ billing: { risk: 'core' }, ai_inference: { risk: 'high' } }, 'governance/modules');

// The error code a parser throws on value.
function codeOf(parse: () => unknown): string | undefined {
  try {
    parse();
  } catch (err) {
    return isWardenError(err) ? err.code : 'not a WardenError';
  }
  return undefined;
}

describe('kill switches', () => {
  it('cold start with no state: high-risk modules blocked, core ones open, undeclared ones blocked (fail safe)', () => {
    const ks = new KillSwitches();
    ks.setRisks(RISKS);
    assert.equal(ks.loaded, false);
    assert.deepEqual(
      { ...ks.check('ai_inference') },
      {
        active: true,
        reason: 'no kill-switch state has loaded yet: high-risk modules start blocked',
        source: 'cold_start',
      },
    );
    assert.equal(ks.check('billing').active, false);
    assert.equal(ks.check('billing').source, 'cold_start');
    assert.equal(ks.check('unheard_of').active, true, 'a module without a declared risk is blocked until state loads');
  });

  it('once a state loads it decides alone: listed switches apply, unlisted modules are open', () => {
    const ks = new KillSwitches();
    ks.setRisks(RISKS);
    ks.load(
      parseSwitchState(
        { billing: { active: true, reason: 'ledger migration' }, ai_inference: { active: false, reason: '' } },
        'killswitch/state',
      ),
      'v2',
    );
    assert.equal(ks.loaded, true);
    assert.equal(ks.revision, 'v2');
    assert.deepEqual({ ...ks.check('billing') }, { active: true, reason: 'ledger migration', source: 'pack' });
    assert.equal(ks.check('ai_inference').active, false);
    assert.equal(ks.check('unheard_of').active, false);
  });

  it('check() returns shared frozen objects: no allocation on the hot path', () => {
    const ks = new KillSwitches();
    ks.load(parseSwitchState({ a: { active: true, reason: 'r' } }, 'killswitch/state'), 'v1');
    assert.equal(ks.check('a'), ks.check('a'));
    assert.equal(ks.check('b'), ks.check('c'));
    assert.ok(Object.isFrozen(ks.check('a')));
  });

  it('an active switch without a reason still says why', () => {
    const state = parseSwitchState({ ai_training: { active: true } }, 'killswitch/state');
    assert.equal(state.get('ai_training')?.reason, 'kill switch on for ai_training');
  });

  it('publishes the state in governance_kill_switch_active and _state_loaded', async () => {
    const registry = new Registry();
    const ks = new KillSwitches(registry);
    ks.setRisks(RISKS);
    let text = await registry.metrics();
    assert.match(text, /governance_kill_switch_state_loaded 0/);
    assert.match(text, /governance_kill_switch_active\{module="ai_inference",source="cold_start"\} 1/);
    assert.match(text, /governance_kill_switch_active\{module="billing",source="cold_start"\} 0/);
    ks.load(parseSwitchState({ ai_inference: { active: false } }, 'killswitch/state'), 'v1');
    text = await registry.metrics();
    assert.match(text, /governance_kill_switch_state_loaded 1/);
    assert.match(text, /governance_kill_switch_active\{module="ai_inference",source="pack"\} 0/);
    assert.doesNotMatch(text, /source="cold_start"\} 1/);
  });

  it('refuses malformed states and risks with GOVERNANCE_PACK_INVALID', () => {
    const bad: unknown[] = [
      undefined,
      null,
      [],
      'on',
      { m: true },
      { m: { active: 'yes' } },
      { m: { active: true, reason: 7 } },
      { 'bad name!': { active: true } },
      { m: { active: true, reason: 'x'.repeat(2000) } },
    ];
    for (const value of bad)
      assert.equal(
        codeOf(() => parseSwitchState(value, 'killswitch/state')),
        'GOVERNANCE_PACK_INVALID',
        JSON.stringify(value),
      );
    for (const value of [undefined, [], { m: {} }, { m: { risk: 'medium' } }]) {
      assert.equal(
        codeOf(() => parseModuleRisks(value, 'governance/modules')),
        'GOVERNANCE_PACK_INVALID',
        JSON.stringify(value),
      );
    }
    assert.equal(
      codeOf(() => parseSwitchState({}, 'killswitch/state')),
      undefined,
      'an empty state is a valid state: nothing switched off',
    );
  });
});
