/**
 * The alert rules, their promtool unit tests, the Grafana dashboard and the runbooks
 * stay consistent with the code: every PromQL expression names only metrics (and
 * labels) of the family in docs/metrics.md, every alert links an existing runbook
 * section, and promtool accepts and unit-tests the rules. The promtool part needs
 * `node scripts/install-tools.mjs promtool` (a Go build of several minutes, not part of
 * `npm test`'s bootstrap) or a promtool on PATH; it is skipped without one.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { PROJECT_ROOT } from '../../src/project.js';
import { anchorsOf, slug } from '../helpers/markdown.js';

const ALERTS_FILE = 'deploy/prometheus/warden-alerts.yml';
const ALERT_TESTS_FILE = 'deploy/prometheus/warden-alerts.test.yml';
const DASHBOARD_FILE = 'deploy/grafana/warden-dashboard.json';

const read = (path: string): string => readFileSync(join(PROJECT_ROOT, path), 'utf8');

// ---------------------------------------------------------------- the metric family

interface FamilyMetric {
  readonly type: string;
  readonly labels: readonly string[];
}

/** The `## The family` table of docs/metrics.md, plus its `prefix_*` wildcards. */
function metricFamily(): { metrics: Map<string, FamilyMetric>; prefixes: string[] } {
  const doc = read('docs/metrics.md');
  const start = doc.indexOf('\n## The family\n');
  assert.ok(start >= 0, 'docs/metrics.md has a "## The family" section');
  const section = doc.slice(start + 1).split('\n## ')[0] ?? '';
  const metrics = new Map<string, FamilyMetric>();
  for (const m of section.matchAll(/^\| `([a-z_:][a-z0-9_:]*)` \| ([^|]+) \| ([^|]*) \|/gm)) {
    const labels = (m[3] ?? '')
      .split(',')
      .map((l) => l.trim())
      .filter((l) => /^[a-z_][a-z0-9_]*$/.test(l));
    metrics.set(m[1] ?? '', { type: (m[2] ?? '').trim(), labels });
  }
  const prefixes = [...section.matchAll(/`([a-z_]+_)\*`/g)].map((m) => m[1] ?? '');
  return { metrics, prefixes };
}

const FAMILY = metricFamily();

/** Labels every scraped series carries besides its own. */
const TARGET_LABELS = ['job', 'instance'];

/** The documented labels a series name may carry, or undefined when it is not in the family. */
function labelsOf(name: string): readonly string[] | undefined {
  const exact = FAMILY.metrics.get(name);
  if (exact) return [...exact.labels, ...TARGET_LABELS];
  for (const suffix of ['_bucket', '_sum', '_count']) {
    const base = FAMILY.metrics.get(name.slice(0, -suffix.length));
    if (name.endsWith(suffix) && base?.type.startsWith('histogram'))
      return [...base.labels, ...TARGET_LABELS, ...(suffix === '_bucket' ? ['le'] : [])];
  }
  if (FAMILY.prefixes.some((p) => name.startsWith(p))) return undefined;
  return undefined;
}

const inFamily = (name: string): boolean =>
  labelsOf(name) !== undefined || FAMILY.prefixes.some((p) => name.startsWith(p));

// ---------------------------------------------------------------- a small PromQL reader

interface Token {
  readonly kind: 'ident' | 'string' | 'number' | 'var' | 'punct';
  readonly text: string;
}

