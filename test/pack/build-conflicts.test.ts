/**
 * `warden pack build` (the real command, the real opa) on folders whose rules certainly
 * conflict: a complete rule with no condition and a constant value beside a same-named
 * rule with another constant. opa compiles them; every decision hitting the conflict
 * would fail, so the build refuses them with PACK_RULE_CONFLICT naming both rules.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { tempDir, writeTree } from '../helpers/fs.js';
import { warden, type CliRun } from '../helpers/cli.js';

const ENTRYPOINT = 'signalprocessing/priority/priority';

/** The policy: an unconditional `priority := "P2"` beside the critical/production rule. */
const CONFLICT_V0 = [
  'package signalprocessing.priority',
  '',
  'priority := "P2"',
  '',
  'priority := "P0" {',
  '\tinput.severity == "critical"',
  '\tinput.environment == "production"',
  '}',
  '',
].join('\n');

const CONFLICT_V1 = CONFLICT_V0.replace('priority := "P0" {', 'priority := "P0" if {');

// A policy folder without golden decisions (as a ConfigMap has none), built by `warden pack build`.
async function build(files: Record<string, string>, regoVersion: 'v0' | 'v1'): Promise<CliRun & { out: string }> {
  const spec = ['name: signalprocessing', `entrypoints: [${ENTRYPOINT}]`, `rego_version: ${regoVersion}`, ''].join(
    '\n',
  );
  const dir = await writeTree(tempDir('warden-conflict-'), { 'warden.yaml': spec, ...files });
  const out = join(tempDir(), 'pack.tar.gz');
  return { ...warden(['pack', 'build', dir, '--out', out, '--sequence', '1']), out };
}

// Asserts exit 1, one `warden: PACK_RULE_CONFLICT: …` line matching `line`, a hint with `fix`, and no pack.
function assertRefused(run: CliRun & { out: string }, line: RegExp, fix: string): void {
  assert.equal(run.status, 1, run.stderr);
  const coded = run.stderr.split('\n').filter((l) => l.startsWith('warden: '));
  assert.equal(coded.length, 1, run.stderr);
  assert.match(coded[0] ?? '', /^warden: PACK_RULE_CONFLICT: /);
  assert.match(coded[0] ?? '', line);
  assert.ok(
    run.stderr.includes(
      `hint: make the unconditional rule a default, so it applies only when no other rule does: \`${fix}\``,
    ),
    run.stderr,
  );
  assert.equal(run.stdout, '');
  assert.ok(!existsSync(run.out), 'no pack is written');
}

describe('warden pack build: certain rule conflicts', () => {
  it('refuses the v0 policy with an unconditional priority := "P2", naming both file:line', async () => {
    assertRefused(
      await build({ 'priority.rego': CONFLICT_V0 }, 'v0'),
      /^warden: PACK_RULE_CONFLICT: priority\.rego:3: rule data\.signalprocessing\.priority\.priority always gives "P2", but priority\.rego:5 gives "P0": every decision where both apply fails with a conflict$/,
      'default priority := "P2"',
    );
  });

  it('refuses the same policy in v1 syntax', async () => {
    assertRefused(
      await build({ 'priority.rego': CONFLICT_V1 }, 'v1'),
      /^warden: PACK_RULE_CONFLICT: priority\.rego:3: rule data\.signalprocessing\.priority\.priority always gives "P2", but priority\.rego:5 gives "P0": /,
      'default priority := "P2"',
    );
  });

  it('finds the conflict across two files of the same package', async () => {
    const fallback = 'package signalprocessing.priority\n\n# the fallback\npriority := "P2"\n';
    const specific = CONFLICT_V1.replace('priority := "P2"\n\n', '');
    assertRefused(
      await build({ 'a_fallback.rego': fallback, 'b_specific.rego': specific }, 'v1'),
      /^warden: PACK_RULE_CONFLICT: a_fallback\.rego:4: rule data\.signalprocessing\.priority\.priority always gives "P2", but b_specific\.rego:3 gives "P0": /,
      'default priority := "P2"',
    );
  });

  it('refuses two unconditional rules with different constants (v0 `=` rules)', async () => {
    const policy = 'package signalprocessing.priority\n\npriority = "P2"\n\npriority = "P3"\n';
    assertRefused(
      await build({ 'priority.rego': policy }, 'v0'),
      /^warden: PACK_RULE_CONFLICT: priority\.rego:3: rule data\.signalprocessing\.priority\.priority always gives "P2", but priority\.rego:5 always gives "P3": /,
      'default priority := "P2"',
    );
  });

  const builds: Array<{ name: string; version: 'v0' | 'v1'; policy: string }> = [
    {
      name: 'the fallback written as a default (v0)',
      version: 'v0',
      policy: CONFLICT_V0.replace('priority := "P2"', 'default priority := "P2"'),
    },
    {
      name: 'the fallback written as a default (v1)',
      version: 'v1',
      policy: CONFLICT_V1.replace('priority := "P2"', 'default priority := "P2"'),
    },
    {
      name: 'the same constant twice, unconditional and conditional',
      version: 'v1',
      policy:
        'package signalprocessing.priority\n\npriority := "P2"\n\npriority := "P2"\n\npriority := "P2" if input.severity == "warning"\n',
    },
    {
      name: 'two conditional rules with different constants',
      version: 'v1',
      policy:
        'package signalprocessing.priority\n\npriority := "P0" if input.severity == "critical"\n\npriority := "P3" if input.severity == "info"\n',
    },
    {
      name: 'an else chain ending in an unconditional constant',
      version: 'v1',
      policy:
        'package signalprocessing.priority\n\npriority := "P0" if {\n\tinput.severity == "critical"\n} else := "P1" if {\n\tinput.severity == "error"\n} else := "P2"\n',
    },
    {
      name: 'partial set and object rules beside constants',
      version: 'v1',
      policy: [
        'package signalprocessing.priority',
        '',
        'default priority := "P2"',
        '',
        'reasons contains "always"',
        '',
        'reasons contains "critical" if input.severity == "critical"',
        '',
        'labels[k] := "x" if some k in input.keys',
        '',
        'labels[k] := "y" if some k in input.other_keys',
        '',
      ].join('\n'),
    },
  ];
  for (const c of builds) {
    it(`builds ${c.name}`, async () => {
      const run = await build({ 'priority.rego': c.policy }, c.version);
      assert.equal(run.status, 0, run.stderr);
      assert.match(run.stdout, /^built .* sha256:[0-9a-f]{64} pack=signalprocessing /);
      assert.ok(existsSync(run.out));
    });
  }
});
