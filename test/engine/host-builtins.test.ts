/**
 * The builtins Warden provides to the wasm engine in JavaScript (src/engine/host-builtins/),
 * each checked against the real `opa eval` on a table of arguments: normal cases, edge cases
 * and errors (wrong types, invalid versions, invalid units, unknown zones, out-of-range times).
 * A builtin error is undefined in OPA outside strict mode; the policies here compare what a
 * rule observes, so an error shows as an undefined rule on both sides. Numbers are compared
 * as written: nanosecond timestamps beyond 2^53 must be exact.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { HOST_BUILTINS } from '../../src/engine/builtins.js';
import { loadWasmEngine, type WasmEngine } from '../../src/engine/wasm.js';
import { opaBuildWasm } from '../../src/opa/compile.js';
import { locateOpa } from '../../src/opa/locate.js';
import { readPack } from '../../src/pack/reader.js';
import { canonicalJson } from '../helpers/canonical-json.js';
import { tempDir, writeTree } from '../helpers/fs.js';
import { opaAnswers } from '../helpers/opa-eval.js';
import { eventually } from '../helpers/wait.js';

// 2024-12-03T04:00:00.123456789Z, not exact as a double.
const NS = '1733198400123456789';
// 2024-03-10T06:30:00Z: 01:30 in New York, half an hour before the spring-forward gap.
const NY_GAP = '1710052200000000000';
// 2024-01-31T12:00:00Z and 2024-02-29T23:59:59.999999999Z.
const JAN31 = '1706702400000000000';
const LEAP = '1709251199999999999';
const INT64_MAX = '9223372036854775807';
const INT64_MIN = '-9223372036854775808';

const TIMES = [
  '0',
  '-1',
  NS,
  LEAP,
  INT64_MAX,
  INT64_MIN,
  '9223372036854775808',
  '1.5',
  '1e18',
  '1.7e18',
  '"x"',
  'null',
  '[]',
  '["x"]',
  `[${NS}]`,
  `[${NS},""]`,
  `[${NS},"UTC"]`,
  `[${NS},"America/New_York"]`,
  `[${NS},"Asia/Kolkata"]`,
  `[${NS},"Asia/Kathmandu"]`,
  `[${NS},"Australia/Lord_Howe"]`,
  `[${NS},"US/Eastern"]`,
  `[${NS},"Europe/London","2006"]`,
  `[${NS},"Europe/London",5]`,
  `[${NS},"Nowhere/City"]`,
  `[${NS},"america/new_york"]`,
  `[${NS},"+05:00"]`,
  `[${NS},5]`,
  `[${INT64_MIN},"Europe/Paris"]`,
  `[${NY_GAP},"America/New_York"]`,
];

const one = (args: readonly string[]): string[] => args.map((a) => `[${a}]`);

// name → [arity, argument lists as JSON text]
const CASES: Record<string, readonly string[]> = {
  'time.date': one(TIMES),
  'time.clock': one(TIMES),
  'time.weekday': one(TIMES),
  'time.add_date': [
    `[${NS},1,1,1]`,
    `[${JAN31},0,1,0]`,
    `[${JAN31},0,-2,0]`,
    `[${LEAP},1,0,0]`,
    `[${LEAP},-4,0,0]`,
    `[${NS},0,0,-20000]`,
    `[-1,0,0,1]`,
    `[[${NY_GAP},"America/New_York"],0,0,1]`,
    `[[${NY_GAP},"America/New_York"],0,0,0]`,
    `[[${NS},"Europe/London"],0,6,0]`,
    `[[${NS},"Australia/Lord_Howe"],0,4,0]`,
    `[${INT64_MAX},0,0,1]`,
    `[${INT64_MIN},0,0,-1]`,
    `[${NS},300,0,0]`,
    `[${NS},1.5,0,0]`,
    `[${NS},"1",0,0]`,
    `[${NS},0,0,1e2]`,
    `[${NS},0,0,100000000000000000000]`,
    `["x",0,0,0]`,
    `[[${NS},"Nowhere/City"],0,0,0]`,
  ],
  'time.diff': [
    `[${NS},0]`,
    `[0,${NS}]`,
    `[${NS},${NS}]`,
    `[${JAN31},${LEAP}]`,
    `[${LEAP},${JAN31}]`,
    `[[${NS},"America/New_York"],[0,"Asia/Tokyo"]]`,
    `[[0,"Asia/Tokyo"],[${NS},"America/New_York"]]`,
    `[[${NY_GAP},"America/New_York"],[${JAN31},"UTC"]]`,
    `[-1,1]`,
    `[${INT64_MIN},${INT64_MAX}]`,
    `["x",0]`,
    `[0,[0,"Nowhere/City"]]`,
  ],
  'semver.compare': [
    '["1.2.3","1.2.3"]',
    '["1.2.3","1.2.4"]',
    '["2.0.0","1.99.99"]',
    '["v1.2.3","1.2.3"]',
    '["1.2.3-alpha","1.2.3"]',
    '["1.2.3-alpha.1","1.2.3-alpha.beta"]',
    '["1.2.3-alpha.10","1.2.3-alpha.9"]',
    '["1.2.3-alpha","1.2.3-alpha.1"]',
    '["1.2.3-rc.1+build.5","1.2.3-rc.1+build.6"]',
    '["1.2.3+meta","1.2.3"]',
    '["01.2.3","1.2.3"]',
    '["1.2.3-01","1.2.3-1"]',
    '["1.2.3-99999999999999999999","1.2.3-1"]',
    '["9223372036854775807.0.0","9223372036854775806.0.0"]',
    '["9223372036854775808.0.0","1.0.0"]',
    '["1.2","1.2.3"]',
    '["1.2.3","=1.2.3"]',
    '["1.2.3-alpha..1","1.2.3"]',
    '["1.2.3+","1.2.3"]',
    '["a.b.c","1.2.3"]',
    '[1,"1.2.3"]',
    '["1.2.3",null]',
    '["1.2.3-beta+exp.sha.5114f85","1.2.3-beta.11"]',
    '["v1.0.0-rc.1","1.0.0-rc.1+b"]',
    '["1.0.0-","1.0.0"]',
  ],
  'semver.is_valid': one([
    '"1.2.3"',
    '"v1.2.3"',
    '"vv1.2.3"',
    '"=1.2.3"',
    '" 1.2.3"',
    '"01.2.3"',
    '"1.2.3+"',
    '"1.2.3-"',
    '"1.2.3-alpha.1+build.2"',
    '"1.2.3-alpha_1"',
    '"1.2"',
    '"1.2.3.4"',
    '"-1.2.3"',
    '"1.2.-3"',
    '"9223372036854775808.0.0"',
    '"9223372036854775807.0.0"',
    '"1.2.3 "',
    '"1.2.3-rc.1\\n"',
    '"V1.2.3"',
    '""',
    '1',
    'null',
    '["1.2.3"]',
  ]),
  'units.parse': one([
    '"1"',
    '"1k"',
    '"1K"',
    '"1.5K"',
    '"1m"',
    '"1.5m"',
    '"3m"',
    '"1M"',
    '"10Mi"',
    '"10MI"',
    '"10mi"',
    '"1Gi"',
    '"5Ei"',
    '"2e"',
    '"1e3"',
    '"1e3k"',
    '"1.5e-3"',
    '"-3G"',
    '"+2k"',
    '".5k"',
    '"5."',
    '"0.1"',
    '"3.14159"',
    '"0.00000000001"',
    '"-0.00000000001"',
    '"0.00000000005"',
    '"12345678901234567890"',
    '"\\"10k\\""',
    '"abc"',
    '""',
    '"1 k"',
    '"1kk"',
    '"1.2.3"',
    '"1e+"',
    '"1e1234567"',
    '"1/2"',
    '1',
    'null',
  ]),
  'units.parse_bytes': one([
    '"1"',
    '"1kb"',
    '"1KB"',
    '"1k"',
    '"1KiB"',
    '"1ki"',
    '"1.5GB"',
    '"1.5gib"',
    '"10"',
    '"1e3mb"',
    '"-1k"',
    '"+1k"',
    '".5k"',
    '"1."',
    '"0.1"',
    '"0.3kb"',
    '"1e-3"',
    '"1e-3kb"',
    '"5Ei"',
    '"8eib"',
    '"2e"',
    '"123456789012345678"',
    '"1b"',
    '"1kibb"',
    '"x"',
    '""',
    '"1 kb"',
    '"\\"1kb\\""',
    '"1e1234567"',
    '1',
    'null',
  ]),
};

const ruleName = (builtin: string): string => builtin.replaceAll('.', '_');

function policy(): string {
  const lines = ['package hb', 'import rego.v1'];
  for (const [name, cases] of Object.entries(CASES)) {
    const arity = (JSON.parse(cases[0] as string) as unknown[]).length;
    const args = Array.from({ length: arity }, (_, i) => `input.args[${i}]`).join(', ');
    lines.push(`${ruleName(name)} := ${name}(${args})`);
  }
  lines.push(
    'now := time.now_ns()',
    'now_twice := [a, b] if {',
    '  a := time.now_ns()',
    '  b := time.now_ns() + count(input.args)',
    '}',
    '',
  );
  return lines.join('\n');
}

const ENTRYPOINTS = [...Object.keys(CASES).map((n) => `hb/${ruleName(n)}`), 'hb/now', 'hb/now_twice'];

describe('host builtins, against the real opa eval', () => {
  let dir: string;
  let engine: WasmEngine;

  before(async () => {
    dir = await writeTree(tempDir(), { 'hb.rego': policy() });
    const bundle = await opaBuildWasm(locateOpa().path, dir, ENTRYPOINTS, 'v1');
    const wasm = (await readPack(bundle, {}, { opaOutput: true })).get('policy.wasm');
    assert.ok(wasm);
    engine = await loadWasmEngine(wasm, {});
  });

  for (const [name, cases] of Object.entries(CASES)) {
    it(`${name}: ${cases.length} cases answer as OPA's`, () => {
      assert.ok(HOST_BUILTINS.has(name), `${name} is provided`);
      const path = `hb/${ruleName(name)}`;
      const inputs = cases.map((args) => `{"args":${args}}`);
      const expected = opaAnswers(dir, path, inputs);
      const actual = inputs.map((input) => {
        const out = engine.evaluateJson(path, input);
        return out === undefined ? undefined : canonicalJson(out);
      });
      const rows = cases.map((args, i) => ({ args, opa: expected[i], warden: actual[i] }));
      assert.deepEqual(
        rows.filter((r) => r.opa !== r.warden),
        [],
      );
      // The table exercises both outcomes.
      assert.ok(expected.some((e) => e !== undefined));
    });
  }

  it('time.now_ns: an exact integer, the same for every call within one evaluation, new for the next', async () => {
    const lo = BigInt(Date.now()) * 1_000_000n;
    const first = engine.evaluateJson('hb/now', undefined);
    const hi = BigInt(Date.now()) * 1_000_000n;
    assert.match(first ?? '', /^\d{19}$/);
    const ns = BigInt(first ?? '0');
    assert.ok(ns >= lo && ns <= hi, `${ns} within [${lo}, ${hi}]`);
    const pair = JSON.parse(engine.evaluateJson('hb/now_twice', '{"args":[]}') ?? 'null') as unknown;
    assert.ok(Array.isArray(pair) && pair.length === 2);
    const [a, b] = (engine.evaluateJson('hb/now_twice', '{"args":[]}') ?? '')
      .slice(1, -1)
      .split(',')
      .map((s) => BigInt(s));
    assert.equal(a, b, 'both calls in one evaluation see the same time');
    await eventually(() => BigInt(engine.evaluateJson('hb/now', undefined) ?? '0') > ns);
  });
});