const TOKEN =
  /\s+|("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)|(\$\{[^}]*\}|\$\w+)|(\d+(?:\.\d+)?(?:e[+-]?\d+)?[a-z]*)|([a-zA-Z_:][a-zA-Z0-9_:]*)|(=~|!~|!=|==|>=|<=|[-+*/%^<>=(){}[\],:@])/gy;

function tokenize(expr: string): Token[] {
  const tokens: Token[] = [];
  TOKEN.lastIndex = 0;
  while (TOKEN.lastIndex < expr.length) {
    const at = TOKEN.lastIndex;
    const m = TOKEN.exec(expr);
    assert.ok(m, `cannot read PromQL at "${expr.slice(at, at + 20)}" in: ${expr}`);
    if (m[1] !== undefined) tokens.push({ kind: 'string', text: m[1] });
    else if (m[2] !== undefined) tokens.push({ kind: 'var', text: m[2] });
    else if (m[3] !== undefined) tokens.push({ kind: 'number', text: m[3] });
    else if (m[4] !== undefined) tokens.push({ kind: 'ident', text: m[4] });
    else if (m[5] !== undefined) tokens.push({ kind: 'punct', text: m[5] });
  }
  return tokens;
}

const GROUPING = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);
const KEYWORDS = new Set(['and', 'or', 'unless', 'offset', 'bool', 'inf', 'nan', 'atan2']);

interface Selector {
  readonly name: string;
  readonly labels: readonly string[];
}

/** The series selectors of an expression and the labels its grouping clauses name. */
function readPromQL(expr: string): { selectors: Selector[]; grouping: string[] } {
  const tokens = tokenize(expr);
  const selectors: Selector[] = [];
  const grouping: string[] = [];
  // The label names of a `{…}` matcher list starting at tokens[i] ('{'); returns the index after '}'.
  const matchers = (i: number, into: string[]): number => {
    let j = i + 1;
    for (; j < tokens.length && tokens[j]?.text !== '}'; j += 1) {
      const t = tokens[j];
      if (t?.kind === 'ident' && ['=', '!=', '=~', '!~'].includes(tokens[j + 1]?.text ?? '')) into.push(t.text);
    }
    return j + 1;
  };
  for (let i = 0; i < tokens.length;) {
    const t = tokens[i];
    const next = tokens[i + 1];
    if (!t) break;
    if (t.kind === 'punct' && t.text === '[') {
      while (i < tokens.length && tokens[i]?.text !== ']') i += 1;
      i += 1;
    } else if (t.kind === 'punct' && t.text === '{') {
      const labels: string[] = [];
      i = matchers(i, labels);
      selectors.push({ name: '', labels });
    } else if (t.kind !== 'ident') {
      i += 1;
    } else if (GROUPING.has(t.text) && next?.text === '(') {
      for (i += 2; i < tokens.length && tokens[i]?.text !== ')'; i += 1) {
        const g = tokens[i];
        if (g?.kind === 'ident') grouping.push(g.text);
      }
      i += 1;
    } else if (
      next?.text === '(' ||
      next?.text === 'by' ||
      next?.text === 'without' ||
      KEYWORDS.has(t.text) ||
      GROUPING.has(t.text)
    ) {
      i += 1; // a function, an aggregation or a keyword
    } else {
      const labels: string[] = [];
      i = next?.text === '{' ? matchers(i + 1, labels) : i + 1;
      selectors.push({ name: t.text, labels });
    }
  }
  return { selectors, grouping };
}

/** What is wrong with an expression's metric and label names; empty when nothing. */
function familyProblems(where: string, expr: string): string[] {
  const problems: string[] = [];
  const { selectors, grouping } = readPromQL(expr);
  if (selectors.length === 0) problems.push(`${where}: no metric in ${expr}`);
  const known = new Set<string>(TARGET_LABELS);
  for (const s of selectors) {
    if (s.name === '') {
      problems.push(`${where}: a selector without a metric name in ${expr}`);
      continue;
    }
    if (!inFamily(s.name)) {
      problems.push(`${where}: ${s.name} is not in the metric family of docs/metrics.md`);
      continue;
    }
    const labels = labelsOf(s.name);
    if (labels === undefined) continue; // a documented prefix (process_*, nodejs_*): labels not listed
    for (const l of labels) known.add(l);
    for (const l of s.labels)
      if (!labels.includes(l))
        problems.push(`${where}: ${s.name} has no label ${l} (docs/metrics.md: ${labels.join(', ')})`);
  }
  for (const g of grouping)
    if (!known.has(g)) problems.push(`${where}: groups by ${g}, which no metric of the expression carries`);
  return problems;
}

