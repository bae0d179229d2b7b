/**
 * The data document handed to the engine as text (assembleDataText): composed from the
 * files' bytes when mounts do not overlap, checked like JSON.parse checks (scanJson), lone
 * surrogate escapes turned into U+FFFD as OPA does, and equal in meaning to assembleData.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { prepareCandidate } from '../../src/activate/prepare.js';
import { requireLocal } from '../../src/engine/engine.js';
import { loadWasmEngine } from '../../src/engine/wasm.js';
import type { WardenError } from '../../src/errors.js';
import { buildPack } from '../../src/pack/build.js';
import { assembleData, assembleDataText } from '../../src/pack/data.js';
import { scanJson } from '../../src/pack/json-scan.js';
import { readPack } from '../../src/pack/reader.js';
import { writeTarGz } from '../../src/pack/tar-writer.js';
import { locateOpa } from '../../src/opa/locate.js';
import { rejectsCode } from '../helpers/errors.js';
import { tempDir, writeTree } from '../helpers/fs.js';
import { Rng } from '../helpers/fuzz.js';

const enc = (s: string): Buffer => Buffer.from(s, 'utf8');
const files = (o: Record<string, string | Buffer>): Map<string, Buffer> =>
  new Map(Object.entries(o).map(([k, v]) => [k, typeof v === 'string' ? enc(v) : v]));
const parsed = (bytes: Uint8Array): unknown => JSON.parse(Buffer.from(bytes).toString('utf8'));

// Asserts assembleDataText refuses the files as PACK_DATA_INVALID, the message matching `message`.
function refuses(f: Map<string, Buffer>, message: RegExp): void {
  assert.throws(
    () => assembleDataText(f),
    (e: WardenError) => {
      assert.equal(e.code, 'PACK_DATA_INVALID', e.message);
      assert.match(e.message, message);
      return true;
    },
  );
}

describe('scanJson accepts exactly what JSON.parse accepts', () => {
  const cases = [
    '{}',
    ' \n\t\r{"a":1} \n',
    '{"a":[1,-0,0.5,1e5,1E-5,-1.25e+10,true,false,null,"s",{},[]]}',
    '{"a":"\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\uD83D\\uDE00"}',
    '{"é":"ü😀"}',
    '[1]',
    '"s"',
    '12',
    '{"a":1}x',
    '{"a":1}}',
    '{"a":1} {"b":2}',
    '{"a":1,}',
    '{"a":[1,]}',
    '{"a":[1 2]}',
    '{"a":01}',
    '{"a":1.}',
    '{"a":.5}',
    '{"a":+1}',
    '{"a":-}',
    '{"a":1e}',
    '{"a":1e+}',
    '{"a":0x10}',
    "{'a':1}",
    '{a:1}',
    '{"a" 1}',
    '{"a":1 "b":2}',
    '{"a":NaN}',
    '{"a":Infinity}',
    '{"a":tru}',
    '{"a":nul}',
    '{"a":"a\tb"}',
    '{"a":"a\nb"}',
    '{"a":"\\x"}',
    '{"a":"\\u12"}',
    '{"a":"\\u12g4"}',
    '{"a":"unterminated}',
    '\ufeff{"a":1}',
    '',
    '   ',
    '{"a":1',
    '// c\n{"a":1}',
    '{"a":1}\u0000',
    '{"a":"\u0001"}',
    '{"a":"\u007f"}',
    '{,}',
    '{"a":1,,"b":2}',
    '[,1]',
    '{"a"}',
    '{"a":}',
    '{:1}',
    '{"a":1]',
    '[1}',
  ];
  for (const text of cases) {
    it(JSON.stringify(text), () => assert.equal(scanJson(enc(text)).ok, jsonParses(text)));
  }

  it('agrees on 20,000 seeded mutations of valid documents', () => {
    const seeds = [
      '{"users":{"u1":{"role":"admin","groups":["a","b"],"n":-1.5e3,"ok":true,"x":null}},"s":"a\\"b\\\\c\\u00e9"}',
      '[{"a":[[],{}]},0,"",[1,2,{"b":"c"}]]',
    ];
    const alphabet = [...'{}[]:,"\\ 01-.eE+tfnlrsua\t\n'];
    for (let n = 0; n < 20_000; n++) {
      const rng = new Rng(n + 1);
      let text = rng.pick(seeds);
      for (let k = 1 + rng.int(3); k > 0; k--) {
        const at = rng.int(text.length + 1);
        const op = rng.int(3);
        const c = rng.pick(alphabet);
        text =
          op === 0
            ? text.slice(0, at) + c + text.slice(at)
            : text.slice(0, at) + (op === 1 ? c : '') + text.slice(at + 1);
      }
      assert.equal(scanJson(enc(text)).ok, jsonParses(text), `case ${n}: ${text}`);
    }
  });

  it('flags \\uD800–\\uDFFF escapes (either case), and only those', () => {
    const flag = (t: string): boolean => {
      const s = scanJson(enc(t));
      return s.ok && s.surrogateEscapes;
    };
    assert.equal(flag('{"a":"\\ud800"}'), true);
    assert.equal(flag('{"a":"\\uDFFF"}'), true);
    assert.equal(flag('{"\\uDc00":1}'), true, 'in a key');
    assert.equal(flag('{"a":"\\ud7ff\\ue000"}'), false);
    assert.equal(flag('{"a":"\\\\ud800"}'), false, 'an escaped backslash, then text');
  });
});

function jsonParses(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

describe('assembleDataText', () => {
  it('hands one root data.json over as its own bytes, not a copy', () => {
    const bytes = enc('{"users":{"u1":{"role":"admin"}}}');
    assert.equal(assembleDataText(files({ 'data.json': bytes, 'p.rego': 'package p' })), bytes);
    assert.equal(assembleDataText(new Map([['data.json', bytes]])), bytes);
    assert.deepEqual(parsed(assembleDataText(files({ 'p.rego': 'package p' }))), {});
  });

  it('wraps nested mounts by their folder path and joins siblings, as assembleData mounts them', () => {
    const f = files({
      'a/b/data.json': '{"x":1}',
      'a/c/data.json': ' {"y":[1,2]} \n',
      'd/data.json': '{}',
      'e/f/g/data.json': '{"z":{"deep":true}}',
      'we"ird\\/data.json': '{"q":"\\u00e9"}',
      'a/b/p.rego': 'package a.b',
    });
    const text = assembleDataText(f);
    assert.deepEqual(parsed(text), assembleData(f));
    assert.deepEqual(parsed(text), {
      a: { b: { x: 1 }, c: { y: [1, 2] } },
      d: {},
      e: { f: { g: { z: { deep: true } } } },
      'we"ird\\': { q: 'é' },
    });
  });

  it('falls back to assembleData for a YAML file and for overlapping mounts, conflicts still refused', () => {
    const yaml = files({ 'a/data.yaml': 'x: 1\nl: [a, b]\n', 'b/data.json': '{"y":2}' });
    assert.deepEqual(parsed(assembleDataText(yaml)), { a: { x: 1, l: ['a', 'b'] }, b: { y: 2 } });
    const overlap = files({ 'data.json': '{"top":"\\ud800"}', 'a/data.json': '{"x":1}', 'a/b/data.json': '{"y":2}' });
    assert.deepEqual(parsed(assembleDataText(overlap)), { top: '\ufffd', a: { x: 1, b: { y: 2 } } });
    refuses(files({ 'data.json': '{"a":{"x":0}}', 'a/data.json': '{"x":1}' }), /^data\.json: key "a" is also defined/);
    refuses(files({ 'data.json': '{"x":1}', 'x/data.json': '{"y":1}' }), /^x\/data\.json: conflicts with a non-object/);
  });

  it('refuses a malformed data.json naming the file, line and column; never hands it to the engine', () => {
    refuses(
      files({ 'data.json': '{\n  "a": 1,\n  "b": tru\n}' }),
      /^data\.json: unexpected byte 0x0a at line 3 column 11$/,
    );
    refuses(
      files({ 'x/data.json': '{"a":1}x' }),
      /^x\/data\.json: unexpected character 'x' after the JSON value at line 1 column 8$/,
    );
    // Text that would compose into valid JSON, adding a key beside its mount: refused as the file it is.
    refuses(
      files({ 'a/data.json': '{"x":1},"evil":{"y":2}', 'b/data.json': '{}' }),
      /^a\/data\.json: unexpected character ','/,
    );
    refuses(files({ 'a/data.json': '[1,2]', 'b/data.json': '{}' }), /^a\/data\.json: the top level must be an object$/);
    refuses(files({ 'data.json': '' }), /^data\.json: no JSON value \(the file is empty\)/);
    refuses(files({ 'data.json': '{"a":[1 2]}' }), /^data\.json: unexpected character '2'/);
  });

  it('turns lone surrogate escapes into U+FFFD, keeps pairs and escaped backslashes, and invalid UTF-8 as JSON.parse reads it', () => {
    const text = assembleDataText(
      files({ 'data.json': '{"a":"x\\ud800y","b":"\\uD83D\\uDE00","c":"\\\\ud800","\\udc00k":"\\\\\\uDBFF"}' }),
    );
    assert.deepEqual(parsed(text), { a: 'x\ufffdy', b: '😀', c: '\\ud800', '\ufffdk': '\\\ufffd' });
    const latin1 = Buffer.concat([enc('{"a":"caf'), Buffer.from([0xe9]), enc('"}')]);
    assert.deepEqual(parsed(assembleDataText(files({ 'a/data.json': latin1 }))), {
      a: { a: 'caf\ufffd' },
    });
  });
});

describe('the engine on data text', () => {
  it('answers as opa eval on the same pack: lone surrogates, pairs, big numbers', async () => {
    const dir = await writeTree(tempDir(), {
      'warden.yaml': 'name: s\nentrypoints: [s/v, s/n]\n',
      's.rego': 'package s\n\nv := data.d\n\nn := data.e.big\n',
      'd/data.json': [
        '{"lone":"a\\ud800b","upper":"\\uD800","low":"\\udc00","pair":"\\ud83d\\ude00","upperPair":"\\uD83D\\uDE00",',
        '"twoHighs":"\\ud83d\\ud83d\\ude00","reversed":"\\ude00\\ud83d","then":"\\ud800\\u0041",',
        '"escaped":"\\\\ud800","oddRun":"\\\\\\ud800","k\\ud800":1}',
      ].join(''),
      'e/data.json': '{"big":12345678901234567890}',
    });
    const out = join(dir, 's.tar.gz');
    const built = await buildPack({ dir, out, sequence: 1 });
    const candidate = await prepareCandidate('s', built.bytes, undefined, { kind: 'unsigned' }, {});
    const opa = locateOpa().path;
    for (const entrypoint of ['s/v', 's/n']) {
      const viaOpa = JSON.parse(
        execFileSync(opa, ['eval', '-b', out, '--format', 'json', `data.${entrypoint.replace('/', '.')}`]).toString(),
      ) as { result: Array<{ expressions: Array<{ value: unknown }> }> };
      const mine = requireLocal(candidate.engine, 'test').evaluate(entrypoint, {});
      assert.deepEqual(mine, { defined: true, result: viaOpa.result[0]?.expressions[0]?.value }, entrypoint);
    }
    assert.deepEqual(requireLocal(candidate.engine, 'test').evaluate('s/v', {}), {
      defined: true,
      result: {
        lone: 'a\ufffdb',
        upper: '\ufffd',
        low: '\ufffd',
        pair: '😀',
        upperPair: '😀',
        twoHighs: '\ufffd😀',
        reversed: '\ufffd\ufffd',
        then: '\ufffdA',
        escaped: '\\ud800',
        oddRun: '\\\ufffd',
        'k\ufffd': 1,
      },
    });
  });

  it('gives the same answers from text as from the parsed document', async () => {
    const dir = await writeTree(tempDir(), {
      'warden.yaml': 'name: t\nentrypoints: [t/v]\n',
      't.rego': 'package t\n\nv := {"a": data.a, "b": data.b, "n": count(data.a.list)}\n',
      'a/data.json': '{"list":[1,2.5,-3e2,"x",null,true,{"k":[]}],"nested":{"é":"😀"}}',
      'b/c/data.json': '{"deep":{"er":[{}]}}',
    });
    const built = await buildPack({ dir, sequence: 1 });
    const read = await readPack(built.bytes);
    const wasm = read.get('policy.wasm') ?? Buffer.alloc(0);
    const fromText = await loadWasmEngine(wasm, assembleDataText(read));
    const fromObject = await loadWasmEngine(wasm, assembleData(read));
    assert.deepEqual(fromText.evaluate('t/v', {}), fromObject.evaluate('t/v', {}));
    assert.equal((fromText.evaluate('t/v', {}) as { result: { n: number } }).result.n, 7);
  });

  it('refuses a pack whose data.json is malformed as PACK_DATA_INVALID naming the file (no build: a crafted pack)', async () => {
    const dir = await writeTree(tempDir(), {
      'warden.yaml': 'name: m\nentrypoints: [m/v]\n',
      'm.rego': 'package m\n\nv := data.x\n',
      'x/data.json': '{"ok":true}',
    });
    const built = await buildPack({ dir, sequence: 1 });
    const tampered = writeTarGz(
      [...built.files].map(([path, data]) => ({
        path,
        data: path === 'x/data.json' ? enc('{"ok":true}, "y": 1') : data,
      })),
    );
    const e = await rejectsCode(
      prepareCandidate('m', tampered, undefined, { kind: 'unsigned' }, {}),
      'PACK_DATA_INVALID',
    );
    assert.match(e.message, /^x\/data\.json: unexpected character ',' after the JSON value at line 1 column 12$/);
    assert.equal(e.details.file, 'x/data.json');
  });
});

describe('a big data.json', () => {
  it('over the old 16 MiB cap builds with the default limits and activates', async () => {
    // 17 MiB in 17 long strings: big in bytes, cheap to parse (opa, JSON.parse and the engine).
    const chunk = 'abcdefghijklmnopqrstuvwxyz0123456789'.repeat(29_128).slice(0, 1024 * 1024 - 16);
    const blobs = Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, chunk]));
    const data = JSON.stringify({ blobs });
    assert.ok(data.length > 17 * 1024 * 1024 - 1024 && data.length > 16 * 1024 * 1024);
    const dir = await writeTree(tempDir(), {
      'warden.yaml': [
        'name: big',
        'entrypoints: [big/n]',
        'golden:',
        '  - { name: all blobs, entrypoint: big/n, input: {}, expect: 17 }',
      ].join('\n'),
      'big.rego': 'package big\n\nn := count(data.blobs)\n',
      'data.json': data,
    });
    const built = await buildPack({ dir, sequence: 1 });
    const candidate = await prepareCandidate('big', built.bytes, undefined, { kind: 'unsigned' }, {});
    assert.deepEqual(requireLocal(candidate.engine, 'test').evaluate('big/n', {}), { defined: true, result: 17 });
    assert.equal(candidate.goldenRun, 1);
  });
});
