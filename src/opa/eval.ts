/**
 * `opa eval` of one entrypoint on one input over a policy folder, with the
 * real (topdown) evaluator. Used to explain a failure of the wasm engine:
 * topdown names the file:line of a conflict or error, opa-wasm does not.
 */
import type { RegoVersion } from './compile.js';
import { runOpa } from './run.js';

/** One error opa reported, located when opa knew where. */
export interface OpaEvalError {
  readonly code: string;
  /** opa's message on one line (its multi-line conflict listings joined by spaces). */
  readonly message: string;
  readonly file?: string;
  readonly line?: number;
  readonly col?: number;
}

/** What `opa eval` gave: a value, OPA's "undefined", or the errors it reported. */
export type OpaEvalOutcome =
  | { readonly kind: 'defined'; readonly value: unknown }
  | { readonly kind: 'undefined' }
  | { readonly kind: 'errors'; readonly errors: readonly OpaEvalError[] };

interface EvalOutput {
  result?: Array<{ expressions?: Array<{ value?: unknown }> }>;
  errors?: Array<{ code?: string; message?: string; location?: { file?: string; row?: number; col?: number } }>;
}

/**
 * Evaluates `data.<entrypoint>` (slash path) with `input` over the Rego and data
 * in dir (`opa eval -d .`, so file names are relative to dir). `rel` rewrites
 * the file names opa prints; an output opa did not format as JSON becomes one
 * unlocated error carrying its stderr.
 */
export async function opaEval(
  opa: string,
  dir: string,
  entrypoint: string,
  input: unknown,
  version: RegoVersion,
  rel: (f: string) => string = (f) => f,
): Promise<OpaEvalOutcome> {
  const query = `data.${entrypoint.replaceAll('/', '.')}`;
  const args = [
    'eval',
    '--format',
    'json',
    ...(version === 'v0' ? ['--v0-compatible'] : []),
    '-d',
    '.',
    '--stdin-input',
    query,
  ];
  const res = await runOpa(opa, args, { cwd: dir, stdin: JSON.stringify(input ?? null), timeoutMs: 30_000 });
  const out = parseOutput(res.stdout) ?? parseOutput(res.stderr);
  if (out?.errors && out.errors.length > 0) return { kind: 'errors', errors: out.errors.map((e) => located(e, rel)) };
  if (res.status !== 0 || !out) {
    return {
      kind: 'errors',
      errors: [
        { code: 'opa_eval_failed', message: oneLine(res.stderr || res.stdout || `opa eval exited ${res.status}`) },
      ],
    };
  }
  const first = out.result?.[0]?.expressions?.[0];
  return first && 'value' in first ? { kind: 'defined', value: first.value } : { kind: 'undefined' };
}

// Parses opa's JSON output, or undefined when the text is not JSON.
function parseOutput(text: string): EvalOutput | undefined {
  const start = text.indexOf('{');
  if (start < 0) return undefined;
  try {
    return JSON.parse(text.slice(start)) as EvalOutput;
  } catch {
    return undefined;
  }
}

// One opa error with its file made relative, in opa's message too ("… at ./priority.rego:4").
function located(e: NonNullable<EvalOutput['errors']>[number], rel: (f: string) => string): OpaEvalError {
  const loc = e.location;
  const message = oneLine(e.message ?? 'unknown error').replace(/(?<=\bat )(\S+?)(?=:\d)/g, (f) => rel(f));
  const where = loc?.file
    ? { file: rel(loc.file), ...(loc.row ? { line: loc.row } : {}), ...(loc.col ? { col: loc.col } : {}) }
    : {};
  return { code: e.code ?? 'opa_error', message, ...where };
}

// Joins opa's indented continuation lines into one line.
function oneLine(text: string): string {
  return text.trim().replace(/\s*\n\s*/g, ' ');
}
