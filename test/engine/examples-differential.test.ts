/**
 * Every example pack (examples/authz, governance, killswitch, signalprocessing),
 * against the real `opa eval`: each declared entrypoint on at least 300 seeded
 * random inputs (mulberry32), built to reach every branch of the pack's Rego and
 * data, with edge values (missing fields, wrong types, empty and blank strings,
 * unicode, a lone surrogate, non-object inputs). Answers must be identical:
 * strings compared after re-encoding, numbers as written, array and set order,
 * and object key order too (orderedJson, not the sorted canonical form). The
 * entrypoints that read only data (governance/modules, killswitch/state) are also
 * run on seeded random data documents beside the same policy.wasm, since no input
 * changes their answer. Each entrypoint must show its coverage floor: allow and
 * deny both, every deny reason, every value of a string result, at least two
 * distinct object answers; the counts are reported as test diagnostics.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { loadPackEngine } from '../../src/activate/load-engine.js';
import { engineText } from '../../src/engine/json-text.js';
import type { WasmEngine } from '../../src/engine/wasm.js';
import { buildPack } from '../../src/pack/build.js';
import { GOLDEN_PATH, MANIFEST_PATH, parseManifest } from '../../src/pack/manifest.js';
import { readPack, type PackFiles } from '../../src/pack/reader.js';
import { writeTarGz } from '../../src/pack/tar-writer.js';
import { orderedJson } from '../helpers/canonical-json.js';
import { tempDir } from '../helpers/fs.js';
import { Rng } from '../helpers/fuzz.js';
import { opaAnswers } from '../helpers/opa-eval.js';

const EXAMPLES = new URL('../../examples/', import.meta.url).pathname;
const INPUTS = 300;
// Random data documents per data-only entrypoint, and inputs on each.
const DATA_VARIANTS = 8;
const INPUTS_PER_VARIANT = 40;

/** A field left out of the object it would be in. */
const MISSING = Symbol('missing');

/** An object of the fields that are not MISSING. */
function obj(fields: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== MISSING));
}

// Strings that differ only in ways engines get wrong: case, composition, non-ASCII space, astral
// characters, a lone surrogate (OPA's Go decoder and Warden both make it U+FFFD), NUL.
const UNICODE = ['é', 'e\u0301', 'Éclair', '😀', 'ﬀ', 'İ', '\u00a0', '\u3000', '\ud800', 'a\u0000b', 'Z', '<&>'];
// Values of the wrong type, and a missing field.
const WRONG = [MISSING, null, true, false, 0, 42, -1.5, 1e21, [], {}, ['x'], { k: 'v' }];
// Whole inputs that are not objects.
const NON_OBJECTS = ['not a request', '', 0, 7, null, false, true, [], [{ tenant: 'acme' }]];

/** With probability p a pick from `edges` (and WRONG, UNICODE), else `value`. */
function maybe(r: Rng, p: number, value: unknown, edges: readonly unknown[] = []): unknown {
  if (!r.chance(p)) return value;
  return r.pick([...edges, ...WRONG, ...UNICODE]);
}

/** A subset of `xs`, each element kept with probability p, in random order. */
function subset<T>(r: Rng, xs: readonly T[], p = 0.5): T[] {
  return xs.filter(() => r.chance(p)).sort(() => r.next() - 0.5);
}

function readJson<T>(path: string): T {
  return JSON.parse(readFileSync(path, 'utf8')) as T;
}

// ---- authz ----------------------------------------------------------------------------------

const authzData = readJson<{ authz: { roles: Record<string, string[]> } }>(join(EXAMPLES, 'authz/data.json'));
const AUTHZ_ROLES = Object.keys(authzData.authz.roles);
const AUTHZ_ACTIONS = [...new Set(Object.values(authzData.authz.roles).flat())];
const AUTHZ_TENANTS = ['acme', 'globex', 'initech'];

