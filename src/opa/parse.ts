/**
 * `opa parse` of one Rego file: the real parser's AST (JSON, with locations),
 * in the pack's Rego version. Only the parts Warden reads are typed; opa's
 * JSON has more.
 */
import { WardenError } from '../errors.js';
import type { RegoVersion } from './compile.js';
import { runOpa } from './run.js';

/** Where a node is in its file; `text` is the node's source text, base64. */
export interface AstLocation {
  readonly file?: string;
  readonly row?: number;
  readonly col?: number;
  readonly text?: string;
}

/** A term: `type` is "string", "number", "boolean", "null", "array", "object", "set", "var", "ref", "call", … */
export interface AstTerm {
  readonly type: string;
  readonly value?: unknown;
  readonly location?: AstLocation;
}

/** One expression of a rule body. `terms` is one term (`input.x`, `true`) or a call (operator first). */
export interface AstExpr {
  readonly terms?: AstTerm | readonly AstTerm[];
  readonly negated?: boolean;
  readonly with?: readonly unknown[];
  /** True for the `true` body opa adds to a rule written without one (`p := 1`). */
  readonly generated?: boolean;
}

/** A rule head: `ref` is the rule's path inside its package (`p`, or `p.q` for a ref head). */
export interface AstHead {
  readonly name?: string;
  readonly ref?: readonly AstTerm[];
  readonly args?: readonly AstTerm[];
  readonly key?: AstTerm;
  readonly value?: AstTerm;
  readonly assign?: boolean;
  readonly location?: AstLocation;
}

/** A rule; `else` is the next link of its else chain (part of this rule, not another one). */
export interface AstRule {
  readonly default?: boolean;
  readonly head: AstHead;
  readonly body?: readonly AstExpr[];
  readonly else?: AstRule;
  readonly location?: AstLocation;
}

/** A parsed module: its package path (`data` first) and its rules. */
export interface AstModule {
  readonly package: { readonly path: readonly AstTerm[] };
  readonly rules?: readonly AstRule[];
}

/**
 * The most AST JSON read for one file. With locations, opa prints some 40 bytes per
 * byte of Rego (each node carries its source text), so this is a module of about 1.5 MB.
 */
export const MAX_AST_BYTES = 64 * 1024 * 1024;

/**
 * Parses `file` (relative to cwd, as opa will name it in locations) with
 * `opa parse --format json --json-include locations,-comments`; undefined when
 * its AST is larger than MAX_AST_BYTES. A file opa cannot parse →
 * PACK_COMPILE_FAILED with opa's message.
 */
export async function opaParse(
  opa: string,
  cwd: string,
  file: string,
  version: RegoVersion,
): Promise<AstModule | undefined> {
  const args = [
    'parse',
    '--format',
    'json',
    '--json-include',
    'locations,-comments',
    ...(version === 'v0' ? ['--v0-compatible'] : []),
    file,
  ];
  const res = await runOpa(opa, args, { cwd, maxOutputBytes: MAX_AST_BYTES });
  if (res.truncated) return undefined;
  if (res.status !== 0) {
    throw new WardenError(
      'PACK_COMPILE_FAILED',
      `opa parse ${file}: ${(res.stderr.trim() || res.stdout.trim()).replace(/\s*\n\s*/g, ' ')}`,
    );
  }
  let module: AstModule;
  try {
    module = JSON.parse(res.stdout) as AstModule;
  } catch (err) {
    throw new WardenError('OPA_FAILED', `opa parse ${file} printed no JSON AST`, { cause: err });
  }
  if (!Array.isArray(module.package?.path))
    throw new WardenError('OPA_FAILED', `opa parse ${file} printed an AST without a package`);
  return module;
}