describe('the PromQL reader', () => {
  it('finds metric names and matcher labels, not functions, keywords, grouping labels or durations', () => {
    const got = readPromQL(
      'sum without (code) ((increase(a_total{pack=~"x|y", code!="Z"}[10m]) and b_total offset 10m) or (c unless d)) / histogram_quantile(0.99, sum by (le) (rate(e_bucket[$__rate_interval]))) > bool 0.5 or vector(0)',
    );
    assert.deepEqual(
      got.selectors.map((s) => s.name),
      ['a_total', 'b_total', 'c', 'd', 'e_bucket'],
    );
    assert.deepEqual(got.selectors[0]?.labels, ['pack', 'code']);
    assert.deepEqual(got.grouping, ['code', 'le']);
  });

  it('flags a metric or a label outside the family', () => {
    assert.deepEqual(familyProblems('x', 'sum by (pack) (rate(policy_reload_success_total{pack="a"}[5m]))'), []);
    assert.deepEqual(familyProblems('x', 'rate(policy_fetch_duration_seconds_bucket{le="1"}[5m])'), []);
    assert.equal(familyProblems('x', 'bundle_digest_age_seconds > 900').length, 1);
    assert.equal(familyProblems('x', 'policy_pinned{source="http"}').length, 1);
    assert.equal(familyProblems('x', 'sum by (tenant) (policy_pinned)').length, 1);
  });
});

// ---------------------------------------------------------------- the files

const AlertRules = z.object({
  groups: z.array(
    z.object({
      name: z.string(),
      rules: z.array(
        z.object({
          alert: z.string(),
          expr: z.string(),
          for: z.string().optional(),
          labels: z.record(z.string(), z.string()),
          annotations: z.record(z.string(), z.string()),
        }),
      ),
    }),
  ),
});

const AlertTests = z.object({
  rule_files: z.array(z.string()),
  tests: z.array(
    z.object({
      name: z.string(),
      alert_rule_test: z
        .array(z.object({ alertname: z.string(), eval_time: z.string(), exp_alerts: z.array(z.unknown()).default([]) }))
        .default([]),
    }),
  ),
});

interface Panel {
  readonly id: number;
  readonly type: string;
  readonly title: string;
  readonly datasource?: { type?: string; uid?: string } | undefined;
  readonly targets?: ReadonlyArray<{ expr?: string | undefined; refId: string }> | undefined;
  readonly panels?: readonly Panel[] | undefined;
}

const PanelSchema: z.ZodType<Panel> = z.lazy(() =>
  z.object({
    id: z.number(),
    type: z.string(),
    title: z.string(),
    datasource: z.object({ type: z.string().optional(), uid: z.string().optional() }).optional(),
    targets: z.array(z.object({ expr: z.string().optional(), refId: z.string() })).optional(),
    panels: z.array(PanelSchema).optional(),
  }),
);

const Dashboard = z.object({
  title: z.string(),
  uid: z.string(),
  schemaVersion: z.number(),
  panels: z.array(PanelSchema),
  templating: z.object({
    list: z.array(
      z.object({ name: z.string(), type: z.string(), query: z.unknown(), definition: z.string().optional() }),
    ),
  }),
  annotations: z.object({ list: z.array(z.object({ name: z.string(), expr: z.string().optional() })) }),
});

const rules = AlertRules.parse(parseYaml(read(ALERTS_FILE)));
const alerts = rules.groups.flatMap((g) => g.rules);
const alertTests = AlertTests.parse(parseYaml(read(ALERT_TESTS_FILE)));
const dashboard = Dashboard.parse(JSON.parse(read(DASHBOARD_FILE)));