function authzInput(r: Rng): unknown {
  if (r.chance(0.03)) return r.pick(NON_OBJECTS);
  // Roles: known ones mostly; unknown, unicode and non-string members (sprintf formats them).
  const role = (): unknown =>
    r.chance(0.8) ? r.pick(AUTHZ_ROLES) : r.pick(['auditor', 'Admin', ...UNICODE, ...WRONG]);
  const roles = r.chance(0.9)
    ? Array.from({ length: r.int(4) + (r.chance(0.95) ? 1 : 0) }, role).filter((x) => x !== MISSING)
    : r.pick([MISSING, 'admin', null, { admin: true }]);
  const tenant = r.pick(AUTHZ_TENANTS);
  return obj({
    user: maybe(r, 0.05, obj({ roles, tenant: maybe(r, 0.1, tenant), name: 'ada' })),
    action: maybe(r, 0.1, r.pick([...AUTHZ_ACTIONS, 'approve', 'Read']), [1.5]),
    resource: maybe(r, 0.05, obj({ tenant: maybe(r, 0.1, r.chance(0.6) ? tenant : r.pick(AUTHZ_TENANTS)) })),
  });
}

/**
 * True when authz/reasons would hand sprintf an action that is not a string, which Go's fmt
 * formats its own way (`%!s(int64=7)`, `["x"]`). (A role that is not a string never reaches
 * sprintf: data.authz.roles has no such key, so its reason is undefined.)
 */
function sprintfGetsNonString(input: unknown): boolean {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) return false;
  const { action } = input as { action?: unknown };
  return action !== undefined && typeof action !== 'string';
}

// ---- governance -----------------------------------------------------------------------------

interface GovernanceData {
  governance: {
    tenants: Record<string, { status: string; modules: string[]; consents: string[] }>;
    module_catalog: Record<string, { risk: string; actions: string[]; purposes?: string[] }>;
  };
}
const governanceData = readJson<GovernanceData>(join(EXAMPLES, 'governance/data.json'));
const GOV_TENANTS = governanceData.governance.tenants;
const GOV_CATALOG = governanceData.governance.module_catalog;
const GOV_MODULES = Object.keys(GOV_CATALOG);
const GOV_ACTIONS = [...new Set(Object.values(GOV_CATALOG).flatMap((m) => m.actions))];
const GOV_PURPOSES = [
  ...new Set([
    ...Object.values(GOV_CATALOG).flatMap((m) => m.purposes ?? []),
    ...Object.values(GOV_TENANTS).flatMap((t) => t.consents),
  ]),
];
// The deny codes, from the policy itself: every one must show up in some verdict.
const GOV_REASONS = [
  ...readFileSync(join(EXAMPLES, 'governance/policy.rego'), 'utf8').matchAll(/^deny contains "(\w+)"/gm),
].map((m) => m[1] as string);

function governanceInput(r: Rng): unknown {
  if (r.chance(0.03)) return r.pick(NON_OBJECTS);
  // A well-formed request first (enabled module, offered action, allowed and consented purpose),
  // then each field broken with some probability, so that allow and every deny code both occur.
  const tenant = r.chance(0.9) ? r.pick(Object.keys(GOV_TENANTS)) : r.pick(['umbrella', 'Acme', '', ...UNICODE]);
  const t = GOV_TENANTS[tenant];
  const module = t && r.chance(0.8) ? r.pick(t.modules) : r.pick([...GOV_MODULES, 'crm', 'Billing']);
  const m = GOV_CATALOG[module];
  const action = m && r.chance(0.85) ? r.pick(m.actions) : r.pick([...GOV_ACTIONS, 'delete', 'READ']);
  const fitting = (m?.purposes ?? []).filter((p) => t?.consents.includes(p));
  const purpose =
    fitting.length > 0 && r.chance(0.8)
      ? r.pick(fitting)
      : r.chance(0.5)
        ? MISSING
        : r.pick([...GOV_PURPOSES, 'marketing']);
  const resource = r.pick([
    MISSING,
    `${tenant}/invoices/${r.int(1000)}`,
    `${tenant}/`,
    `${tenant}-corp/invoices/7`,
    tenant,
    `${r.pick(Object.keys(GOV_TENANTS))}/x`,
  ]);
  const subject = r.pick(['alice', 'svc-fraud', 'ml-pipeline', 'ü', '😀']);
  return obj({
    tenant: maybe(r, 0.08, tenant, [['acme']]),
    subject: maybe(r, 0.15, subject, ['', ' ', '\t\n', '\u00a0', '\u3000', '\u2028', ' x ']),
    module: maybe(r, 0.08, module, [{ name: 'billing' }]),
    action: maybe(r, 0.1, action),
    resource: maybe(r, 0.1, resource, [`${tenant}/${'ü'}`]),
    purpose: maybe(r, 0.1, purpose),
    extra: r.chance(0.1) ? { nested: [1, 'two'] } : MISSING,
  });
}

