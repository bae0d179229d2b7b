#!/usr/bin/env node
// Wraps deploy/prometheus/warden-alerts.yml (the one source of the alert rules, checked
// and unit-tested by promtool) into a Prometheus Operator PrometheusRule for the
// Kubernetes manifests: deploy/kubernetes/components/monitoring/prometheus-rule.yaml.
//
//   node scripts/gen-prometheus-rule.mjs           # (re)writes the PrometheusRule
//   node scripts/gen-prometheus-rule.mjs --check   # exit 1 if the committed one is out of date
//
// The rule groups are copied as they are; only the wrapper is added.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const RULES_PATH = 'deploy/prometheus/warden-alerts.yml';
export const OUTPUT_PATH = 'deploy/kubernetes/components/monitoring/prometheus-rule.yaml';

/** The PrometheusRule text for the rules file's text. */
export function renderPrometheusRule(rulesText) {
  const rules = parse(rulesText);
  if (!Array.isArray(rules?.groups)) throw new Error(`${RULES_PATH}: no groups: list`);
  const resource = {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'PrometheusRule',
    metadata: { name: 'warden-alerts', labels: { 'app.kubernetes.io/part-of': 'warden' } },
    spec: { groups: rules.groups },
  };
  return (
    `# GENERATED from ${RULES_PATH} by scripts/gen-prometheus-rule.mjs: do not edit.\n` +
    `# Edit the rules there (promtool tests them), then run: node scripts/gen-prometheus-rule.mjs\n` +
    stringify(resource, { lineWidth: 0 })
  );
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const want = renderPrometheusRule(readFileSync(join(root, RULES_PATH), 'utf8'));
  const out = join(root, OUTPUT_PATH);
  if (process.argv.includes('--check')) {
    let have = '';
    try {
      have = readFileSync(out, 'utf8');
    } catch {
      // missing: out of date
    }
    if (have !== want) {
      process.stderr.write(`${OUTPUT_PATH} is out of date: run node scripts/gen-prometheus-rule.mjs\n`);
      process.exit(1);
    }
    process.stdout.write(`${OUTPUT_PATH} is up to date\n`);
  } else {
    writeFileSync(out, want);
    process.stdout.write(`wrote ${OUTPUT_PATH}\n`);
  }
}
