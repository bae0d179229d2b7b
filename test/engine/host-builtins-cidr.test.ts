/**
 * net.cidr_merge and net.cidr_expand in the embedded engine (src/engine/host-builtins/cidr.ts),
 * every row checked against the real `opa eval`: both families, host bits, IPv4 addresses
 * without a prefix (classful networks), duplicates, adjacent, overlapping and nested networks,
 * ranges that are not one CIDR, the ends of each address space, IPv4-mapped IPv6, the families
 * side by side, invalid elements and operands, 300 seeded random lists; sets as operands and results. Where OPA panics
 * (its range code on some IPv4-mapped and low IPv6 networks) Warden's call is undefined, and
 * where OPA would expand without bound Warden stops at MAX_EXPAND.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { before, describe, it } from 'node:test';
import { MAX_EXPAND } from '../../src/engine/host-builtins/cidr.js';
import { locateOpa } from '../../src/opa/locate.js';
import { canonicalJson } from '../helpers/canonical-json.js';
import {
  assertSameAsOpa,
  builtinTable,
  type BuiltinCases,
  type DifferentialTable,
} from '../helpers/builtin-differential.js';
import { caseRng } from '../helpers/fuzz.js';
import { opaAnswers } from '../helpers/opa-eval.js';

const one = (v: unknown): string => `[${JSON.stringify(v)}]`;

const MERGE: readonly unknown[] = [
  [],
  ['10.1.2.3'],
  ['172.16.5.4'],
  ['192.168.1.3'],
  ['::ffff:10.0.0.1'],
  ['10.1.2.3', '10.0.0.0/8'],
  ['192.168.1.3', '192.168.0.0/24'],
  ['192.0.128.0/24', '192.0.129.0/24'],
  ['192.0.129.0/24', '192.0.130.0/24'],
  ['1.2.3.0/24', '1.2.5.0/24', '1.2.4.0/24'],
  ['10.0.0.0/16', '10.0.128.0/17', '10.0.5.7/32'],
  ['10.0.0.77/24'],
  ['10.0.0.0/24', '10.0.0.0/24', '10.0.0.9/24'],
  ['0.0.0.0/0', '10.0.0.0/8'],
  ['255.255.255.255/32', '255.255.255.254/32'],
  ['0.0.0.0/32', '0.0.0.1/32'],
  ['10.0.0.0/32', '10.0.0.2/32'],
  ['10.0.0.1/32', '10.0.0.2/32'],
  ['10.0.0.1/32', '10.0.0.2/31', '10.0.0.4/30'],
  ['10.0.0.1/32', '10.0.0.2/31', '10.0.0.4/30', '10.0.0.0/32'],
  ['10.0.0.0/25', '10.0.0.128/26', '10.0.0.192/27', '10.0.0.224/27'],
  ['10.0.0.3/32', '10.0.0.4/32', '10.0.0.5/32', '10.0.0.6/32'],
  ['10.0.0.0/8', '10.255.0.0/16', '11.0.0.0/8'],
  ['2001:db8::/33', '2001:db8:8000::/33'],
  ['2001:db8::1/64'],
  ['2001:db8::/128', '2001:db8::1/128'],
  ['2001:db8::4/128', '2001:db8::5/128'],
  ['2001:db8::1/128', '2001:db8::2/128'],
  ['2001:db8::/48', '2001:db8:1::/48', '2001:db8:2::/48'],
  ['::/0', '2001:db8::/32'],
  ['::/128', '::1/128'],
  ['::2/128', '::1/128'],
  ['ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe/128'],
  ['2001:db8:0:0:1::/80', '2001:0db8::1:0:0:0/80'],
  ['10.0.0.0/8', '2001:db8::/32'],
  ['0.0.0.0/0', '::/0'],
  ['::ffff:10.0.0.1/120', '10.0.0.0/24'],
  ['::fffe:ffff:ffff/128', '0.0.0.0/32'],
  ['10.0.0.0/8', '00010.0.0.0/8'],
  ['10.0.0.0/008'],
  ['2001:db8::1'],
  ['10.0.0.0/33'],
  ['fe80::1%eth0/64'],
  ['x'],
  [''],
  [1],
  ['10.0.0.0/8', null],
  'x',
  { a: '10.0.0.0/8' },
  null,
];

const EXPAND: readonly unknown[] = [
  '10.0.0.1/30',
  '10.0.0.0/32',
  '255.255.255.255/32',
  '255.255.255.254/31',
  '0.0.0.0/30',
  '192.168.0.77/24',
  '10.0.0.0/16',
  '2001:db8::/126',
  '2001:db8::ffff/124',
  '::/126',
  '::ffff:10.0.0.1/126',
  'ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffc/126',
  '1:0:0:2:0:0:0:1/128',
  '1:0:0:2:0:0:3:4/128',
  '0:1:0:1:0:1:0:1/128',
  '1::/128',
  'fe80::/120',
  '10.0.0.1',
  '10.0.0.0/33',
  '2001:db8::/129',
  'fe80::1%eth0/126',
  '010.0.0.0/30',
  '',
  1,
  null,
];

// Seeded lists of 1 to 6 networks in a small space of each family (so that they touch and overlap).
function randomLists(count: number): string[][] {
  return Array.from({ length: count }, (_, i) => {
    const rng = caseRng(14, i);
    const v6 = rng.chance(0.3);
    return Array.from({ length: 1 + rng.int(6) }, () => {
      if (v6) return `2001:db8::${rng.int(1024).toString(16)}/${118 + rng.int(11)}`;
      return `10.0.${rng.int(4)}.${rng.int(256)}/${22 + rng.int(11)}`;
    });
  });
}

const CASES: BuiltinCases = {
  'net.cidr_merge': [...MERGE, ...randomLists(300)].map(one),
  'net.cidr_expand': EXPAND.map(one),
};

// Rules that take a set as the operand, and use the result as a set.
const EXTRA = [
  'merge_of_set := net.cidr_merge({x | some x in input.args[0]})',
  'merge_union := net.cidr_merge(input.args[0]) | {"1.1.1.1/32"}',
  'expand_minus := net.cidr_expand(input.args[0]) - {"10.0.0.1"}',
  'merge_is_set := is_set(net.cidr_merge(input.args[0]))',
];

describe('net.cidr_merge and net.cidr_expand, against the real opa eval', () => {
  let table: DifferentialTable;

  before(async () => {
    table = await builtinTable('ci', CASES, {
      lines: EXTRA,
      entrypoints: ['ci/merge_of_set', 'ci/merge_union', 'ci/expand_minus', 'ci/merge_is_set'],
    });
  });

  for (const [name, rows] of Object.entries(CASES)) {
    it(`${name}: ${rows.length} rows answer as OPA's`, () => assertSameAsOpa(table, name));
  }

  it('takes a set as the operand and answers a set, as OPA does', () => {
    const rows: Record<string, readonly unknown[]> = {
      'ci/merge_of_set': [
        ['10.0.0.0/24', '10.0.1.0/24'],
        ['10.1.2.3'],
        ['2001:db8::/33', '2001:db8:8000::/33', '10.0.0.0/8'],
        [],
      ],
      'ci/merge_union': [['10.0.0.0/24', '10.0.1.0/24'], ['1.1.1.1/32'], []],
      'ci/expand_minus': ['10.0.0.0/30', '10.0.0.1/32', '2001:db8::/127'],
      'ci/merge_is_set': [['10.0.0.0/24'], []],
    };
    for (const [path, args] of Object.entries(rows)) {
      const inputs = args.map((a) => `{"args":${one(a)}}`);
      const opa = opaAnswers(table.dir, path, inputs);
      const warden = inputs.map((input) => {
        const out = table.engine.evaluateJson(path, input);
        return out === undefined ? undefined : canonicalJson(out);
      });
      assert.deepEqual(warden, opa, path);
      assert.ok(
        opa.every((a) => a !== undefined),
        `${path}: every row is defined`,
      );
    }
  });

  it('is undefined where OPA panics (its range code on IPv4-mapped and low IPv6 networks)', () => {
    const panics = [
      ['::4/128', '::5/128'],
      ['::ffff:10.0.0.0/120', '::ffff:10.0.1.0/120'],
      ['::ffff:0:0/96', '0.0.0.0/0'],
    ];
    for (const addrs of panics) {
      const res = spawnSync(locateOpa().path, ['eval', '-f', 'json', `net.cidr_merge(${JSON.stringify(addrs)})`], {
        encoding: 'utf8',
      });
      assert.notEqual(res.status, 0, `opa eval answers ${JSON.stringify(addrs)}`);
      assert.match(res.stderr, /panic: runtime error: index out of range/);
      assert.equal(table.engine.evaluateJson('ci/net_cidr_merge', `{"args":${one(addrs)}}`), undefined);
    }
  });

  it(`expands at most ${MAX_EXPAND} addresses (OPA expands until the query's deadline)`, () => {
    const expand = (cidr: string): string | undefined =>
      table.engine.evaluateJson('ci/net_cidr_expand', `{"args":${one(cidr)}}`);
    assert.equal((JSON.parse(expand('10.0.0.0/16') ?? '[]') as string[]).length, MAX_EXPAND);
    assert.equal((JSON.parse(expand('2001:db8::/112') ?? '[]') as string[]).length, MAX_EXPAND);
    for (const big of ['10.0.0.0/15', '0.0.0.0/0', '2001:db8::/111', '::/0']) assert.equal(expand(big), undefined, big);
  });
});
