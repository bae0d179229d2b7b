/**
 * What the engine is handed: the nesting scan that guards it, and the JSON
 * text with lone surrogates made U+FFFD (as OPA's Go decoder reads them).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { jsonDeeperThan } from '../../src/http/json-depth.js';
import { engineJson, engineText } from '../../src/engine/json-text.js';
import { memberText } from '../../src/engine/json-member.js';

const text = (b: ArrayBuffer | undefined): string | undefined =>
  b === undefined ? undefined : new TextDecoder().decode(b);

describe('request JSON for the engine', () => {
  it('measures nesting with brackets in strings and escaped quotes ignored', () => {
    const deep = (n: number): string => `${'['.repeat(n)}${']'.repeat(n)}`;
    assert.equal(jsonDeeperThan(deep(10), 10), false);
    assert.equal(jsonDeeperThan(deep(11), 10), true);
    assert.equal(jsonDeeperThan(`{"a":${deep(10)},"b":[1]}`, 11), false);
    assert.equal(jsonDeeperThan(`{"a":${deep(11)}}`, 11), true);
    assert.equal(jsonDeeperThan(JSON.stringify({ s: '[[[[[[[[[[[[[[[[[[[[[[[[{{{{{{{{' }), 2), false);
    assert.equal(jsonDeeperThan(JSON.stringify({ s: 'a\\"[[[[[[[[[[[[[[[[[[[[[[[', t: '\\\\' }), 2), false);
    assert.equal(jsonDeeperThan(JSON.stringify([{ s: '\\' }, [[[[1]]]]]), 4), true);
    assert.equal(jsonDeeperThan(JSON.stringify([{ s: '\\' }, [[[1]]]]), 4), false);
  });

  it('turns each lone surrogate into U+FFFD and leaves pairs, escaped backslashes and falsy values alone', () => {
    assert.equal(text(engineJson({ a: '\ud800' })), '{"a":"\ufffd"}');
    assert.equal(text(engineJson(['x\udfff', '\udbff\udbff'])), '["x\ufffd","\ufffd\ufffd"]');
    assert.equal(text(engineJson({ '\udc00': 1 })), '{"\ufffd":1}');
    assert.equal(text(engineJson('\ud83d\ude00')), '"\ud83d\ude00"');
    assert.equal(text(engineJson('\\ud800')), '"\\\\ud800"', 'a backslash followed by "ud800" is text');
    assert.equal(text(engineJson('\\\ud800')), '"\\\\\ufffd"');
    assert.equal(text(engineJson(false)), 'false');
    assert.equal(text(engineJson(0)), '0');
    assert.equal(text(engineJson(null)), 'null');
    assert.equal(engineJson(undefined), undefined);
  });

  it('finds the exact text of a top-level member, the last of repeated keys, with escaped keys decoded', () => {
    assert.equal(memberText('{"input":{"id":12345678901234567891}}', 'input'), '{"id":12345678901234567891}');
    assert.equal(memberText(' { "x" : [1,{"input":2}] , "input" : 1.0 } ', 'input'), '1.0');
    assert.equal(memberText('{"input":"a\\"b}","y":1}', 'input'), '"a\\"b}"');
    assert.equal(memberText('{"input":1,"input":[2]}', 'input'), '[2]');
    assert.equal(memberText('{"\\u0069nput":true}', 'input'), 'true');
    assert.equal(memberText('{"inputs":1}', 'input'), undefined);
    assert.equal(memberText('{}', 'input'), undefined);
    assert.equal(memberText('{"input":null}', 'input'), 'null');
    assert.equal(memberText('{"input":-0.5e-3\n}', 'input'), '-0.5e-3');
  });

  it('replaces escaped lone surrogates in raw text, upper or lower case, and keeps escaped pairs', () => {
    assert.equal(engineText('"\\uD800"'), '"\ufffd"');
    assert.equal(engineText('"\\ud83d\\ude00"'), '"\\ud83d\\ude00"');
    assert.equal(engineText('"\\uD83D\\uDE00"'), '"\\uD83D\\uDE00"');
    assert.equal(engineText('"\\ude00\\ud83d"'), '"\ufffd\ufffd"');
    assert.equal(engineText('"\\\\ud800"'), '"\\\\ud800"', 'an escaped backslash then "ud800" is text');
    assert.equal(engineText('{"a":12345678901234567891}'), '{"a":12345678901234567891}');
  });
});
