/**
 * One decision-log line as a question to ask again: Warden's lines and OPA's
 * own (`opa run` decision logs, to the console or a file) have the same shape:
 * `path`, `input`, `result` (absent: undefined), `error`, `decision_id`,
 * `bundles`, and OPA's `erased`/`masked` JSON pointers. The input and result
 * are taken as the exact JSON text the line holds, so big integers replay as
 * they were decided.
 *
 * A line that is not JSON, or not an object, is malformed. A JSON object that is
 * not a decision (an OPA server log line in the same stream) is `other`. A
 * decision whose input was erased or masked at log time, with no input, with its
 * result erased or masked, or made by an ad-hoc query (no path), cannot be
 * compared: it is not replayable, with the reason.
 */
import { memberText } from '../engine/json-member.js';
import { engineText } from '../engine/json-text.js';
import type { Answer } from './compare.js';

/** Why a decision cannot be replayed. */
export type NotReplayableReason = 'input_masked' | 'no_input' | 'result_masked' | 'no_path';

/** A decision to ask again. */
export interface RecordedDecision {
  readonly kind: 'decision';
  /** The data path as an entrypoint: `authz/allow`. */
  readonly path: string;
  /** The input's JSON text as the engine takes it. */
  readonly inputJson: string;
  /** The answer recorded. */
  readonly before: Answer;
  readonly decisionId: string | undefined;
}

/** What one line is. */
export type ParsedLine =
  | RecordedDecision
  | { readonly kind: 'not_replayable'; readonly reason: NotReplayableReason; readonly path: string | undefined }
  | { readonly kind: 'other' }
  | { readonly kind: 'malformed' };

/** Parses one line (without its line break). */
export function parseLine(line: string): ParsedLine {
  let event: unknown;
  try {
    event = JSON.parse(line) as unknown;
  } catch {
    return { kind: 'malformed' };
  }
  if (event === null || typeof event !== 'object' || Array.isArray(event)) return { kind: 'malformed' };
  const e = event as Record<string, unknown>;
  if (typeof e.decision_id !== 'string' && typeof e.path !== 'string') return { kind: 'other' };
  const path = typeof e.path === 'string' ? normalisePath(e.path) : undefined;
  const hidden = [...pointers(e.erased), ...pointers(e.masked)];
  const notReplayable = (reason: NotReplayableReason): ParsedLine => ({ kind: 'not_replayable', reason, path });
  if (hidden.some((p) => p === '/input' || p.startsWith('/input/'))) return notReplayable('input_masked');
  if (hidden.some((p) => p === '/result' || p.startsWith('/result/'))) return notReplayable('result_masked');
  if (path === undefined) return notReplayable('no_path');
  const inputJson = e.input === undefined ? undefined : memberText(line, 'input');
  if (inputJson === undefined) return notReplayable('no_input');
  return {
    kind: 'decision',
    path,
    inputJson: engineText(inputJson),
    before: answerOf(e, line),
    decisionId: typeof e.decision_id === 'string' ? e.decision_id : undefined,
  };
}

/**
 * A logged path as an entrypoint: OPA and Warden write `authz/allow`; `/v1/data/authz/allow`,
 * `data/authz/allow` and `data.authz.allow` (a query's ref) are read as the same path.
 */
export function normalisePath(path: string): string {
  let p = path.trim();
  if (p === 'data' || p.startsWith('data.')) p = p.split('.').slice(1).join('/');
  p = p.replace(/^\/+/, '');
  if (p.startsWith('v1/data/') || p === 'v1/data') p = p.slice('v1/data'.length);
  else if (p.startsWith('data/')) p = p.slice('data'.length);
  return p
    .split('/')
    .filter((s) => s !== '')
    .join('/');
}

// The recorded answer: an error (its code, OPA's or Warden's), a value, or undefined.
function answerOf(e: Record<string, unknown>, line: string): Answer {
  if (e.error !== undefined && e.error !== null) {
    const err = e.error as { code?: unknown };
    return { kind: 'error', code: typeof err.code === 'string' ? err.code : 'error' };
  }
  const result = e.result === undefined ? undefined : memberText(line, 'result');
  return result === undefined ? { kind: 'undefined' } : { kind: 'value', json: result };
}

function pointers(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((p): p is string => typeof p === 'string') : [];
}
