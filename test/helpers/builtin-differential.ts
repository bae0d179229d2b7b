/**
 * A differential table for host builtins: one rule per builtin, `name(input.args[0], …)`,
 * compiled to wasm and loaded in the embedded engine, then every row (the arguments as
 * JSON text) evaluated there and by the real `opa eval` on the same bundle. A builtin
 * error is undefined in OPA outside strict mode, so an error row is undefined on both
 * sides. Answers are compared as canonical JSON text, numbers as written.
 */
import assert from 'node:assert/strict';
import { HOST_BUILTINS } from '../../src/engine/builtins.js';
import { loadWasmEngine, type WasmEngine } from '../../src/engine/wasm.js';
import { opaBuildWasm } from '../../src/opa/compile.js';
import { locateOpa } from '../../src/opa/locate.js';
import { readPack } from '../../src/pack/reader.js';
import { canonicalJson } from './canonical-json.js';
import { tempDir, writeTree } from './fs.js';
import { opaAnswers } from './opa-eval.js';

/** Builtin name → rows of arguments, each a JSON array text (all rows of one builtin have its arity). */
export type BuiltinCases = Readonly<Record<string, readonly string[]>>;

/** One row where the engines differ. */
export interface Difference {
  readonly args: string;
  readonly opa: string | undefined;
  readonly warden: string | undefined;
}

export const ruleName = (builtin: string): string => builtin.replaceAll('.', '_');

/** A compiled table: the bundle directory (for opa eval) and the embedded engine. */
export interface DifferentialTable {
  readonly dir: string;
  readonly engine: WasmEngine;
  /** Runs every row of `name` through both engines; the rows that differ, and OPA's answers. */
  run(name: string): { differences: Difference[]; opa: Array<string | undefined> };
}

/** Compiles a package with one rule per builtin of `cases` (plus `extra` Rego lines) to wasm. */
export async function builtinTable(
  pkg: string,
  cases: BuiltinCases,
  extra: { lines?: readonly string[]; entrypoints?: readonly string[] } = {},
): Promise<DifferentialTable> {
  const lines = [`package ${pkg}`, 'import rego.v1'];
  for (const [name, rows] of Object.entries(cases)) {
    const arity = (JSON.parse(rows[0] as string) as unknown[]).length;
    const args = Array.from({ length: arity }, (_, i) => `input.args[${i}]`).join(', ');
    lines.push(`${ruleName(name)} := ${name}(${args})`);
  }
  lines.push(...(extra.lines ?? []), '');
  const entrypoints = [...Object.keys(cases).map((n) => `${pkg}/${ruleName(n)}`), ...(extra.entrypoints ?? [])];
  const dir = await writeTree(tempDir(), { [`${pkg}.rego`]: lines.join('\n') });
  const bundle = await opaBuildWasm(locateOpa().path, dir, entrypoints, 'v1');
  const wasm = (await readPack(bundle, {}, { opaOutput: true })).get('policy.wasm');
  assert.ok(wasm);
  const engine = await loadWasmEngine(wasm, {});
  return {
    dir,
    engine,
    run(name) {
      assert.ok(HOST_BUILTINS.has(name), `${name} is provided`);
      const rows = cases[name] ?? [];
      const path = `${pkg}/${ruleName(name)}`;
      const inputs = rows.map((args) => `{"args":${args}}`);
      const opa = opaAnswers(dir, path, inputs);
      const warden = inputs.map((input) => {
        const out = engine.evaluateJson(path, input);
        return out === undefined ? undefined : canonicalJson(out);
      });
      const differences = rows
        .map((args, i) => ({ args, opa: opa[i], warden: warden[i] }))
        .filter((r) => r.opa !== r.warden);
      return { differences, opa };
    },
  };
}

/**
 * Asserts that every row of `name` answers as OPA's, and that the table has both outcomes
 * (with `total`, for a builtin that answers every argument, e.g. false: distinct answers).
 */
export function assertSameAsOpa(table: DifferentialTable, name: string, { total = false } = {}): void {
  const { differences, opa } = table.run(name);
  assert.deepEqual(differences, []);
  assert.ok(
    opa.some((a) => a !== undefined),
    `${name}: some rows are defined`,
  );
  if (total) assert.ok(new Set(opa).size > 1, `${name}: the rows have different answers`);
  else
    assert.ok(
      opa.some((a) => a === undefined),
      `${name}: some rows are errors (undefined)`,
    );
}
