import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadWasmEngine } from '../../src/engine/wasm.js';
import type { WardenError } from '../../src/errors.js';
import { buildPack } from '../../src/pack/build.js';
import { assembleData } from '../../src/pack/data.js';
import { manifestEntrypoints } from '../../src/pack/manifest.js';
import { readPack } from '../../src/pack/reader.js';
import { locateOpa } from '../../src/opa/locate.js';
import { parsePackSpec } from '../../src/pack/spec.js';
import { tempDir, writeTree } from '../helpers/fs.js';
import { buildFrom, simplePolicy } from '../helpers/packs.js';
import { rejectsCode } from '../helpers/errors.js';

const example = new URL('../../examples/authz', import.meta.url).pathname;

describe('pack build', () => {
  it('builds the example into a pack whose wasm answers every golden decision, as opa eval -b does', async () => {
    const out = join(tempDir(), 'authz.tar.gz');
    const built = await buildPack({ dir: example, out, sequence: 42 });
    assert.ok(existsSync(out));
    assert.equal(built.testsRun, 2);
    assert.equal(built.goldenRun, built.spec.golden.length);

    const files = await readPack(built.bytes);
    const engine = await loadWasmEngine(files.get('policy.wasm') ?? Buffer.alloc(0), assembleData(files));
    const opa = locateOpa().path;
    for (const c of built.spec.golden) {
      const wasm = engine.evaluate(c.entrypoint, c.input);
      assert.deepEqual(wasm, { defined: true, result: c.expect }, c.name);
      const query = `data.${c.entrypoint.replaceAll('/', '.')}`;
      const viaOpa = execFileSync(opa, ['eval', '-b', out, '--stdin-input', '--format', 'json', query], {
        input: JSON.stringify(c.input),
      });
      const value = (JSON.parse(viaOpa.toString()) as { result?: Array<{ expressions: Array<{ value: unknown }> }> })
        .result?.[0]?.expressions[0]?.value;
      assert.deepEqual(value, c.expect, `opa eval -b disagrees on ${c.name}`);
    }
  });

  it('writes a manifest with revision, roots, wasm entrypoints and the signed marker', async () => {
    const built = await buildFrom(simplePolicy(), { sequence: 7 });
    assert.equal(built.manifest.revision, 'simple-7');
    assert.deepEqual(built.manifest.roots, ['simple']);
    assert.deepEqual(manifestEntrypoints(built.manifest), ['simple/allow']);
    assert.deepEqual(
      { ...built.manifest.metadata.warden, builder: undefined },
      { format: 1, pack: 'simple', sequence: 7, created_at: '2026-11-22T00:00:00.000Z', builder: undefined },
    );
    const paths = [...built.files.keys()].sort();
    assert.deepEqual(paths, ['.manifest', 'data.json', 'policy.wasm', 'simple.rego', 'warden.golden.json']);
  });

  it('writes the same bytes for the same folder and marker', async () => {
    const a = await buildFrom(simplePolicy(), { sequence: 3 });
    const b = await buildFrom(simplePolicy(), { sequence: 3 });
    assert.equal(a.digest, b.digest);
  });

  it('names file:line:col and the opa message for a compile error', async () => {
    const err = await rejectsCode(
      buildFrom(simplePolicy({ 'simple.rego': 'package simple\n\nallow if {\n  input.user ==\n}\n' })),
      'PACK_COMPILE_FAILED',
    );
    assert.match(err.message, /simple\.rego:5:1: rego_parse_error/);
    assert.deepEqual(
      { file: err.details.file, line: err.details.line, col: err.details.col },
      { file: 'simple.rego', line: 5, col: 1 },
    );
  });

  it('refuses pre-1.0 syntax in a v1 pack and builds it when the pack says rego_version v0', async () => {
    const v0 = {
      'simple.rego': 'package simple\n\ndefault allow = false\n\nallow { input.user == "alice" }\n',
      'data.json': '{}',
    };
    const err = await rejectsCode(buildFrom(simplePolicy(v0)), 'PACK_COMPILE_FAILED');
    assert.match(err.message, /simple\.rego:5:\d+:.*`if` keyword is required/);
    const spec = simplePolicy()['warden.yaml'] + '\nrego_version: v0\n';
    const built = await buildFrom(simplePolicy({ ...v0, 'warden.yaml': spec }));
    assert.equal(built.manifest.rego_version, 0);
  });

  it('refuses an entrypoint that names no rule', async () => {
    const spec = simplePolicy()['warden.yaml'].replace(
      'entrypoints: [simple/allow]',
      'entrypoints: [simple/allow, simple/nope]',
    );
    const err = await rejectsCode(buildFrom(simplePolicy({ 'warden.yaml': spec })), 'PACK_COMPILE_FAILED');
    assert.match(err.message, /simple\/nope/);
  });

  it('refuses to write a pack whose _test.rego fails, naming the test', async () => {
    const out = join(tempDir(), 'never.tar.gz');
    const test =
      'package simple_test\n\nimport data.simple\n\ntest_bob_allowed if simple.allow with input as {"user": "bob"}\n';
    const err = await rejectsCode(buildFrom(simplePolicy({ 'simple_test.rego': test }), { out }), 'PACK_TEST_FAILED');
    assert.match(err.message, /data\.simple_test\.test_bob_allowed \(simple_test\.rego:5\)/);
    assert.ok(!existsSync(out), 'no pack is written');
  });

  it('refuses to write a pack whose golden decision fails, naming the case', async () => {
    const out = join(tempDir(), 'never.tar.gz');
    const spec = simplePolicy()['warden.yaml'].replace(
      'input: { user: bob }, expect: false',
      'input: { user: bob }, expect: true',
    );
    const err = await rejectsCode(buildFrom(simplePolicy({ 'warden.yaml': spec }), { out }), 'PACK_GOLDEN_FAILED');
    assert.match(err.message, /golden case "bob denied" \(simple\/allow\): expected true, got false/);
    assert.ok(!existsSync(out));
  });

  it('lists every bad key of warden.yaml with its path', () => {
    const err = (() => {
      try {
        parsePackSpec(
          'name: Bad Name\nentrypoints: []\ncolour: blue\ngolden: [{ name: x, entrypoint: "a/b" }]\n',
          'warden.yaml',
        );
      } catch (e) {
        return e as WardenError;
      }
      return undefined;
    })();
    assert.equal(err?.code, 'PACK_SPEC_INVALID');
    const issues = err?.details.issues as string[];
    assert.ok(
      issues.some((i) => i.startsWith('name:')),
      'name',
    );
    assert.ok(
      issues.some((i) => i.startsWith('entrypoints:')),
      'entrypoints',
    );
    assert.ok(
      issues.some((i) => i.includes('colour')),
      'unknown key',
    );
  });

  it('refuses a folder without warden.yaml or without Rego', async () => {
    await rejectsCode(buildPack({ dir: await writeTree(tempDir(), { 'a.rego': 'package a\n' }) }), 'PACK_SPEC_INVALID');
    await rejectsCode(
      buildPack({ dir: await writeTree(tempDir(), { 'warden.yaml': 'name: a\nentrypoints: [a/b]\n' }) }),
      'PACK_SPEC_INVALID',
    );
  });

  it('refuses data that does not parse or collides', async () => {
    await rejectsCode(buildFrom(simplePolicy({ 'data.json': '{"simple": ' })), 'PACK_DATA_INVALID');
    await rejectsCode(buildFrom(simplePolicy({ 'data.json': '[1,2]' })), 'PACK_DATA_INVALID');
  });
});
