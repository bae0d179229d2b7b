/**
 * sprintf in the embedded engine against the real `opa eval`: every format in
 * the table with every list of arguments (int64, beyond int64, floats written
 * with a fraction or an exponent, strings with quotes and non-ASCII, booleans,
 * null, arrays, objects, sets, the empty set), including Go's error notes for
 * a wrong verb, a missing or extra argument, a bad index, width or precision.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { loadWasmEngine, type WasmEngine } from '../../src/engine/wasm.js';
import { opaBuildWasm } from '../../src/opa/compile.js';
import { locateOpa } from '../../src/opa/locate.js';
import { readPack } from '../../src/pack/reader.js';
import { canonicalJson } from '../helpers/canonical-json.js';
import { tempDir, writeTree } from '../helpers/fs.js';
import { opaAnswers } from '../helpers/opa-eval.js';

const FORMATS = [
  '%v',
  '%d',
  '%s',
  '%q',
  '%x',
  '%X',
  '%o',
  '%O',
  '%b',
  '%c',
  '%U',
  '%#U',
  '%e',
  '%E',
  '%f',
  '%F',
  '%g',
  '%G',
  '%t',
  '%T',
  '%p',
  '%z',
  '%5d',
  '%-5d|',
  '%05d',
  '%+d',
  '% d',
  '%.3d',
  '%8.3d',
  '%#x',
  '%#o',
  '%#b',
  '%+q',
  '%#q',
  '%x %X',
  '% x',
  '%# x',
  '%10s|',
  '%-10s|',
  '%010s',
  '%.2s',
  '%.0s',
  '%5.1f',
  '%.0f',
  '%.3e',
  '%10.4g',
  '%#g',
  '%#.3g',
  '%#v',
  '%+v',
  '%#x',
  '%.1x',
  '%a',
  '%v %v',
  '%[2]v %[1]v',
  '%[3]v',
  '%[0]v',
  '%[x]v',
  '%*d',
  '%-*d|',
  '%.*f',
  '%[1]*d',
  '%',
  'x%',
  '%!',
  '%%d',
  '%d%%',
  'abc',
  '',
  '%v-%v-%v',
  '%3c|',
  '%-4q|',
  '%x',
  '%08.3f',
  '%+.2e',
  '% .2f',
  '%+g',
  '%s é %v',
  '%.*s',
  '%[2]*[1]d',
  '%.[2]d',
  '%[1].2d',
  '%6.2v|',
];

// Lists of arguments as JSON text (the input keeps their text: 1.0 stays 1.0).
const ARGS = [
  '[]',
  '[42]',
  '[-7]',
  '[0]',
  '[1.0]',
  '[1e3]',
  '[2.5]',
  '[0.1]',
  '[-0.000012345]',
  '[123456789.125]',
  '[1e21]',
  '[9223372036854775807]',
  '[-9223372036854775808]',
  '[12345678901234567890]',
  '[-12345678901234567890123]',
  '["hello"]',
  '["a\\"b\\\\c\\n\\t"]',
  '["héllo wörld 😀"]',
  '["\\u0001\\u007f\\u00a0\\ufeff"]',
  '["`x`"]',
  '[""]',
  '[true]',
  '[null]',
  '[[1,"a",[null,false]]]',
  '[{"b":{"y":2,"x":[1]},"a":"s"}]',
  '[65, "x"]',
  '[3, 2.5]',
  '[1, 2, 3]',
  '["a", 1, 1.5, null]',
  '[128512]',
  '[55296]',
  '[1114112]',
  '[-1]',
  '[1000001, 5]',
  '[0.5]',
  '[1.5]',
  '[1.005]',
  '[1e300]',
  '[5e-324]',
  '[1e-7]',
  '[1234567.0]',
  '[123456.0]',
  '[0.0001]',
  '[-0.0]',
  '[1.7976931348623157e308]',
];

// Values OPA builds itself, not from input: sets (in OPA's order), an object, computed floats.
const BUILT = {
  set: '{x | some x in input.a}',
  empty_set: 'set()',
  nested: '{"k": {x | some x in input.a}, "a": [input.a]}',
  third: 'count(input.a) / 3',
  product: 'count(input.a) * 1.5',
};

function policy(): string {
  const lines = ['package sp', 'import rego.v1', 'plain := sprintf(input.f, input.a)'];
  for (const [name, expr] of Object.entries(BUILT)) lines.push(`${name} := sprintf(input.f, [${expr}])`);
  return `${lines.join('\n')}\n`;
}

// An argument list whose first member is an integer beyond int64: OPA hands fmt a *big.Int, and
// %p prints its address, which differs from run to run; Warden writes Go's bad-verb note.
function addressed(args: string): boolean {
  const first = /^\[(-?\d+)\b(?![.eE])/.exec(args)?.[1];
  return first !== undefined && (BigInt(first) > 9223372036854775807n || BigInt(first) < -9223372036854775808n);
}

const RULES = ['plain', ...Object.keys(BUILT)];

describe('sprintf, against the real opa eval', () => {
  let dir: string;
  let engine: WasmEngine;

  before(async () => {
    dir = await writeTree(tempDir(), { 'sp.rego': policy() });
    const bundle = await opaBuildWasm(
      locateOpa().path,
      dir,
      RULES.map((r) => `sp/${r}`),
      'v1',
    );
    const wasm = (await readPack(bundle, {}, { opaOutput: true })).get('policy.wasm');
    assert.ok(wasm);
    engine = await loadWasmEngine(wasm, {});
  });

  for (const rule of RULES) {
    it(`${rule}: every format with every argument list formats as OPA's`, () => {
      const inputs = FORMATS.flatMap((f) =>
        ARGS.filter((a) => !(f === '%p' && addressed(a))).map((a) => `{"f":${JSON.stringify(f)},"a":${a}}`),
      );
      const expected = opaAnswers(dir, `sp/${rule}`, inputs);
      const differ = inputs
        .map((input, i) => {
          const out = engine.evaluateJson(`sp/${rule}`, input);
          return { input, opa: expected[i], warden: out === undefined ? undefined : canonicalJson(out) };
        })
        .filter((r) => r.opa !== r.warden);
      assert.deepEqual(differ.slice(0, 20), [], `${differ.length} of ${inputs.length} differ`);
      assert.ok(
        expected.every((e) => e !== undefined),
        'every row has an answer',
      );
    });
  }

  it('%p of an integer beyond int64 is a memory address in OPA (a *big.Int), a note in Warden', () => {
    const inputs = ARGS.filter(addressed).map((a) => `{"f":"%p","a":${a}}`);
    for (const answer of opaAnswers(dir, 'sp/plain', inputs)) assert.match(answer ?? '', /^"0x[0-9a-f]+"$/);
    for (const input of inputs) assert.match(engine.evaluateJson('sp/plain', input) ?? '', /^"%!p\(big\.Int=-?\d+\)"$/);
  });

  it('an argument list that is not an array leaves the call undefined, as in OPA', () => {
    const inputs = ['{"f":"%v","a":"x"}', '{"f":"%v","a":{"k":1}}', '{"f":1,"a":[]}'];
    const expected = opaAnswers(dir, 'sp/plain', inputs);
    assert.deepEqual(expected, [undefined, undefined, undefined]);
    assert.deepEqual(
      inputs.map((i) => engine.evaluateJson('sp/plain', i)),
      [undefined, undefined, undefined],
    );
  });
});
