import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadWasmEngine } from '../../src/engine/wasm.js';
import { locateOpa } from '../../src/opa/locate.js';
import { buildPack } from '../../src/pack/build.js';
import { assembleData } from '../../src/pack/data.js';
import { readPack } from '../../src/pack/reader.js';
import { tempDir, writeTree } from '../helpers/fs.js';
import { VERBATIM_ENVIRONMENT, VERBATIM_LABELS, VERBATIM_PRIORITY } from '../helpers/document-policies.js';
import { rejectsCode } from '../helpers/errors.js';

const example = new URL('../../examples/signalprocessing', import.meta.url).pathname;

// The three policies of docs' "SignalProcessing ConfigMap Hot-Reload Deployment Guide"
// (kubernaut-rego-policies), verbatim as the ConfigMap mounts them: pre-1.0 Rego whose
// unconditional fallbacks conflict with the specific rules.


// A folder with the verbatim policies (or some of them) and a warden.yaml naming their entrypoints.
async function verbatimFolder(extraSpec: string[] = [], policies: ReadonlyArray<'priority' | 'environment' | 'labels'> = ['priority', 'environment', 'labels']): Promise<string> {
  const entrypoint = { priority: 'priority/priority', environment: 'environment/environment', labels: 'labels/custom_labels' };
  const source = { priority: VERBATIM_PRIORITY, environment: VERBATIM_ENVIRONMENT, labels: VERBATIM_LABELS };
  const spec = ['name: signalprocessing', `entrypoints: [${policies.map((p) => entrypoint[p]).join(', ')}]`, ...extraSpec];
  return writeTree(tempDir('warden-sp-'), {
    'warden.yaml': spec.join('\n') + '\n',
    ...Object.fromEntries(policies.map((p) => [`${p}.rego`, source[p]])),
  });
}

describe('the signalprocessing example', () => {
  it('builds with its opa tests and golden decisions, and opa eval -b on the pack agrees with the wasm engine on every case', async () => {
    const out = join(tempDir(), 'signalprocessing.tar.gz');
    const built = await buildPack({ dir: example, out, sequence: 1 });
    assert.deepEqual(built.spec.entrypoints, ['priority/priority', 'environment/environment', 'labels/custom_labels']);
    assert.ok(built.testsRun > 0, 'signalprocessing_test.rego ran');
    assert.ok(built.goldenRun >= 20, 'every rule of the document has a golden case');
    assert.ok(!built.files.has('signalprocessing_test.rego'), 'tests are not shipped');

    const files = await readPack(built.bytes);
    const engine = await loadWasmEngine(files.get('policy.wasm') ?? Buffer.alloc(0), assembleData(files));
    const opa = locateOpa().path;
    for (const c of built.spec.golden) {
      assert.deepEqual(engine.evaluate(c.entrypoint, c.input ?? null), { defined: true, result: c.expect }, c.name);
      const query = `data.${c.entrypoint.replaceAll('/', '.')}`;
      const viaOpa = execFileSync(opa, ['eval', '-b', out, '--stdin-input', '--format', 'json', query], { input: JSON.stringify(c.input ?? null) });
      type EvalOutput = { result?: Array<{ expressions: Array<{ value: unknown }> }> };
      const value = (JSON.parse(viaOpa.toString()) as EvalOutput).result?.[0]?.expressions[0]?.value;
      assert.deepEqual(value, c.expect, `opa eval -b disagrees on ${c.name}`);
    }
  });
});

describe("the document's verbatim policies", () => {
  it('are refused as Rego v1 with a parse error at priority.rego:4 (`if` required)', async () => {
    const err = await rejectsCode(buildPack({ dir: await verbatimFolder() }), 'PACK_COMPILE_FAILED');
    assert.match(err.message, /^priority\.rego:4:1: rego_parse_error: `if` keyword is required before rule body$/m);
    // details.file/line name opa's first error (opa lists files alphabetically); details.errors lists them all.
    assert.deepEqual({ file: err.details.file, line: err.details.line }, { file: 'environment.rego', line: 4 });
    const errors = err.details.errors as string[];
    assert.ok(errors.includes('priority.rego:4:1: rego_parse_error: `if` keyword is required before rule body'), errors.join(' | '));
    assert.ok(errors.includes('labels.rego:4:1: rego_parse_error: `if` keyword is required before rule body'), errors.join(' | '));
  });

  it('are refused as v0 without any golden decision: the constant fallbacks of priority and environment conflict, both lines named', async () => {
    const out = join(tempDir(), 'never.tar.gz');
    const err = await rejectsCode(buildPack({ dir: await verbatimFolder(['rego_version: v0']), out }), 'PACK_RULE_CONFLICT');
    assert.match(
      err.message,
      /^environment\.rego:29: rule data\.environment\.environment always gives "unknown", but environment\.rego:4 gives "production", environment\.rego:8 gives "production", environment\.rego:12 gives "staging", .*; priority\.rego:33: rule data\.priority\.priority always gives "P2", but priority\.rego:4 gives "P0", priority\.rego:9 gives "P1", priority\.rego:14 gives "P1", priority\.rego:28 gives "P3": every decision where both apply fails with a conflict$/,
    );
    assert.deepEqual({ file: err.details.file, line: err.details.line }, { file: 'environment.rego', line: 29 });
    assert.match(err.hint, /`default environment := "unknown"` at environment\.rego:29, `default priority := "P2"` at priority\.rego:33/);
    assert.ok(!existsSync(out), 'no pack is written');
  });

  // labels.rego's specific rule computes its value (a comprehension): the conflict with `custom_labels := {}`
  // depends on the input, so only a golden decision (or a test) finds it.
  it('are refused as v0 when a golden case hits the labels fallback conflict, naming the file and lines', async () => {
    const golden =
      '{ name: prefixed annotations are labels, entrypoint: labels/custom_labels, input: { pod: { annotations: { kubernaut.ai/label-team: checkout } } }, expect: { kubernaut.ai/label-team: checkout } }';
    const out = join(tempDir(), 'never.tar.gz');
    const dir = await verbatimFolder(['rego_version: v0', 'golden:', `  - ${golden}`], ['labels']);
    const err = await rejectsCode(buildPack({ dir, out }), 'PACK_GOLDEN_FAILED');
    assert.equal(err.details.file, 'labels.rego');
    assert.equal(err.details.line, 13);
    assert.equal(err.details.opa_code, 'eval_conflict_error');
    assert.match(err.message, /labels\.rego:13:\d+: eval_conflict_error: rule data\.labels\.custom_labels produced conflicting values/);
    assert.match(err.message, /at labels\.rego:4 \{\} at labels\.rego:13/);
    assert.ok(!existsSync(out), 'no pack is written');
  });
});
