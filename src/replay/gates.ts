/**
 * The gates CI sets on a replay: `--fail-on deny-to-allow|allow-to-deny|any-change`
 * (any such change fails) and `--max-changed 0.5%` or `--max-changed 25` (more
 * changed decisions than that share of the replayed ones, or that count, fails).
 */
import { WardenError } from '../errors.js';
import type { Tally } from './tally.js';

/** The exit status of a replay whose gate failed (0: passed; 1 and 2 are errors, as for every command). */
export const GATE_FAILED_STATUS = 3;

export const FAIL_ON = ['deny-to-allow', 'allow-to-deny', 'any-change'] as const;
export type FailOn = (typeof FAIL_ON)[number];

/** A limit on changed decisions: a share of the replayed ones, or a count. */
export type MaxChanged = { readonly percent: number } | { readonly count: number };

/** The gates of one run. */
export interface Gates {
  readonly failOn: readonly FailOn[];
  readonly maxChanged?: MaxChanged | undefined;
}

/** Parses --fail-on values; anything else → USAGE. */
export function parseFailOn(values: readonly string[]): FailOn[] {
  return values.map((v) => {
    if (!(FAIL_ON as readonly string[]).includes(v))
      throw new WardenError('USAGE', `--fail-on takes ${FAIL_ON.join(', ')}; got ${v}`);
    return v as FailOn;
  });
}

/** Parses --max-changed: `0.5%` (0 to 100) or a count; anything else → USAGE. */
export function parseMaxChanged(value: string): MaxChanged {
  const percent = /^([0-9]+(?:\.[0-9]+)?)%$/.exec(value);
  if (percent) {
    const p = Number(percent[1]);
    if (p <= 100) return { percent: p };
  } else if (/^[0-9]+$/.test(value) && Number.isSafeInteger(Number(value))) return { count: Number(value) };
  throw new WardenError('USAGE', `--max-changed takes a share like 0.5% (0 to 100%) or a count like 25; got ${value}`);
}

/** Why the gates failed, one sentence each; empty when they held. */
export function gateFailures(tally: Tally, gates: Gates): string[] {
  const failures: string[] = [];
  for (const f of gates.failOn) {
    const n =
      f === 'any-change'
        ? tally.changed
        : f === 'deny-to-allow'
          ? tally.outcomes.deny_to_allow
          : tally.outcomes.allow_to_deny;
    if (n > 0)
      failures.push(`--fail-on ${f}: ${n} decision(s) ${f === 'any-change' ? 'changed' : f.replace(/-/g, ' ')}`);
  }
  const max = gates.maxChanged;
  if (max !== undefined) {
    const share = tally.replayed === 0 ? 0 : (tally.changed / tally.replayed) * 100;
    const over = 'percent' in max ? share > max.percent : tally.changed > max.count;
    if (over) {
      const limit = 'percent' in max ? `${max.percent}%` : `${max.count}`;
      failures.push(`--max-changed ${limit}: ${tally.changed} of ${tally.replayed} changed (${round(share)}%)`);
    }
  }
  return failures;
}

/** A share in percent with at most 3 decimals. */
export function round(percent: number): number {
  return Math.round(percent * 1000) / 1000;
}