// A catalogue of random modules: risks of every kind (the policy calls anything but "core" high).
function governanceDataVariant(r: Rng): unknown {
  const names = subset(r, [...GOV_MODULES, 'ﬀ', '😀', 'Z', 'a', 'é', 'e\u0301', ''], r.pick([0, 0.3, 0.6, 0.9]));
  const catalog = Object.fromEntries(
    names.map((name) => [
      name,
      obj({
        risk: r.pick(['core', 'high', 'Core', 'medium', '', null, 1, MISSING]),
        actions: subset(r, GOV_ACTIONS),
        purposes: r.chance(0.7) ? subset(r, GOV_PURPOSES) : MISSING,
      }),
    ]),
  );
  return { governance: { tenants: GOV_TENANTS, module_catalog: catalog } };
}

// ---- killswitch -----------------------------------------------------------------------------

const KS_MODULES = Object.keys(
  readJson<{ killswitch: { modules: Record<string, unknown> } }>(join(EXAMPLES, 'killswitch/data.json')).killswitch
    .modules,
);

function anyInput(r: Rng): unknown {
  return r.chance(0.2)
    ? r.pick(NON_OBJECTS)
    : obj({ tenant: maybe(r, 0.3, 'acme'), module: maybe(r, 0.3, r.pick(KS_MODULES)), subject: maybe(r, 0.5, 'ü') });
}

// Switch states of every shape: objects of modules (unicode names too), and malformed documents.
function killswitchDataVariant(r: Rng): unknown {
  const shape = r.pick(['modules', 'modules', 'modules', 'none', 'no-modules', 'not-object']);
  if (shape === 'none') return {};
  if (shape === 'no-modules') return { killswitch: { other: 1 } };
  if (shape === 'not-object') return { killswitch: { modules: r.pick([[], ['billing'], 'billing', 0, true, null]) } };
  const names = subset(r, [...KS_MODULES, 'ﬀ', '😀', 'Z', 'a', 'é', '', 'reporting'], 0.6);
  return {
    killswitch: {
      modules: Object.fromEntries(
        names.map((n) => [
          n,
          obj({ active: r.pick([true, false, 'yes', MISSING]), reason: r.pick(['', 'paused', '😀 ü', MISSING]) }),
        ]),
      ),
    },
  };
}

// ---- signalprocessing -----------------------------------------------------------------------

const SEVERITIES = ['critical', 'error', 'warning', 'info'];
const ENVIRONMENTS = ['production', 'staging', 'development'];

function priorityInput(r: Rng): unknown {
  if (r.chance(0.03)) return r.pick(NON_OBJECTS);
  return obj({
    severity: maybe(r, 0.15, r.pick(SEVERITIES), ['debug', 'Critical', 'critical ']),
    environment: maybe(r, 0.2, r.pick([...ENVIRONMENTS, 'unknown']), ['Production', 'production\u0000']),
  });
}

function environmentInput(r: Rng): unknown {
  if (r.chance(0.03)) return r.pick(NON_OBJECTS);
  const prefix = r.pick(['prod-', 'staging-', 'dev-', 'prod', 'Prod-', 'qa-', '', 'production-', 'dev']);
  const name = `${prefix}${r.pick(['payments', '', 'ü', '😀'])}`;
  const label = r.pick([...ENVIRONMENTS, 'qa', 'Production', '']);
  const labels = r.chance(0.5)
    ? obj({ environment: maybe(r, 0.1, label), team: r.chance(0.3) ? 'checkout' : MISSING })
    : r.pick([MISSING, {}, ['environment'], 'production', null]);
  return obj({ namespace: maybe(r, 0.05, obj({ name: maybe(r, 0.1, name), labels })) });
}

