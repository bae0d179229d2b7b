/**
 * The pieces of replay on their own: classify's outcomes, reading Warden's and
 * OPA's lines, and the line reader's bound on line length across chunks.
 */
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { classify, type Answer } from '../../src/replay/compare.js';
import { normalisePath, parseLine } from '../../src/replay/event.js';
import { linesOf, OVERLONG } from '../../src/replay/lines.js';

const v = (json: string): Answer => ({ kind: 'value', json });
const U: Answer = { kind: 'undefined' };
const E: Answer = { kind: 'error', code: 'DECISION_FAILED' };

describe('classify', () => {
  it('reads booleans and verdict objects as decisions, undefined beside them as a deny', () => {
    assert.equal(classify(undefined, v('true'), v('true')), 'unchanged');
    assert.equal(classify(undefined, v('true'), v('false')), 'allow_to_deny');
    assert.equal(classify(undefined, v('false'), v('true')), 'deny_to_allow');
    assert.equal(classify(undefined, U, v('true')), 'deny_to_allow');
    assert.equal(classify(undefined, v('true'), U), 'allow_to_deny');
    assert.equal(classify(undefined, v('false'), U), 'became_undefined');
    assert.equal(classify(undefined, U, v('false')), 'became_defined');
    assert.equal(classify(undefined, v('{"allow":true,"r":[]}'), v('{"r":[],"allow":false}')), 'allow_to_deny');
    assert.equal(classify(undefined, v('{"allow":true,"r":[1]}'), v('{"allow":true,"r":[2]}')), 'value_changed');
  });

  it('compares values as JSON (key order and spacing aside); no direction for non-decisions or pathKind value', () => {
    assert.equal(classify(undefined, v('{"a":1,"b":[1,2]}'), v('{ "b": [1, 2], "a": 1.0 }')), 'unchanged');
    assert.equal(classify(undefined, v('"P1"'), v('"P2"')), 'value_changed');
    assert.equal(classify(undefined, v('"P1"'), U), 'became_undefined');
    assert.equal(classify(undefined, U, U), 'unchanged');
    assert.equal(classify('value', v('true'), v('false')), 'value_changed');
    assert.equal(classify('decision', v('"yes"'), v('true')), 'deny_to_allow');
  });

  it('an error on one side only is error; on both, unchanged', () => {
    assert.equal(classify(undefined, v('true'), E), 'error');
    assert.equal(classify(undefined, E, v('true')), 'error');
    assert.equal(classify(undefined, E, { kind: 'error', code: 'INPUT_TOO_DEEP' }), 'unchanged');
  });
});

describe('parseLine', () => {
  it('takes the input and result as the exact text of the line', () => {
    const p = parseLine('{"path":"a/b","input":{"n":12345678901234567891},"result":{"x":1.50},"decision_id":"d"}');
    assert.deepEqual(p, {
      kind: 'decision',
      path: 'a/b',
      inputJson: '{"n":12345678901234567891}',
      before: { kind: 'value', json: '{"x":1.50}' },
      decisionId: 'd',
    });
  });

  it('reads an error as an error answer, no result as undefined', () => {
    const err = parseLine('{"path":"a","input":{},"error":{"code":"eval_conflict_error"}}');
    assert.equal(err.kind === 'decision' && err.before.kind === 'error' && err.before.code, 'eval_conflict_error');
    const undef = parseLine('{"path":"a","input":{}}');
    assert.deepEqual(undef.kind === 'decision' && undef.before, { kind: 'undefined' });
  });

  it('sorts out what cannot be replayed, and what is not a decision or not JSON', () => {
    assert.deepEqual(parseLine('{"path":"a","input":{},"masked":["/input/ssn"]}'), {
      kind: 'not_replayable',
      reason: 'input_masked',
      path: 'a',
    });
    assert.equal(parseLine('{"path":"a","erased":["/input"]}').kind, 'not_replayable');
    assert.deepEqual(parseLine('{"path":"a","input":{},"erased":["/result"]}'), {
      kind: 'not_replayable',
      reason: 'result_masked',
      path: 'a',
    });
    assert.deepEqual(parseLine('{"decision_id":"q","query":"data.a","input":{}}'), {
      kind: 'not_replayable',
      reason: 'no_path',
      path: undefined,
    });
    assert.deepEqual(parseLine('{"msg":"Received request.","req_id":1}'), { kind: 'other' });
    assert.deepEqual(parseLine('[1]'), { kind: 'malformed' });
    assert.deepEqual(parseLine('{"path":'), { kind: 'malformed' });
  });

  it('reads the path variants OPA and Warden write as one entrypoint', () => {
    for (const p of ['authz/allow', '/authz/allow', 'data.authz.allow', '/v1/data/authz/allow', 'data/authz/allow'])
      assert.equal(normalisePath(p), 'authz/allow', p);
    assert.equal(normalisePath('data'), '');
  });
});

describe('linesOf', () => {
  async function lines(chunks: string[], max: number): Promise<Array<string | typeof OVERLONG>> {
    const out: Array<string | typeof OVERLONG> = [];
    for await (const l of linesOf(Readable.from(chunks.map((c) => Buffer.from(c))), max)) out.push(l);
    return out;
  }

  it('splits lines across chunks, drops CR and blank lines, keeps a last line without a break', async () => {
    assert.deepEqual(await lines(['ab', 'c\r\nde', 'f\n\n', 'g'], 10), ['abc', 'def', 'g']);
  });

  it('reports a line past the limit as OVERLONG, whether it spans chunks or not, and goes on after it', async () => {
    assert.deepEqual(await lines(['12345', '67890', '1\nok\n'], 10), [OVERLONG, 'ok']);
    assert.deepEqual(await lines(['12345678901\nok'], 10), [OVERLONG, 'ok']);
    assert.deepEqual(await lines(['1234567890\n', '12345', '678901'], 10), ['1234567890', OVERLONG]);
  });
});
