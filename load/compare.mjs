#!/usr/bin/env node
// Compares load runs saved from load/results/summary.json: `node load/compare.mjs off-1.json on-1.json off-2.json on-2.json …`.
// Each file is labelled by its summary (revocation / tracing on or off); per scenario it prints
// k6's p50/p95/p99, the achieved rate and the agent's CPU per 1000 requests of every run, then
// the on/off ratio of the means and the spread between the "off" runs (max/min), to read the
// difference against the noise. A Markdown table on stdout.
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';

const files = process.argv.slice(2);
if (files.length < 2) {
  console.error('usage: node load/compare.mjs summary-a.json summary-b.json …');
  process.exit(2);
}
const runs = files.map((f) => {
  const s = JSON.parse(readFileSync(f, 'utf8'));
  const on = Boolean(s.revocation) || Boolean(s.tracing);
  return { file: basename(f), on, summary: s };
});
const FIGURES = [
  ['p50 ms', (r) => r.k6.latency_ms.p50],
  ['p95 ms', (r) => r.k6.latency_ms.p95],
  ['p99 ms', (r) => r.k6.latency_ms.p99],
  ['achieved RPS', (r) => r.k6.achieved_rps],
  ['agent CPU s / 1000 req', (r) => r.agent.cpu_s_per_1000_req],
];
const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
const fmt = (x, d = 2) => (x === undefined || x === null || Number.isNaN(x) ? '–' : x.toFixed(d));

const scenarios = [...new Set(runs.flatMap((r) => r.summary.scenarios.map((s) => s.scenario)))];
const lines = [
  `Runs: ${runs.map((r, i) => `${i + 1} ${r.on ? 'on' : 'off'} (${r.file}, load ${r.summary.load_average?.start?.[0] ?? '?'})`).join(', ')}`,
  '',
  `| scenario | figure | ${runs.map((r, i) => `${i + 1} ${r.on ? 'on' : 'off'}`).join(' | ')} | on/off (means) | off spread (max/min) |`,
  `|:--|:--|${runs.map(() => '--:').join('|')}|--:|--:|`,
];
for (const scenario of scenarios) {
  for (const [name, get] of FIGURES) {
    const values = runs.map((r) => {
      const row = r.summary.scenarios.find((s) => s.scenario === scenario);
      return row ? get(row) : undefined;
    });
    const off = values.filter((v, i) => !runs[i].on && v !== undefined);
    const on = values.filter((v, i) => runs[i].on && v !== undefined);
    const ratio = off.length && on.length ? mean(on) / mean(off) : undefined;
    const spread = off.length > 1 ? Math.max(...off) / Math.min(...off) : undefined;
    lines.push(
      `| ${scenario} | ${name} | ${values.map((v) => fmt(v, name === 'achieved RPS' ? 1 : name.startsWith('agent') ? 3 : 2)).join(' | ')} | ${fmt(ratio)}× | ${fmt(spread)}× |`,
    );
  }
}
console.log(lines.join('\n'));