const LABEL_PREFIX = 'kubernaut.ai/label-';

function labelsInput(r: Rng): unknown {
  if (r.chance(0.03)) return r.pick(NON_OBJECTS);
  // Keys with the prefix and random (unicode) suffixes, so that key order matters; near misses.
  const keys = Array.from({ length: r.int(6) }, () =>
    r.chance(0.7)
      ? `${LABEL_PREFIX}${r.pick(['team', 'tier', 'Team', '', 'ﬀ', '😀', 'é', 'e\u0301', 'Z', 'a', '\ud800', 'a b'])}`
      : r.pick([
          'app.kubernetes.io/name',
          `x.${LABEL_PREFIX}team`,
          'kubernaut.ai/label',
          'Kubernaut.ai/label-team',
          '',
        ]),
  );
  const value = (): unknown =>
    r.pick(['checkout', 'gold', '', '😀', 'ü', 1, 2.5, true, null, ['a', 1], { b: 1, a: [2] }, { z: 'é', ﬀ: 0 }]);
  const annotations = r.chance(0.9)
    ? Object.fromEntries(keys.map((k) => [k, value()]))
    : r.pick([MISSING, [], [LABEL_PREFIX], `${LABEL_PREFIX}team`, null]);
  return obj({ pod: maybe(r, 0.05, obj({ name: 'api-7d9f', annotations })) });
}

// ---- the differential -----------------------------------------------------------------------

interface Entrypoint {
  readonly path: string;
  readonly input: (r: Rng) => unknown;
  /** Asserts the coverage floor on Warden's answers (already equal to OPA's), as parsed JSON. */
  readonly cover: (answers: readonly unknown[]) => void;
  /** Random data documents for an entrypoint that reads only data. */
  readonly data?: (r: Rng) => unknown;
  /** Inputs on which Warden is known to answer otherwise (see the KNOWN DIFFERENCE test): not compared. */
}

interface Example {
  readonly dir: string;
  readonly entrypoints: readonly Entrypoint[];
}

function includesAll(answers: readonly unknown[], values: readonly unknown[], what: string): void {
  for (const v of values) assert.ok(answers.includes(v), `${what}: ${JSON.stringify(v)} never answered`);
}

function objectAnswers(answers: readonly unknown[]): Array<Record<string, unknown>> {
  return answers.map((a) => {
    assert.ok(a !== null && typeof a === 'object' && !Array.isArray(a), `an object: ${JSON.stringify(a)}`);
    return a as Record<string, unknown>;
  });
}

