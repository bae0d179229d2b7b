/**
 * indentJson against JSON.stringify(…, null, 2), whose layout is Go's MarshalIndent
 * (OPA's ?pretty) for values without exact-number text; and numbers kept as written.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { indentJson } from '../../src/http/pretty-json.js';

const SAMPLES = [
  '{}',
  '[]',
  '1',
  '"s"',
  'null',
  '{"a":[1,[],{},[{"k":"a\\"b\\\\c"}]],"b":{"c":{"d":[true,false,null]}},"e":"{[,:]}"}',
  ' { "a" : [ 1 , 2 ] ,\n\t"b" : { } , "c" : [ ] } ',
  '[[[["deep"]]],"é\\n"]',
];

describe('indentJson (?pretty)', () => {
  it('lays JSON out as a two-space indent with a final newline', () => {
    for (const text of SAMPLES) assert.equal(indentJson(text), `${JSON.stringify(JSON.parse(text), null, 2)}\n`, text);
  });

  it('keeps numbers and string escapes exactly as written', () => {
    assert.equal(
      indentJson('{"big":12345678901234567891,"dec":[1.0,-0.5e-3],"s":"\\u003c"}'),
      '{\n  "big": 12345678901234567891,\n  "dec": [\n    1.0,\n    -0.5e-3\n  ],\n  "s": "\\u003c"\n}\n',
    );
  });
});
