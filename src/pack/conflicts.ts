/**
 * Rule conflicts that are certain from the source alone. A complete rule
 * (no arguments, not a partial set or object rule, not `default`) whose body
 * is unconditional and whose value is a constant gives that value for every
 * input; any other complete rule of the same name (same package, any file)
 * that can give a different constant makes OPA fail every decision where it
 * applies with "conflicting values" (eval_conflict_error). opa compiles such a
 * policy without complaint, and a folder without golden decisions would go
 * live with it, so the build refuses it here, from opa's own AST.
 *
 * An `else` chain is one rule: its branches are values it can give (each with
 * its own location), never unconditional rules of their own. The same
 * constant twice is no conflict. A module whose AST is too large to read
 * (opa/parse.ts, MAX_AST_BYTES) is left out: the check can then miss a
 * conflict, never invent one.
 */
import { WardenError } from '../errors.js';
import type { RegoVersion } from '../opa/compile.js';
import { opaParse, type AstExpr, type AstLocation, type AstModule, type AstRule, type AstTerm } from '../opa/parse.js';
import { constantKey } from './rego-constant.js';

/** A constant a rule (or a branch of its else chain) gives, and where. */
export interface RuleValue {
  readonly file: string;
  readonly line: number;
  readonly col: number;
  /** Canonical key of the constant (equal keys: equal values). */
  readonly key: string;
  /** The constant as written in the source, on one line. */
  readonly text: string;
  /** Whether the rule gives it for every input. */
  readonly unconditional: boolean;
}

/** One rule with an unconditional constant and the same-named rules that can give another one. */
export interface RuleConflict {
  /** The rule's full path, `data.<package>.<name>`. */
  readonly rule: string;
  readonly unconditional: RuleValue;
  readonly others: readonly RuleValue[];
  /** The `default` rule that fixes it. */
  readonly fix: string;
}

/** Parses the modules (paths relative to dir) with the real opa and throws PACK_RULE_CONFLICT for any certain conflict. */
export async function checkRuleConflicts(
  opa: string,
  dir: string,
  files: readonly string[],
  version: RegoVersion,
  rel: (f: string) => string,
): Promise<void> {
  const modules: AstModule[] = [];
  const sorted = [...files].sort();
  for (let i = 0; i < sorted.length; i += PARSE_CONCURRENCY) {
    const parsed = await Promise.all(sorted.slice(i, i + PARSE_CONCURRENCY).map((f) => opaParse(opa, dir, f, version)));
    modules.push(...parsed.filter((m) => m !== undefined));
  }
  const conflicts = findRuleConflicts(modules, rel);
  if (conflicts.length > 0) throw ruleConflictError(conflicts);
}

/** opa parse runs at a time (one file each). */
const PARSE_CONCURRENCY = 4;

/** The certain conflicts among the modules' rules, in file and line order. */
export function findRuleConflicts(
  modules: readonly AstModule[],
  rel: (f: string) => string = (f) => f,
): RuleConflict[] {
  const byPath = new Map<string, { rule: string; name: string; values: RuleValue[] }>();
  for (const module of modules) {
    const pkg = pathStrings(module.package.path.slice(1));
    if (pkg === undefined) continue;
    for (const rule of module.rules ?? []) {
      const ref = completeRef(rule);
      if (ref === undefined) continue;
      const path = [...pkg, ...ref.path];
      const key = JSON.stringify(path);
      const entry = byPath.get(key) ?? { rule: `data${path.map(segment).join('')}`, name: ref.name, values: [] };
      entry.values.push(...ruleValues(rule, rel));
      byPath.set(key, entry);
    }
  }
  const conflicts: RuleConflict[] = [];
  for (const { rule, name, values } of byPath.values()) {
    const ordered = [...values].sort(byPlace);
    const always = ordered.find((v) => v.unconditional);
    if (!always) continue;
    const others = ordered.filter((v) => v !== always && v.key !== always.key);
    if (others.length > 0)
      conflicts.push({ rule, unconditional: always, others, fix: `default ${name} := ${always.text}` });
  }
  return conflicts.sort((a, b) => byPlace(a.unconditional, b.unconditional));
}

