/**
 * The pack's `.manifest`: OPA's bundle manifest plus Warden's signed marker in
 * `metadata.warden` (pack name, monotonic sequence, creation time), which lets
 * the agent refuse an older validly-signed pack (downgrade / replay).
 */
import { z } from 'zod';
import { WardenError, messageOf } from '../errors.js';
import { formatIssues } from '../util/zod-issues.js';

/** Path of the manifest inside a pack. */
export const MANIFEST_PATH = '.manifest';
/** Path of the golden decisions inside a pack (OPA ignores it). */
export const GOLDEN_PATH = 'warden.golden.json';
/** Marker format this Warden writes and understands. */
export const MARKER_FORMAT = 1;

const markerSchema = z.object({
  format: z.literal(MARKER_FORMAT),
  pack: z.string().min(1),
  sequence: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  created_at: z.iso.datetime(),
  builder: z.string().optional(),
});

const manifestSchema = z.object({
  revision: z.string(),
  roots: z.array(z.string()).default(['']),
  rego_version: z.number().int().optional(),
  wasm: z.array(z.object({ entrypoint: z.string(), module: z.string() })).min(1),
  metadata: z.object({ warden: markerSchema }).loose(),
});

/** Warden's marker inside `.manifest` metadata. */
export type PackMarker = z.infer<typeof markerSchema>;
/** A validated pack manifest. */
export type PackManifest = z.infer<typeof manifestSchema>;

/** Parses and validates a pack's `.manifest` bytes. */
export function parseManifest(bytes: Uint8Array | undefined): PackManifest {
  if (bytes === undefined) throw new WardenError('PACK_MANIFEST_INVALID', 'the pack has no .manifest');
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch (err) {
    throw new WardenError('PACK_MANIFEST_INVALID', `.manifest is not JSON: ${messageOf(err)}`, { cause: err });
  }
  const parsed = manifestSchema.safeParse(raw);
  if (!parsed.success) {
    const lines = formatIssues(parsed.error.issues);
    throw new WardenError('PACK_MANIFEST_INVALID', `.manifest: ${lines.join('; ')}`, { details: { issues: lines } });
  }
  return parsed.data;
}

/** The wasm entrypoints the manifest declares, in manifest order. */
export function manifestEntrypoints(manifest: PackManifest): string[] {
  return manifest.wasm.map((w) => w.entrypoint);
}