const allPanels = (panels: readonly Panel[]): Panel[] => panels.flatMap((p) => [p, ...allPanels(p.panels ?? [])]);
const panels = allPanels(dashboard.panels);

const runbooks = read('docs/runbooks.md');
const runbookAnchors = anchorsOf(runbooks);

describe('alert rules (deploy/prometheus/warden-alerts.yml)', () => {
  it('has the alerts docs/design.md#targets and operations ask for', () => {
    const names = alerts.map((a) => a.alert);
    for (const want of [
      'WardenPolicyStale',
      'WardenReloadFailuresRepeated',
      'WardenSignatureRejected',
      'WardenPinnedTooLong',
      'WardenRunningOnLastKnownGood',
      'WardenNoActivePolicy',
      'WardenDecisionErrors',
      'WardenDecisionLatencyHigh',
      'WardenWebhookDeadLetters',
      'WardenFetchFailing',
    ]) {
      assert.ok(names.includes(want), `missing alert ${want}`);
    }
    assert.equal(new Set(names).size, names.length, 'alert names are unique');
  });

  it('gives every alert a severity, a summary, a description and a runbook section that exists', () => {
    for (const a of alerts) {
      assert.match(a.labels.severity ?? '', /^(critical|warning|info)$/, `${a.alert}: severity`);
      assert.ok(a.annotations.summary, `${a.alert}: summary`);
      assert.ok(a.annotations.description, `${a.alert}: description`);
      const url = a.annotations.runbook_url ?? '';
      const m = /^docs\/runbooks\.md#([a-z0-9_-]+)$/.exec(url);
      assert.ok(m, `${a.alert}: runbook_url ${url} should be docs/runbooks.md#<anchor>`);
      assert.ok(runbookAnchors.has(m[1] ?? ''), `${a.alert}: docs/runbooks.md has no section #${m[1]}`);
    }
  });

  it('names only metrics and labels of the family in docs/metrics.md', () => {
    assert.deepEqual(
      alerts.flatMap((a) => familyProblems(a.alert, a.expr)),
      [],
    );
  });

  it('names only documented error codes', () => {
    const documented = new Set([...read('docs/errors.md').matchAll(/^### ([A-Z][A-Z0-9_]+)$/gm)].map((m) => m[1]));
    const named = alerts.flatMap((a) =>
      [...a.expr.matchAll(/\bcode\s*=~?\s*"([^"]*)"/g)].flatMap((m) => (m[1] ?? '').split('|')),
    );
    assert.ok(named.length > 0);
    assert.deepEqual(
      named.filter((c) => !documented.has(c)),
      [],
    );
  });

  it('pages security for every integrity and trust-policy code a pack can be refused with', () => {
    // The codes of errors.md's "Verification" and "Activation (agent)" sections.
    const sections = read('docs/errors.md')
      .split('\n## ')
      .filter((s) => s.startsWith('Verification') || s.startsWith('Activation'));
    const security = sections.flatMap((s) =>
      [...s.matchAll(/^### ([A-Z][A-Z0-9_]+)\nkind `(integrity|policy)`/gm)].map((m) => m[1] ?? ''),
    );
    assert.ok(security.length >= 10, `found only ${security.join(', ')}`);
    const rule = alerts.find((a) => a.alert === 'WardenSignatureRejected');
    assert.ok(rule);
    assert.equal(rule.labels.team, 'security');
    for (const code of security)
      assert.match(rule.expr, new RegExp(`[|"]${code}[|"]`), `WardenSignatureRejected should cover ${code}`);
  });

  it('unit-tests every alert both firing and not firing', () => {
    assert.deepEqual(alertTests.rule_files, ['warden-alerts.yml']);
    const cases = alertTests.tests.flatMap((t) => t.alert_rule_test);
    for (const a of alerts) {
      const mine = cases.filter((c) => c.alertname === a.alert);
      assert.ok(
        mine.some((c) => c.exp_alerts.length > 0),
        `${a.alert}: no test where it fires`,
      );
      assert.ok(
        mine.some((c) => c.exp_alerts.length === 0),
        `${a.alert}: no test where it stays quiet`,
      );
    }
  });

  it('is listed, with its runbook, in docs/metrics.md', () => {
    const doc = read('docs/metrics.md');
    const start = doc.indexOf('\n## Alerts and dashboard\n');
    assert.ok(start >= 0, 'docs/metrics.md has an "Alerts and dashboard" section');
    const section = doc.slice(start + 1).split('\n## ')[0] ?? '';
    for (const a of alerts) {
      assert.ok(section.includes(`\`${a.alert}\``), `${a.alert} is not listed in docs/metrics.md`);
      assert.ok(section.includes(`(runbooks.md#${slug(a.alert)})`), `${a.alert}: no runbook link in docs/metrics.md`);
    }
  });
});

describe('runbooks (docs/runbooks.md)', () => {
  it('has a section per alert and one for manual rollback', () => {
    for (const a of alerts) assert.ok(runbookAnchors.has(slug(a.alert)), `no "## ${a.alert}" section`);
    assert.ok(runbookAnchors.has('manual-rollback'));
  });

  it('links only to sections that exist', () => {
    const problems: string[] = [];
    for (const m of runbooks.matchAll(/\]\(([^)#\s]*)#([^)\s]+)\)/g)) {
      const file = m[1] ?? '';
      const anchor = m[2] ?? '';
      const target = file === '' ? runbookAnchors : anchorsOf(read(join('docs', file)));
      if (!target.has(anchor)) problems.push(`${file}#${anchor}`);
    }
    assert.deepEqual(problems, []);
  });

  it('names only documented error codes and real commands', () => {
    const documented = new Set([...read('docs/errors.md').matchAll(/^### ([A-Z][A-Z0-9_]+)$/gm)].map((m) => m[1]));
    // Every `UPPER_CASE` name is an error code, except the CLI's environment variables.
    const codes = [...runbooks.matchAll(/`([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)`/g)]
      .map((m) => m[1] ?? '')
      .filter((c) => !c.startsWith('WARDEN_'));
    assert.deepEqual(
      codes.filter((c) => !documented.has(c)),
      [],
    );
    const commands = new Set([...read('src/cli/registry.ts').matchAll(/name: '([a-z ]+)'/g)].map((m) => m[1]));
    const used = [...runbooks.matchAll(/\bwarden ([a-z]+(?: (?:build|sign|verify|serve|replay))?)\b/g)].map(
      (m) => m[1] ?? '',
    );
    assert.ok(
      used.includes('rollback') && used.includes('unpin') && used.includes('status') && used.includes('versions'),
    );
    assert.deepEqual(
      used.filter((c) => !commands.has(c)),
      [],
    );
  });
});

describe('Grafana dashboard (deploy/grafana/warden-dashboard.json)', () => {
  const exprs = [
    ...panels.flatMap((p) =>
      (p.targets ?? []).map((t) => ({ where: `panel "${p.title}" ${t.refId}`, expr: t.expr ?? '' })),
    ),
    ...dashboard.annotations.list
      .filter((a) => a.expr !== undefined)
      .map((a) => ({ where: `annotation "${a.name}"`, expr: a.expr ?? '' })),
  ];

  it('uses the ${DS_PROMETHEUS} data source variable and a pack variable from policy_active_info', () => {
    assert.ok(dashboard.schemaVersion >= 39);
    const vars = dashboard.templating.list;
    assert.ok(vars.some((v) => v.name === 'DS_PROMETHEUS' && v.type === 'datasource' && v.query === 'prometheus'));
    const pack = vars.find((v) => v.name === 'pack');
    assert.equal(pack?.definition, 'label_values(policy_active_info, pack)');
    for (const p of panels.filter((x) => x.type !== 'row'))
      assert.equal(p.datasource?.uid, '${DS_PROMETHEUS}', `panel "${p.title}" data source`);
    const ids = panels.map((p) => p.id);
    assert.equal(new Set(ids).size, ids.length, 'panel ids are unique');
  });

  it('has the panels operations asks for', () => {
    const titles = panels.map((p) => p.title.toLowerCase()).join('\n');
    for (const want of [
      'digest',
      'digest age',
      'reload',
      'reload duration',
      'validation',
      'last-known-good',
      'pinned',
      'stale',
      'decision latency',
      '5xx',
      'webhook',
      'fallback',
    ]) {
      assert.ok(titles.includes(want), `no panel about "${want}"`);
    }
    const used = new Set(exprs.flatMap((e) => readPromQL(e.expr).selectors.map((s) => s.name)));
    for (const m of [
      'policy_active_info',
      'policy_active_version',
      'policy_digest_age_seconds',
      'policy_reload_success_total',
      'policy_reload_failure_total',
      'policy_reload_duration_seconds_bucket',
      'policy_validation_failure_total',
      'policy_last_known_good_active',
      'policy_pinned',
      'policy_stale',
      'opa_client_latency_seconds_bucket',
      'http_request_duration_seconds_count',
      'warden_webhook_delivery_total',
    ]) {
      assert.ok(used.has(m), `no panel queries ${m}`);
    }
  });

  it('queries only metrics and labels of the family in docs/metrics.md', () => {
    assert.ok(exprs.length > 10);
    assert.deepEqual(
      exprs.flatMap((e) => familyProblems(e.where, e.expr)),
      [],
    );
  });
});

// ---------------------------------------------------------------- promtool

/** promtool from .tools/bin, else from PATH; undefined when neither runs. */
function findPromtool(): string | undefined {
  const local = join(PROJECT_ROOT, '.tools', 'bin', 'promtool');
  for (const candidate of existsSync(local) ? [local, 'promtool'] : ['promtool']) {
    if (spawnSync(candidate, ['--version'], { stdio: 'ignore' }).status === 0) return candidate;
  }
  return undefined;
}

const promtool = findPromtool();
const SKIP = promtool
  ? false
  : 'promtool is not installed: run `node scripts/install-tools.mjs promtool` (a Go build of several minutes, not part of npm test bootstrap) or put promtool on PATH';

/** Runs promtool in the project folder; its status and output. */
function runPromtool(args: string[]): { status: number | null; output: string } {
  const res = spawnSync(promtool ?? 'promtool', args, { cwd: PROJECT_ROOT, encoding: 'utf8', timeout: 120_000 });
  return { status: res.status, output: `${res.stdout}${res.stderr}` };
}

describe('promtool', { skip: SKIP }, () => {
  it('accepts the rules (promtool check rules)', () => {
    const res = runPromtool(['check', 'rules', ALERTS_FILE]);
    assert.equal(res.status, 0, res.output);
  });

  it('passes the rule unit tests (promtool test rules)', () => {
    const res = runPromtool(['test', 'rules', ALERT_TESTS_FILE]);
    assert.equal(res.status, 0, res.output);
  });

  it("parses every dashboard query (as recording rules, Grafana's variables filled in)", () => {
    const exprs = [
      ...panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr ?? '')),
      ...dashboard.annotations.list.map((a) => a.expr ?? ''),
    ].filter(Boolean);
    const filled = exprs.map((e) => e.replaceAll('$__rate_interval', '5m').replace(/\$\{?(\w+)\}?/g, '.*'));
    const dir = mkdtempSync(join(tmpdir(), 'warden-dashboard-'));
    try {
      const file = join(dir, 'dashboard-queries.yml');
      const doc = {
        groups: [{ name: 'dashboard', rules: filled.map((expr, i) => ({ record: `dashboard:query_${i}`, expr })) }],
      };
      writeFileSync(file, JSON.stringify(doc));
      const res = runPromtool(['check', 'rules', '--lint=none', file]);
      assert.equal(res.status, 0, res.output);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
