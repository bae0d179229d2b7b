/**
 * What `warden pack replay` prints: the tally as one JSON object (`--json`, its
 * shape documented in docs/architecture.md#offline-replay) or as text for people.
 */
import { answerText, OUTCOMES, type Answer } from './compare.js';
import { round } from './gates.js';
import type { ChangeExample, ChangeGroup, OutcomeCounts, Tally } from './tally.js';

/** The candidate replayed against. */
export interface CandidateInfo {
  readonly file: string;
  readonly pack: string;
  readonly revision: string;
  readonly sequence: number;
  readonly digest: string;
}

/** The JSON report. */
export interface ReplayReport {
  readonly candidate: CandidateInfo;
  readonly files: number;
  readonly lines: number;
  readonly replayed: number;
  readonly unchanged: number;
  readonly changed: number;
  readonly changed_percent: number;
  readonly outcomes: OutcomeCounts;
  readonly by_entrypoint: Record<string, OutcomeCounts>;
  readonly errors: number;
  readonly not_replayable: Record<string, number> & { total: number };
  readonly out_of_scope: number;
  readonly other: number;
  readonly malformed: { invalid_json: number; overlong: number; total: number };
  readonly top_changed: ChangeGroup[];
  readonly groups: { readonly distinct: number; readonly ungrouped: number };
  readonly examples: ChangeExample[];
  readonly gate: { readonly passed: boolean; readonly failures: string[] };
}

/** The report of a finished replay. */
export function buildReport(
  candidate: CandidateInfo,
  files: number,
  tally: Tally,
  top: number,
  failures: string[],
): ReplayReport {
  const notReplayable = { ...tally.notReplayable };
  return {
    candidate,
    files,
    lines: tally.lines,
    replayed: tally.replayed,
    unchanged: tally.outcomes.unchanged,
    changed: tally.changed,
    changed_percent: tally.replayed === 0 ? 0 : round((tally.changed / tally.replayed) * 100),
    outcomes: { ...tally.outcomes },
    by_entrypoint: Object.fromEntries([...tally.byEntrypoint].sort(([a], [b]) => a.localeCompare(b))),
    errors: tally.errors,
    not_replayable: { ...notReplayable, total: Object.values(notReplayable).reduce((a, b) => a + b, 0) },
    out_of_scope: tally.outOfScope,
    other: tally.other,
    malformed: { ...tally.malformed, total: tally.malformed.invalid_json + tally.malformed.overlong },
    top_changed: tally.top(top),
    groups: { distinct: tally.groups.size, ungrouped: tally.ungrouped },
    examples: tally.examples,
    gate: { passed: failures.length === 0, failures },
  };
}

/** The report as text lines. */
export function formatReport(r: ReplayReport): string[] {
  const out: string[] = [];
  const c = r.candidate;
  out.push(`replayed ${r.files} file(s), ${r.lines} line(s) against ${c.pack} revision ${c.revision} (${c.digest})`);
  out.push(
    `  replayed ${r.replayed}: unchanged ${r.unchanged}, changed ${r.changed} (${r.changed_percent}%), candidate errors ${r.errors}`,
  );
  const nr = r.not_replayable;
  out.push(
    `  not replayable ${nr.total} (input masked ${nr.input_masked}, result masked ${nr.result_masked}, no input ${nr.no_input}, no path ${nr.no_path}); ` +
      `out of scope ${r.out_of_scope}; not decisions ${r.other}; malformed ${r.malformed.total} (invalid ${r.malformed.invalid_json}, over-long ${r.malformed.overlong})`,
  );
  if (r.changed > 0) {
    out.push('', 'changed, by entrypoint:');
    for (const [path, counts] of Object.entries(r.by_entrypoint)) {
      const changes = OUTCOMES.filter((o) => o !== 'unchanged' && counts[o] > 0).map((o) => `${o} ${counts[o]}`);
      if (changes.length > 0) out.push(`  ${path}: ${changes.join(', ')} (unchanged ${counts.unchanged})`);
    }
    out.push(
      '',
      `top changed inputs (${r.groups.distinct} distinct${r.groups.ungrouped > 0 ? `, ${r.groups.ungrouped} past the group limit` : ''}):`,
    );
    for (const g of r.top_changed) {
      out.push(`  ${String(g.count).padStart(7)}  ${g.path} ${g.outcome}: ${g.before} → ${g.after}  input ${g.input}`);
    }
    if (r.examples.length > 0) {
      out.push('', 'examples:');
      for (const e of r.examples) {
        out.push(`  ${e.path} ${e.outcome}${e.decision_id === undefined ? '' : ` (decision ${e.decision_id})`}`);
        out.push(`    input:  ${JSON.stringify(e.input)}`);
        out.push(`    before: ${shown(e.before)}`);
        out.push(`    after:  ${shown(e.after)}`);
      }
    }
  }
  out.push('');
  out.push(r.gate.passed ? 'gate: passed' : `gate: FAILED\n${r.gate.failures.map((f) => `  ${f}`).join('\n')}`);
  return out;
}

function shown(answer: Answer): string {
  return answerText(answer);
}
