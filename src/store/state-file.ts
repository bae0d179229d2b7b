/**
 * (De)serialisation of `data_dir/packs/<name>/state.json`. The file is ours, but
 * a torn disk, an editor or another program may have touched it, so it is read
 * like any other input: a size limit, one zod schema, and the invariants the
 * store relies on (active and last-known-good are among the versions, digests
 * are unique). Anything else is STORE_CORRUPT, never a half-trusted state.
 */
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { WardenError, messageOf } from '../errors.js';
import { writeFileAtomic } from '../util/atomic-write.js';
import { formatIssues } from '../util/zod-issues.js';
import type { PackState } from './types.js';

/** Format number written into state.json (2: version numbers, pin, rollbacks); format 1 is read and migrated. */
export const STATE_FORMAT = 2;
/** Largest state.json read (a bounded history is a few KiB). */
export const STATE_MAX_BYTES = 1024 * 1024;

const digest = z.string().regex(/^sha256:[0-9a-f]{64}$/, 'expected sha256:<64 hex>');

const versionSchema = z.strictObject({
  digest,
  revision: z.string(),
  sequence: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  signer: z.string(),
  origin: z.string(),
  storedAt: z.iso.datetime(),
  activatedAt: z.iso.datetime().optional(),
  number: z.number().int().positive().optional(), // absent in format 1
  actor: z.string().max(200).optional(),
  reason: z.string().max(2000).optional(),
  shadow: z
    .strictObject({
      result: z.enum(['running', 'promoted', 'refused', 'superseded', 'cancelled']),
      startedAt: z.iso.datetime(),
      endedAt: z.iso.datetime().optional(),
      decisions: z.number().int().nonnegative(),
      outcomes: z.record(z.string().max(40), z.number().int().nonnegative()),
      reason: z.string().max(2000).optional(),
      actor: z.string().max(200).optional(),
    })
    .optional(),
});

const pinSchema = z.strictObject({
  digest,
  at: z.iso.datetime(),
  actor: z.string().max(200),
  reason: z.string().max(2000),
});
const rollbackSchema = z.strictObject({
  at: z.iso.datetime(),
  from: digest.nullable(),
  to: digest,
  actor: z.string().max(200),
  reason: z.string().max(2000),
});

const stateSchema = z
  .strictObject({
    format: z.union([z.literal(1), z.literal(STATE_FORMAT)]),
    active: digest.nullable(),
    lastKnownGood: digest.nullable(),
    versions: z.array(versionSchema),
    pinned: pinSchema.nullable().optional(),
    rollbacks: z.array(rollbackSchema).max(1000).default([]),
    nextNumber: z.number().int().positive().optional(),
  })
  .superRefine((s, ctx) => {
    const seen = new Set<string>();
    for (const v of s.versions) {
      if (seen.has(v.digest)) ctx.addIssue({ code: 'custom', path: ['versions'], message: `${v.digest} listed twice` });
      seen.add(v.digest);
    }
    for (const key of ['active', 'lastKnownGood'] as const) {
      const d = s[key];
      if (d !== null && !seen.has(d))
        ctx.addIssue({ code: 'custom', path: [key], message: `${d} is not among the versions` });
    }
  });

/** The state of a pack that has nothing stored yet. */
export const EMPTY_STATE: PackState = Object.freeze({
  active: undefined,
  lastKnownGood: undefined,
  versions: Object.freeze([]),
  pinned: undefined,
  rollbacks: Object.freeze([]),
  nextNumber: 1,
});

/** Reads a state file: missing → EMPTY_STATE; unreadable or invalid → STORE_CORRUPT. */
export async function readStateFile(path: string): Promise<PackState> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return EMPTY_STATE;
    throw new WardenError('IO_FAILED', `cannot read ${path}: ${messageOf(err)}`, { cause: err, details: { path } });
  }
  return parseState(bytes, path);
}

/** Parses state.json bytes (path is for messages only). */
export function parseState(bytes: Buffer, path: string): PackState {
  if (bytes.length > STATE_MAX_BYTES) corrupt(path, `is ${bytes.length} bytes, over the ${STATE_MAX_BYTES}-byte limit`);
  let raw: unknown;
  try {
    raw = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    corrupt(path, `is not JSON: ${messageOf(err)}`, err);
  }
  const parsed = stateSchema.safeParse(raw);
  if (!parsed.success) corrupt(path, `is invalid: ${formatIssues(parsed.error.issues).join('; ')}`);
  const s = parsed.data;
  // Format 1 had no numbers: number the versions oldest-first (the list is newest-first).
  const highest = Math.max(0, ...s.versions.map((v) => v.number ?? 0));
  let next = highest;
  const numbered = [...s.versions]
    .reverse()
    .map((v) => ({ ...v, number: v.number ?? ++next }))
    .reverse();
  return deepFreeze({
    active: s.active ?? undefined,
    lastKnownGood: s.lastKnownGood ?? undefined,
    versions: numbered,
    pinned: s.pinned ?? undefined,
    rollbacks: s.rollbacks.map((r) => ({ ...r, from: r.from ?? undefined })),
    nextNumber: Math.max(s.nextNumber ?? 1, next + 1),
  });
}

/** The JSON text written for a state (stable key order, one version per block). */
export function serializeState(state: PackState): string {
  const out = {
    format: STATE_FORMAT,
    active: state.active ?? null,
    lastKnownGood: state.lastKnownGood ?? null,
    versions: state.versions,
    pinned: state.pinned ?? null,
    rollbacks: state.rollbacks.map((r) => ({ ...r, from: r.from ?? null })),
    nextNumber: state.nextNumber,
  };
  return `${JSON.stringify(out, null, 2)}\n`;
}

/** Atomically replaces the state file (temp → fsync → rename → fsync dir). */
export async function writeStateFile(path: string, state: PackState): Promise<void> {
  try {
    await writeFileAtomic(path, serializeState(state));
  } catch (err) {
    throw new WardenError('IO_FAILED', `cannot write ${path}: ${messageOf(err)}`, { cause: err, details: { path } });
  }
}

// Throws the one error every kind of bad state file turns into.
function corrupt(path: string, why: string, cause?: unknown): never {
  throw new WardenError('STORE_CORRUPT', `${path} ${why}`, { cause, details: { path } });
}

// Freezes a parsed state so callers cannot edit the store's view in place.
function deepFreeze(state: PackState): PackState {
  for (const v of state.versions) Object.freeze(v);
  Object.freeze(state.versions);
  return Object.freeze(state);
}
