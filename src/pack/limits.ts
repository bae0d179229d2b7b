/**
 * Size and count limits applied to every pack Warden reads. Fetched packs are
 * hostile (docs/design.md#fetched-input-is-hostile): each limit is checked as early as the bytes allow.
 */
import { WardenError } from '../errors.js';

/** Upper bounds on a pack's bytes, entries and paths. All values are positive integers. */
export interface PackLimits {
  /** Largest accepted .tar.gz, in bytes, before inflating. */
  maxCompressedBytes: number;
  /** Largest accepted inflated stream (tar headers, bodies and padding), in bytes. */
  maxUncompressedBytes: number;
  /** Most entries (files and directories) one pack may hold. */
  maxFiles: number;
  /** Largest accepted single file, in bytes. */
  maxFileBytes: number;
  /** Longest accepted path, in characters, after normalisation. */
  maxPathLength: number;
}

const MiB = 1024 * 1024;

/** The limits used when the caller gives none. */
export const DEFAULT_PACK_LIMITS: Readonly<PackLimits> = Object.freeze({
  maxCompressedBytes: 64 * MiB,
  maxUncompressedBytes: 256 * MiB,
  maxFiles: 10_000,
  maxFileBytes: 64 * MiB,
  maxPathLength: 256,
});

const LIMIT_KEYS = Object.keys(DEFAULT_PACK_LIMITS) as ReadonlyArray<keyof PackLimits>;

/**
 * Fills `partial` with the defaults and validates the result. Throws USAGE,
 * listing every bad key at once, for unknown keys and for values that are not
 * positive safe integers.
 */
export function resolveLimits(partial: Partial<PackLimits> = {}): PackLimits {
  const problems: string[] = [];
  for (const key of Object.keys(partial)) {
    if (!(LIMIT_KEYS as readonly string[]).includes(key)) problems.push(`${key}: unknown limit`);
  }
  const limits = { ...DEFAULT_PACK_LIMITS };
  for (const key of LIMIT_KEYS) {
    const value: unknown = partial[key];
    if (value === undefined) continue;
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
      problems.push(`${key}: must be a positive integer, got ${typeof value === 'number' ? value : typeof value}`);
    } else {
      limits[key] = value;
    }
  }
  if (problems.length > 0) {
    throw new WardenError('USAGE', `invalid pack limits: ${problems.join('; ')}`, { details: { problems } });
  }
  return limits;
}
