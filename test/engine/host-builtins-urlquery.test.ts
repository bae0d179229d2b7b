/**
 * urlquery.* in the embedded engine (src/engine/host-builtins/urlquery.ts), every row
 * checked against the real `opa eval`: reserved and unreserved characters, the ones
 * encodeURIComponent leaves alone and Go escapes, UTF-8, "+" and spaces, bad escapes,
 * escapes that decode to invalid UTF-8, repeated keys, ";" separators, key order.
 */
import { before, describe, it } from 'node:test';
import {
  assertSameAsOpa,
  builtinTable,
  type BuiltinCases,
  type DifferentialTable,
} from '../helpers/builtin-differential.js';

const one = (v: unknown): string => `[${JSON.stringify(v)}]`;

const CASES: BuiltinCases = {
  'urlquery.encode': [
    ...[
      '',
      'abcXYZ019',
      '-_.~',
      "!'()*",
      ' ',
      'a b+c',
      '$&+,/:;=?@#[]%',
      '"<>\\^`{|}',
      'caf\u00e9',
      '\u65e5\u672c',
      '\u{1f600}',
      '\u0000\n\t\u007f',
    ].map(one),
    '[1]',
    '[null]',
  ],
  'urlquery.decode': [
    ...[
      '',
      'a+b',
      'a%20b',
      '%41%42%43',
      '%e6%97%a5%E6%9C%AC',
      '%f0%9f%98%80',
      '%ff',
      '%e2%82',
      '%ed%a0%80',
      '%c0%af',
      '%',
      '%4',
      '%4g',
      'a%',
      '%%41',
      '100%',
      '+%2B+',
      'caf\u00e9',
    ].map(one),
    '[1]',
    '[null]',
  ],
  'urlquery.encode_object': [
    ...[
      {},
      { a: 'b' },
      { b: '2', a: '1', c: '3' },
      { a: ['1', '2', '1'] },
      { a: [] },
      { 'a b': 'c d', '!': "'" },
      { '\u00e9': 'x', z: 'y', Z: 'w', '\u{1f600}': 'v', '\uffff': 'u' },
      { a: 1 },
      { a: ['1', 2] },
      { a: null },
      { a: { b: 'c' } },
      'a=b',
      ['a'],
    ].map(one),
    '[null]',
  ],
  'urlquery.decode_object': [
    ...[
      '',
      'a=b',
      'a=1&a=2&b=3',
      'a',
      'a=',
      '=b',
      '&&a=1&&',
      'a=b=c',
      'a+b=c+d',
      '%61=%62',
      'a=%ff',
      'a=1;b=2',
      'a=1&b=%zz&c=3',
      'a=%',
      '%=1',
      'k=\u65e5',
    ].map(one),
    '[1]',
    '[null]',
  ],
};

describe('urlquery builtins, against the real opa eval', () => {
  let table: DifferentialTable;

  before(async () => {
    table = await builtinTable('uq', CASES);
  });

  for (const [name, rows] of Object.entries(CASES)) {
    it(`${name}: ${rows.length} rows answer as OPA's`, () => assertSameAsOpa(table, name));
  }
});
