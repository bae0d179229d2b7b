/**
 * The pack folder's own description, `warden.yaml`: which entrypoints the pack
 * exposes, its roots, its Rego version and its golden decisions.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { WardenError, messageOf } from '../errors.js';
import { PACK_NAME_PATTERN, PACK_NAME_RULE } from './name.js';
import { formatIssues } from '../util/zod-issues.js';

/** File name of the pack description inside a policy folder. */
export const PACK_SPEC_FILE = 'warden.yaml';

const entrypoint = z
  .string()
  .regex(
    /^[A-Za-z_][A-Za-z0-9_]*(\/[A-Za-z_][A-Za-z0-9_]*)*$/,
    'an entrypoint is a slash-separated rule path like "authz/allow"',
  );

/** One golden decision: evaluating `entrypoint` on `input` must give `expect`. */
export const goldenCaseSchema = z.strictObject({
  name: z.string().min(1).max(200),
  entrypoint,
  input: z.unknown().optional(),
  /** The expected result; omit (or `undefined: true`) for "no result". */
  expect: z.unknown().optional(),
  undefined: z.boolean().optional(),
});
export type GoldenCase = z.infer<typeof goldenCaseSchema>;

const specSchema = z.strictObject({
  name: z.string().regex(PACK_NAME_PATTERN, PACK_NAME_RULE),
  revision: z.string().min(1).max(128).optional(),
  entrypoints: z.array(entrypoint).min(1).max(64),
  roots: z
    .array(z.string().regex(/^[A-Za-z0-9_/]*$/))
    .max(64)
    .optional(),
  rego_version: z.enum(['v0', 'v1']).default('v1'),
  golden: z.array(goldenCaseSchema).max(10_000).default([]),
  /**
   * The engine the pack is written for: `wasm` (the default) refuses at build any builtin the
   * embedded engine lacks; `opa` leaves them to the real OPA (an agent's engine: opa) and runs the
   * golden decisions with `opa eval`.
   */
  engine: z.enum(['wasm', 'opa']).default('wasm'),
});

/** A validated, frozen warden.yaml. */
export type PackSpec = Readonly<z.infer<typeof specSchema>>;

/** A spec from parts (the agent's directory source configuration), validated like a file. */
export function packSpecFrom(
  fields: { name: string; entrypoints: readonly string[]; rego_version?: 'v0' | 'v1'; engine?: 'wasm' | 'opa' },
  where: string,
): PackSpec {
  const parsed = specSchema.safeParse({ ...fields, entrypoints: [...fields.entrypoints] });
  if (!parsed.success)
    throw new WardenError('PACK_SPEC_INVALID', `${where}: ${formatIssues(parsed.error.issues).join('; ')}`);
  return Object.freeze(parsed.data);
}

/**
 * Reads and validates DIR/warden.yaml; every bad key is listed in one error.
 * Without the file, `fallback` (from the agent's source configuration) is used.
 */
export async function readPackSpec(dir: string, fallback?: PackSpec): Promise<PackSpec> {
  const path = join(dir, PACK_SPEC_FILE);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if (fallback && (err as NodeJS.ErrnoException).code === 'ENOENT') return fallback;
    throw new WardenError('PACK_SPEC_INVALID', `cannot read ${PACK_SPEC_FILE} in ${dir}: ${messageOf(err)}`, {
      cause: err,
    });
  }
  return parsePackSpec(text, path);
}

/** Validates the text of a warden.yaml (`where` names it in errors). */
export function parsePackSpec(text: string, where: string): PackSpec {
  let raw: unknown;
  try {
    raw = parseYaml(text, { maxAliasCount: 100 });
  } catch (err) {
    throw new WardenError('PACK_SPEC_INVALID', `${where}: not valid YAML: ${messageOf(err)}`, { cause: err });
  }
  const parsed = specSchema.safeParse(raw);
  if (!parsed.success) {
    const lines = formatIssues(parsed.error.issues);
    throw new WardenError('PACK_SPEC_INVALID', `${where}: ${lines.join('; ')}`, { details: { issues: lines } });
  }
  for (const c of parsed.data.golden) {
    if (!parsed.data.entrypoints.includes(c.entrypoint)) {
      throw new WardenError(
        'PACK_SPEC_INVALID',
        `${where}: golden case "${c.name}" uses entrypoint ${c.entrypoint}, which is not in entrypoints`,
      );
    }
  }
  return Object.freeze(parsed.data);
}