const EXAMPLE_PACKS: readonly Example[] = [
  {
    dir: 'authz',
    entrypoints: [
      { path: 'authz/allow', input: authzInput, cover: (a) => includesAll(a, [true, false], 'allow') },
      {
        path: 'authz/reasons',
        input: authzInput,
        cover: (a) => {
          const lists = a as string[][];
          assert.ok(lists.some((l) => l.length === 0) && lists.some((l) => l.length >= 2), 'no reasons, and several');
          const all = lists.flat();
          assert.ok(all.includes('cross-tenant access'), 'the cross-tenant reason');
          assert.ok(
            all.some((s) => s.startsWith('role ')),
            'a role reason',
          );
        },
      },
    ],
  },
  {
    dir: 'governance',
    entrypoints: [
      {
        path: 'governance/verdict',
        input: governanceInput,
        cover: (a) => {
          const verdicts = a as Array<{ allow: boolean; reasons: string[] }>;
          includesAll(
            verdicts.map((v) => v.allow),
            [true, false],
            'allow',
          );
          includesAll(
            verdicts.flatMap((v) => v.reasons),
            GOV_REASONS,
            'reasons',
          );
          assert.equal(GOV_REASONS.length, 10, 'every deny code of policy.rego is found');
        },
      },
      {
        path: 'governance/modules',
        input: anyInput,
        data: governanceDataVariant,
        cover: (a) => {
          const risks = objectAnswers(a).flatMap((m) => Object.values(m).map((v) => (v as { risk: string }).risk));
          includesAll(risks, ['core', 'high'], 'risk');
          assert.ok(
            objectAnswers(a).some((m) => Object.keys(m).length === 0),
            'an empty catalogue',
          );
        },
      },
    ],
  },
  {
    dir: 'killswitch',
    entrypoints: [
      {
        path: 'killswitch/state',
        input: anyInput,
        data: killswitchDataVariant,
        cover: (a) => {
          const states = objectAnswers(a);
          assert.ok(
            states.some((s) => Object.keys(s).length === 0),
            'no switches ({})',
          );
          assert.ok(
            states.some((s) => Object.keys(s).length >= 2),
            'several switches',
          );
        },
      },
    ],
  },
  {
    dir: 'signalprocessing',
    entrypoints: [
      {
        path: 'priority/priority',
        input: priorityInput,
        cover: (a) => includesAll(a, ['P0', 'P1', 'P2', 'P3'], 'priority'),
      },
      {
        path: 'environment/environment',
        input: environmentInput,
        cover: (a) => includesAll(a, [...ENVIRONMENTS, 'unknown'], 'environment'),
      },
      {
        path: 'labels/custom_labels',
        input: labelsInput,
        cover: (a) => {
          const labels = objectAnswers(a);
          assert.ok(
            labels.some((l) => Object.keys(l).length === 0),
            'no custom labels',
          );
          assert.ok(
            labels.some((l) => Object.keys(l).length >= 3),
            'several custom labels, whose key order matters',
          );
        },
      },
    ],
  },
];

async function engineOf(files: PackFiles): Promise<WasmEngine> {
  return (await loadPackEngine(files, parseManifest(files.get(MANIFEST_PATH)))).engine;
}

/** Warden's answer, key order kept, on an input's JSON text. */
function wardenAnswer(engine: WasmEngine, path: string, input: string): string | undefined {
  const text = engine.evaluateJson(path, engineText(input));
  return text === undefined ? undefined : orderedJson(text);
}

/**
 * Warden's and OPA's answers, key order kept, on each input's JSON text: they must be equal
 * (and defined: every example entrypoint has a default), except on the inputs `known` picks,
 * which are returned apart with both answers.
 */
function differential(engine: WasmEngine, bundle: string, path: string, inputs: readonly string[]): string[] {
  const opa = opaAnswers(bundle, path, inputs, { sortKeys: false });
  return inputs.map((input, i) => {
    const warden = wardenAnswer(engine, path, input);
    assert.equal(warden, opa[i], `${path} on ${input}`);
    assert.ok(warden !== undefined, `${path} is defined on ${input}`);
    return warden;
  });
}

/** The pack's files with another data.json and no golden decisions (they hold for the shipped data only). */
function withData(files: PackFiles, data: unknown): PackFiles {
  const out = new Map(files);
  out.delete(GOLDEN_PATH);
  out.set('data.json', Buffer.from(JSON.stringify(data)));
  return out;
}

interface Built {
  readonly out: string;
  readonly bundle: string;
  readonly files: PackFiles;
  readonly engine: WasmEngine;
}

const builds = new Map<string, Promise<Built>>();

/** The example pack built with the real opa (once per process), its files and Warden's engine. */
function built(dir: string): Promise<Built> {
  let build = builds.get(dir);
  if (!build) {
    build = (async () => {
      const out = tempDir();
      const bundle = join(out, `${dir}.tar.gz`);
      const pack = await buildPack({ dir: join(EXAMPLES, dir), sequence: 1, out: bundle });
      const files = await readPack(pack.bytes);
      return { out, bundle, files, engine: await engineOf(files) };
    })();
    builds.set(dir, build);
  }
  return build;
}

