/**
 * The counts of a replay, in bounded memory whatever the size of the logs:
 * outcomes overall and by entrypoint (at most MAX_ENTRYPOINTS distinct paths,
 * the rest counted under OTHER_PATHS), the changed decisions grouped by path,
 * input and both answers (at most MAX_GROUPS groups, keyed by a hash, with
 * previews of at most PREVIEW_CHARS; changes past the cap are counted as
 * ungrouped), and the first `sample` changed decisions in full.
 */
import { createHash } from 'node:crypto';
import { answerText, OUTCOMES, type Answer, type Outcome } from './compare.js';
import type { NotReplayableReason } from './event.js';

/** Distinct entrypoints counted one by one. */
export const MAX_ENTRYPOINTS = 1_000;
/** Distinct groups of changed decisions kept. */
export const MAX_GROUPS = 10_000;
/** Characters of an input or answer kept in a group. */
export const PREVIEW_CHARS = 512;
/** The entrypoint key counting paths past MAX_ENTRYPOINTS. */
export const OTHER_PATHS = '(other paths)';

/** Counts by outcome. */
export type OutcomeCounts = Record<Outcome, number>;

/** A group of changed decisions: the same path, input and both answers. */
export interface ChangeGroup {
  readonly path: string;
  readonly outcome: Outcome;
  /** The input's canonical JSON text, cut at PREVIEW_CHARS (then ending in `…`). */
  readonly input: string;
  readonly before: string;
  readonly after: string;
  count: number;
}

/** One changed decision in full. */
export interface ChangeExample {
  readonly path: string;
  readonly outcome: Outcome;
  readonly decision_id: string | undefined;
  readonly input: unknown;
  readonly before: Answer;
  readonly after: Answer;
}

/** A replay's counts; report.ts turns them into the JSON documented in docs/architecture.md#offline-replay. */
export class Tally {
  lines = 0;
  replayed = 0;
  readonly outcomes: OutcomeCounts = zero();
  readonly byEntrypoint = new Map<string, OutcomeCounts>();
  readonly notReplayable: Record<NotReplayableReason, number> = {
    input_masked: 0,
    result_masked: 0,
    no_input: 0,
    no_path: 0,
  };
  outOfScope = 0;
  other = 0;
  readonly malformed = { invalid_json: 0, overlong: 0 };
  /** Decisions the candidate failed to evaluate. */
  errors = 0;
  readonly groups = new Map<string, ChangeGroup>();
  ungrouped = 0;
  readonly examples: ChangeExample[] = [];

  constructor(private readonly sample: number) {}

  /** Counts one replayed decision. */
  record(path: string, inputJson: string, before: Answer, after: Answer, outcome: Outcome, decisionId?: string): void {
    this.replayed++;
    this.outcomes[outcome]++;
    if (after.kind === 'error') this.errors++;
    let perPath = this.byEntrypoint.get(path);
    if (!perPath) {
      const key = this.byEntrypoint.size < MAX_ENTRYPOINTS ? path : OTHER_PATHS;
      perPath = this.byEntrypoint.get(key) ?? zero();
      this.byEntrypoint.set(key, perPath);
    }
    perPath[outcome]++;
    if (outcome === 'unchanged') return;
    const input = canonicalText(inputJson);
    const beforeText = answerText(before);
    const afterText = answerText(after);
    const key = createHash('sha256').update(`${path}\0${input}\0${beforeText}\0${afterText}`).digest('base64');
    const group = this.groups.get(key);
    if (group) group.count++;
    else if (this.groups.size < MAX_GROUPS) {
      this.groups.set(key, {
        path,
        outcome,
        input: preview(input),
        before: preview(beforeText),
        after: preview(afterText),
        count: 1,
      });
    } else this.ungrouped++;
    if (this.examples.length < this.sample) {
      this.examples.push({
        path,
        outcome,
        decision_id: decisionId,
        input: JSON.parse(inputJson) as unknown,
        before,
        after,
      });
    }
  }

  /** Decisions replayed whose answer changed (errors included). */
  get changed(): number {
    return this.replayed - this.outcomes.unchanged;
  }

  /** The `n` largest groups, largest first (ties: the first seen). */
  top(n: number): ChangeGroup[] {
    return [...this.groups.values()].sort((a, b) => b.count - a.count).slice(0, n);
  }
}

function zero(): OutcomeCounts {
  return Object.fromEntries(OUTCOMES.map((o) => [o, 0])) as OutcomeCounts;
}

function canonicalText(inputJson: string): string {
  return answerText({ kind: 'value', json: inputJson });
}

function preview(text: string): string {
  return text.length <= PREVIEW_CHARS ? text : `${text.slice(0, PREVIEW_CHARS - 1)}…`;
}