/** PACK_RULE_CONFLICT for the conflicts: one line, each naming the file:line of both rules. */
export function ruleConflictError(conflicts: readonly RuleConflict[]): WardenError {
  const at = (v: RuleValue): string => `${v.file}:${v.line}`;
  const lines = conflicts.map(
    (c) =>
      `${at(c.unconditional)}: rule ${c.rule} always gives ${c.unconditional.text}, but ` +
      `${c.others.map((o) => `${at(o)} ${o.unconditional ? 'always gives' : 'gives'} ${o.text}`).join(', ')}: ` +
      'every decision where both apply fails with a conflict',
  );
  const first = conflicts[0]?.unconditional;
  const hint =
    'make the unconditional rule a default, so it applies only when no other rule does: ' +
    conflicts.map((c) => `\`${c.fix}\` at ${at(c.unconditional)}`).join(', ');
  return new WardenError('PACK_RULE_CONFLICT', lines.join('; '), {
    hint,
    details: {
      ...(first ? { file: first.file, line: first.line, col: first.col } : {}),
      conflicts: conflicts.map((c) => ({
        rule: c.rule,
        file: c.unconditional.file,
        line: c.unconditional.line,
        value: c.unconditional.text,
        others: c.others.map((o) => ({ file: o.file, line: o.line, value: o.text, unconditional: o.unconditional })),
        fix: c.fix,
      })),
    },
  });
}

// The rule's path inside its package and its name as written (`p`, `p.q`), if it is a complete,
// non-default rule: no arguments, a value, and a head without variables.
function completeRef(rule: AstRule): { path: string[]; name: string } | undefined {
  const { head } = rule;
  if (rule.default === true || head.args !== undefined || head.value === undefined) return undefined;
  const [first, ...rest] = head.ref ?? [];
  const name = first?.type === 'var' && typeof first.value === 'string' ? first.value : head.name;
  const tail = pathStrings(rest);
  if (name === undefined || tail === undefined) return undefined;
  return { path: [name, ...tail], name: `${name}${tail.map(segment).join('')}` };
}

// The constants the rule gives, its else branches included; a rule whose body always holds gives only its head's.
function ruleValues(rule: AstRule, rel: (f: string) => string): RuleValue[] {
  const values: RuleValue[] = [];
  let link: AstRule | undefined = rule;
  let first = true;
  while (link) {
    const unconditional = first && isUnconditional(link.body);
    const value = constantValue(link, unconditional, rel);
    if (value) values.push(value);
    if (unconditional) break; // the else branches are never reached
    link = link.else;
    first = false;
  }
  return values;
}

// The constant of one link of a rule, located, or undefined if its value is not a constant.
function constantValue(link: AstRule, unconditional: boolean, rel: (f: string) => string): RuleValue | undefined {
  const key = constantKey(link.head.value);
  const loc: AstLocation | undefined = link.location ?? link.head.location;
  if (key === undefined || loc?.file === undefined || loc.row === undefined) return undefined;
  return {
    file: rel(loc.file),
    line: loc.row,
    col: loc.col ?? 1,
    key,
    text: sourceText(link.head.value, key),
    unconditional,
  };
}

// True when every expression of the body is a plain `true` (opa writes `p := 1` with the body `true`).
function isUnconditional(body: readonly AstExpr[] | undefined): boolean {
  if (!body || body.length === 0) return false;
  return body.every((e) => e.negated !== true && (e.with ?? []).length === 0 && isTrue(e.terms));
}

// A lone `true` term.
function isTrue(terms: AstExpr['terms']): boolean {
  return (
    terms !== undefined &&
    !Array.isArray(terms) &&
    (terms as AstTerm).type === 'boolean' &&
    (terms as AstTerm).value === true
  );
}

// The strings of a list of string terms, or undefined if one is not a string.
function pathStrings(terms: readonly AstTerm[]): string[] | undefined {
  const out: string[] = [];
  for (const t of terms) {
    if (t.type !== 'string' || typeof t.value !== 'string') return undefined;
    out.push(t.value);
  }
  return out;
}

// `.name` for an identifier, `["odd-name"]` otherwise.
function segment(s: string): string {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(s) ? `.${s}` : `[${JSON.stringify(s)}]`;
}

// The term's source text on one line (at most 80 characters), else its canonical key.
function sourceText(term: AstTerm | undefined, key: string): string {
  const raw = term?.location?.text;
  const text = raw
    ? Buffer.from(raw, 'base64')
        .toString('utf8')
        .replace(/\s*\n\s*/g, ' ')
        .trim()
    : key;
  return text.length > 80 ? `${text.slice(0, 79)}…` : text;
}

// File, then line, then column.
function byPlace(a: RuleValue, b: RuleValue): number {
  return a.file < b.file ? -1 : a.file > b.file ? 1 : a.line - b.line || a.col - b.col;
}