describe('every example pack answers like opa eval on random inputs', () => {
  for (const [k, example] of EXAMPLE_PACKS.entries()) {
    it(`${example.dir}: ${example.entrypoints.map((e) => e.path).join(', ')}`, async (t: TestContext) => {
      const { out, bundle, files, engine } = await built(example.dir);
      for (const [e, entry] of example.entrypoints.entries()) {
        const r = new Rng(1000 * (k + 1) + e);
        const inputs = Array.from({ length: INPUTS }, () => JSON.stringify(entry.input(r) ?? null));
        const answers = differential(engine, bundle, entry.path, inputs);
        let cases = answers.length;
        if (entry.path === 'authz/reasons') {
          // Non-string actions reach sprintf, and are formatted as Go formats them.
          const formatted = inputs.filter((i) => sprintfGetsNonString(JSON.parse(i))).length;
          assert.ok(formatted >= 5, `${formatted} inputs hand sprintf a non-string`);
        }
        if (entry.data) {
          // Its answer is the data's: one answer on the shipped data, whatever the input.
          assert.equal(new Set(answers).size, 1, `${entry.path} depends on the data only`);
          for (let v = 0; v < DATA_VARIANTS; v++) {
            const variant = withData(files, entry.data(r));
            const variantBundle = join(out, `${example.dir}-data-${v}.tar.gz`);
            writeFileSync(variantBundle, writeTarGz([...variant].map(([path, data]) => ({ path, data }))));
            const variantInputs = inputs.slice(v * INPUTS_PER_VARIANT, (v + 1) * INPUTS_PER_VARIANT);
            answers.push(...differential(await engineOf(variant), variantBundle, entry.path, variantInputs));
            cases += variantInputs.length;
          }
        }
        const distinct = new Set(answers).size;
        t.diagnostic(
          `${entry.path}: ${cases} inputs${entry.data ? ` (${INPUTS} on the shipped data, the rest on ${DATA_VARIANTS} random data documents)` : ''}, ${distinct} distinct answers, all equal to opa eval's`,
        );
        assert.ok(cases >= INPUTS, `${entry.path}: ${cases} inputs compared`);
        assert.ok(distinct >= 2, `${entry.path}: at least two distinct answers`);
        entry.cover(answers.map((a) => JSON.parse(a) as unknown));
      }
    });
  }
});

// sprintf with a non-string argument: OPA hands Go's fmt an int64, a float64 or the value's Rego
// text, and so does the embedded engine (src/engine/host-builtins/sprintf.ts).
describe('sprintf with a non-string argument', () => {
  it('formats arrays, objects and numbers in authz/reasons as OPA does', async () => {
    const { bundle, engine } = await built('authz');
    const cases: Array<{ input: unknown; opa: string[] }> = [
      {
        input: { user: { roles: ['viewer'], tenant: 'acme' }, action: ['x'], resource: { tenant: 'acme' } },
        opa: ['role viewer may not ["x"]'],
      },
      {
        input: { user: { roles: ['viewer'], tenant: 'acme' }, action: { a: 1 }, resource: { tenant: 'acme' } },
        opa: ['role viewer may not {"a": 1}'],
      },
      {
        input: { user: { roles: ['viewer'], tenant: 'acme' }, action: 1.5, resource: { tenant: 'acme' } },
        opa: ['role viewer may not %!s(float64=1.5)'],
      },
      {
        input: { user: { roles: ['viewer'], tenant: 'acme' }, action: 7, resource: { tenant: 'acme' } },
        opa: ['role viewer may not %!s(int64=7)'],
      },
    ];
    const inputs = cases.map((c) => JSON.stringify(c.input));
    const opa = opaAnswers(bundle, 'authz/reasons', inputs, { sortKeys: false });
    cases.forEach((c, i) => {
      const input = inputs[i] as string;
      assert.equal(opa[i], JSON.stringify(c.opa), `OPA on ${input}`);
      assert.equal(wardenAnswer(engine, 'authz/reasons', input), JSON.stringify(c.opa), `Warden on ${input}`);
    });
  });
});
