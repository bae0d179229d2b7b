/**
 * The pack-limit flags of `warden pack build` and `warden pack verify`: the same limits as the
 * agent's `limits.*` (src/pack/limits.ts), the same defaults, and named in every refusal.
 */
import { WardenError } from '../errors.js';
import { DEFAULT_PACK_LIMITS, type PackLimits, type SettableLimit } from '../pack/limits.js';

/** parseArgs options for the limit flags. */
export const LIMIT_FLAGS = {
  'max-pack-bytes': { type: 'string' },
  'max-uncompressed-bytes': { type: 'string' },
  'max-files': { type: 'string' },
  'max-file-bytes': { type: 'string' },
} as const;

/** The usage text of the flags. */
export const LIMIT_USAGE = '[--max-pack-bytes N] [--max-uncompressed-bytes N] [--max-files N] [--max-file-bytes N]';

/** The --help lines of the flags, with their defaults. */
export const LIMIT_HELP = [
  `--max-pack-bytes N          largest pack (.tar.gz) in bytes (default ${DEFAULT_PACK_LIMITS.maxCompressedBytes})`,
  `--max-uncompressed-bytes N  largest inflated pack in bytes (default ${DEFAULT_PACK_LIMITS.maxUncompressedBytes})`,
  `--max-files N               most files in a pack (default ${DEFAULT_PACK_LIMITS.maxFiles})`,
  `--max-file-bytes N          largest single file, e.g. a data.json, in bytes (default ${DEFAULT_PACK_LIMITS.maxFileBytes})`,
].join('\n');

const FLAG_OF: Readonly<Record<SettableLimit, keyof typeof LIMIT_FLAGS>> = {
  maxCompressedBytes: 'max-pack-bytes',
  maxUncompressedBytes: 'max-uncompressed-bytes',
  maxFiles: 'max-files',
  maxFileBytes: 'max-file-bytes',
};

/** The limits the flags set (absent flags: the defaults apply); a value that is not a positive integer → USAGE. */
export function limitsFromFlags(values: Partial<Record<keyof typeof LIMIT_FLAGS, string>>): Partial<PackLimits> {
  const limits: Partial<PackLimits> = {};
  for (const [limit, flag] of Object.entries(FLAG_OF) as [SettableLimit, keyof typeof LIMIT_FLAGS][]) {
    const raw = values[flag];
    if (raw === undefined) continue;
    const n = /^[0-9]+$/.test(raw) ? Number(raw) : NaN;
    if (!Number.isSafeInteger(n) || n <= 0) {
      throw new WardenError('USAGE', `--${flag} must be a positive integer (bytes or a count), got ${raw}`);
    }
    limits[limit] = n;
  }
  return limits;
}
