/**
 * The hashing and encoding builtins in the embedded engine (src/engine/host-builtins/crypto.ts),
 * every row checked against the real `opa eval`: ASCII, UTF-8, empty strings, empty and long
 * HMAC keys, hex with odd lengths, bad digits and bytes that are not UTF-8, and CIDRs of both
 * families with zones, leading zeros and prefix lengths out of range.
 */
import { before, describe, it } from 'node:test';
import {
  assertSameAsOpa,
  builtinTable,
  type BuiltinCases,
  type DifferentialTable,
} from '../helpers/builtin-differential.js';

const one = (v: unknown): string => `[${JSON.stringify(v)}]`;
const two = (a: unknown, b: unknown): string => `[${JSON.stringify(a)},${JSON.stringify(b)}]`;
const STRINGS = ['', 'abc', 'caf\u00e9 \u65e5\u672c \u{1f600}', 'x'.repeat(300), '\u0000'];
const KEYS = ['', 'secret', 'k'.repeat(200), '\u00e9'];
const hashRows = [...STRINGS.map(one), '[1]', '[null]'];
const hmacRows = [...STRINGS.flatMap((s) => KEYS.map((k) => two(s, k))), '[1,"k"]', '["x",null]'];

const CASES: BuiltinCases = {
  'crypto.md5': hashRows,
  'crypto.sha1': hashRows,
  'crypto.sha256': hashRows,
  'crypto.hmac.md5': hmacRows,
  'crypto.hmac.sha1': hmacRows,
  'crypto.hmac.sha256': hmacRows,
  'crypto.hmac.sha512': hmacRows,
  'crypto.hmac.equal': [
    two('a', 'a'),
    two('a', 'b'),
    two('', ''),
    two('ab', 'abc'),
    two('\u00e9', '\u00e9'),
    '[1,"a"]',
  ],
  'hex.encode': hashRows,
  'hex.decode': [
    ...['', '616263', '6A6b', 'caf\u00e9', '6', '0g', 'ff', 'e282', 'f09f9880', 'eda080', '00'].map(one),
    '[1]',
  ],
  'base64url.encode_no_pad': [...STRINGS.map(one), one('\u00ff\u00fe'), one('ab?>'), '[1]'],
  'net.cidr_is_valid': [
    ...[
      '10.0.0.0/8',
      '10.0.0.0/0',
      '10.0.0.0/32',
      '10.0.0.0/33',
      '10.0.0.0/08',
      '10.0.0.0/-1',
      '10.0.0.0/+8',
      '10.0.0.0/',
      '10.0.0.0',
      '010.0.0.0/8',
      '10.0.0/8',
      '256.0.0.0/8',
      '::/0',
      '2001:db8::/32',
      '2001:db8::/128',
      '2001:db8::/129',
      '::ffff:10.0.0.1/120',
      '::ffff:10.0.0.1/33',
      'fe80::1%eth0/64',
      '2001:db8:::/32',
      ' 10.0.0.0/8',
      '10.0.0.0/8 ',
      '',
    ].map(one),
    '[1]',
    '[null]',
  ],
};

describe('hashing and encoding builtins, against the real opa eval', () => {
  let table: DifferentialTable;

  before(async () => {
    table = await builtinTable('cr', CASES);
  });

  for (const [name, rows] of Object.entries(CASES)) {
    it(`${name}: ${rows.length} rows answer as OPA's`, () =>
      assertSameAsOpa(table, name, { total: name === 'net.cidr_is_valid' }));
  }
});
