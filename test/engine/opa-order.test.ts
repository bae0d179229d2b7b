/**
 * The embedded engine answers in OPA's order: sets sorted by OPA's ordering of
 * values, object keys sorted, numbers as written. Against the real `opa eval`
 * (strings compared after re-encoding, everything else byte for byte), on the
 * authz example over 300 seeded random inputs per entrypoint (allow and deny
 * both present) and on a policy of mixed sets. Every example pack, with edge-value
 * inputs and object key order compared too: examples-differential.test.ts.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadPackEngine } from '../../src/activate/load-engine.js';
import { compareNumbers } from '../../src/engine/rego-value.js';
import type { WasmEngine } from '../../src/engine/wasm.js';
import { buildPack } from '../../src/pack/build.js';
import { MANIFEST_PATH, parseManifest } from '../../src/pack/manifest.js';
import { readPack } from '../../src/pack/reader.js';
import { canonicalJson } from '../helpers/canonical-json.js';
import { opaAnswers } from '../helpers/opa-eval.js';
import { tempDir } from '../helpers/fs.js';
import { buildFrom } from '../helpers/packs.js';

const EXAMPLE = new URL('../../examples/authz', import.meta.url).pathname;
const ROLES = ['admin', 'editor', 'viewer', 'auditor', 'zeta', 'Éclair', '😀 emoji', 'ﬀ ligature'];
const ACTIONS = ['read', 'write', 'delete', 'approve', 'Read'];
const TENANTS = ['acme', 'globex', 'initech'];

// A seeded generator (mulberry32): the same cases on every run.
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function authzInputs(n: number): unknown[] {
  const r = random(42);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;
  return Array.from({ length: n }, () => ({
    user: { roles: Array.from({ length: 1 + Math.floor(r() * 4) }, () => pick(ROLES)), tenant: pick(TENANTS) },
    action: pick(ACTIONS),
    resource: { tenant: pick(TENANTS) },
  }));
}

// Warden's engine on each input: canonical text of the engine's own answer.
function wardenAnswers(engine: WasmEngine, path: string, inputs: readonly string[]): Array<string | undefined> {
  return inputs.map((input) => {
    const text = engine.evaluateJson(path, input);
    return text === undefined ? undefined : canonicalJson(text);
  });
}

async function engineOf(bytes: Uint8Array): Promise<WasmEngine> {
  const files = await readPack(bytes);
  return (await loadPackEngine(files, parseManifest(files.get(MANIFEST_PATH)))).engine;
}

describe("the engine's answers in OPA's order, against opa eval", () => {
  it('answers the authz example like OPA on 300 random inputs per entrypoint, allow and deny both', async () => {
    const out = tempDir();
    const built = await buildPack({ dir: EXAMPLE, sequence: 1, out: join(out, 'authz.tar.gz') });
    const engine = await engineOf(built.bytes);
    const inputs = authzInputs(300).map((i) => JSON.stringify(i));
    for (const path of ['authz/allow', 'authz/reasons']) {
      const w = wardenAnswers(engine, path, inputs);
      const o = opaAnswers(join(out, 'authz.tar.gz'), path, inputs);
      for (let i = 0; i < inputs.length; i++) assert.equal(w[i], o[i], `${path} on ${inputs[i]}`);
      if (path === 'authz/allow') {
        assert.ok(w.includes('true') && w.includes('false'), 'both outcomes are represented');
      } else {
        const sizes = new Set(w.map((t) => (t === undefined ? 0 : (JSON.parse(t) as unknown[]).length)));
        assert.ok(
          [...sizes].some((n) => n >= 2),
          'some denials give several reasons, whose order matters',
        );
      }
    }
  });

  it('sorts sets of every kind of value as OPA does, nested ones too, and object keys', async () => {
    const built = await buildFrom({
      'warden.yaml': 'name: sets\nentrypoints: [sets/mixed, sets/of]\n',
      'sets.rego': [
        'package sets',
        'import rego.v1',
        'of contains x if some x in input.xs',
        'mixed := {"z": of, "a": [3, {2, 1}], "empty": set(), "nums": {3, 1, 2.5, -1, 1e3, 10, 0.5}, "kinds": {true, false, null, "x", 1, [1], {"k": 1}, {2}}}',
        '',
      ].join('\n'),
    });
    const engine = await engineOf(built.bytes);
    const bundle = join(tempDir(), 'sets.tar.gz');
    writeFileSync(bundle, built.bytes);
    const inputs = [
      '{"xs": ["b", "a", "B", "é", "😀", "ﬀ", ""]}',
      '{"xs": [3, 1, -2, 1.5, 12345678901234567891, 2, 1e3, 2.0]}',
      '{"xs": [[2], [1, 2], [1], {"b": 1}, {"a": 2}, null, true]}',
      '{"xs": []}',
    ];
    for (const path of ['sets/of', 'sets/mixed']) {
      assert.deepEqual(wardenAnswers(engine, path, inputs), opaAnswers(bundle, path, inputs), path);
    }
  });

  it('compares numbers exactly, by value', () => {
    assert.equal(compareNumbers('1.0', '1'), 0);
    assert.equal(compareNumbers('1e3', '1000'), 0);
    assert.ok(compareNumbers('12345678901234567891', '12345678901234567890') > 0);
    assert.ok(compareNumbers('-12345678901234567891', '-12345678901234567890') < 0);
    assert.ok(compareNumbers('0.5', '1e-1') > 0);
    assert.ok(compareNumbers('-0', '0') === 0 && compareNumbers('-1', '0') < 0);
  });
});
