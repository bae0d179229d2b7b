/**
 * The opa commands a pack build needs — check, build -t wasm, test — with
 * their failures turned into coded errors that name file:line:col.
 */
import { readFile, rm } from 'node:fs/promises';
import { WardenError } from '../errors.js';
import { runOpa } from './run.js';

/** Rego language version of a pack. */
export type RegoVersion = 'v0' | 'v1';

interface OpaLocatedError {
  message: string;
  code: string;
  location?: { file: string; row: number; col: number };
}

interface OpaTestResult {
  location?: { file: string; row: number; col: number };
  package: string;
  name: string;
  fail?: boolean;
  error?: { message?: string };
  skip?: boolean;
}

const v0Flag = (v: RegoVersion): string[] => (v === 'v0' ? ['--v0-compatible'] : []);

/** `opa check` on dir; parse and type errors → PACK_COMPILE_FAILED listing each file:line:col. */
export async function opaCheck(
  opa: string,
  dir: string,
  version: RegoVersion,
  rel: (f: string) => string,
): Promise<void> {
  const res = await runOpa(opa, ['check', '--format', 'json', ...v0Flag(version), '.'], { cwd: dir });
  if (res.status === 0) return;
  const errors = parseErrors(res.stdout + res.stderr);
  if (errors.length === 0) throw new WardenError('PACK_COMPILE_FAILED', `opa check failed: ${res.stderr.trim()}`);
  const lines = errors.map((e) =>
    e.location
      ? `${rel(e.location.file)}:${e.location.row}:${e.location.col}: ${e.code}: ${e.message}`
      : `${e.code}: ${e.message}`,
  );
  const first = errors[0]?.location;
  throw new WardenError('PACK_COMPILE_FAILED', lines.join('\n'), {
    details: { errors: lines, ...(first ? { file: rel(first.file), line: first.row, col: first.col } : {}) },
  });
}

/** `opa build -t wasm` of the bundle folder dir; returns the tarball opa wrote (beside dir, not in it). */
export async function opaBuildWasm(
  opa: string,
  dir: string,
  entrypoints: readonly string[],
  version: RegoVersion,
): Promise<Buffer> {
  const out = `${dir}.opa-build.tar.gz`;
  const args = [
    'build',
    '-b',
    '.',
    '-t',
    'wasm',
    ...entrypoints.flatMap((e) => ['-e', e]),
    ...v0Flag(version),
    '-o',
    out,
  ];
  const res = await runOpa(opa, args, { cwd: dir });
  if (res.status !== 0) {
    const why = (res.stderr.trim() || res.stdout.trim()).replace(/^error:\s*/, '');
    throw new WardenError('PACK_COMPILE_FAILED', `opa build: ${why}`);
  }
  try {
    return await readFile(out);
  } finally {
    await rm(out, { force: true });
  }
}

/** `opa test` over the given paths; any failing or erroring test → PACK_TEST_FAILED naming it. */
export async function opaTest(
  opa: string,
  cwd: string,
  paths: readonly string[],
  version: RegoVersion,
  rel: (f: string) => string,
): Promise<number> {
  const res = await runOpa(opa, ['test', '--format', 'json', ...v0Flag(version), ...paths], { cwd });
  let results: OpaTestResult[];
  try {
    results = JSON.parse(res.stdout) as OpaTestResult[];
  } catch {
    const errors = parseErrors(res.stdout + res.stderr);
    const what = errors.map((e) =>
      e.location ? `${rel(e.location.file)}:${e.location.row}:${e.location.col}: ${e.message}` : e.message,
    );
    throw new WardenError('PACK_TEST_FAILED', `opa test could not run: ${what.join('; ') || res.stderr.trim()}`);
  }
  const failed = results.filter((r) => r.fail === true || r.error !== undefined);
  if (failed.length > 0) {
    const names = failed.map(
      (r) =>
        `${r.package}.${r.name}${r.location ? ` (${rel(r.location.file)}:${r.location.row})` : ''}${r.error?.message ? `: ${r.error.message}` : ''}`,
    );
    throw new WardenError(
      'PACK_TEST_FAILED',
      `${failed.length} of ${results.length} Rego tests failed: ${names.join('; ')}`,
      {
        details: { failed: names },
      },
    );
  }
  return results.length;
}

// Pulls OPA's `{"errors": [...]}` JSON out of mixed output.
function parseErrors(text: string): OpaLocatedError[] {
  const start = text.indexOf('{');
  if (start < 0) return [];
  try {
    const doc = JSON.parse(text.slice(start)) as { errors?: OpaLocatedError[] };
    return doc.errors ?? [];
  } catch {
    return [];
  }
}
