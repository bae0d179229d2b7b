/**
 * Size and count limits applied to every pack Warden reads or builds. Fetched packs are
 * hostile (docs/design.md#fetched-input-is-hostile): each limit is checked as early as the bytes allow.
 * Every limit can be set where the pack is handled (the agent's `limits.*`, the flags of
 * `warden pack build` / `warden pack verify`), and every refusal names the limit, the size
 * found and the key that raises it (`LimitKeys`).
 */
import { WardenError, type ErrorCode } from '../errors.js';

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

/**
 * The limits used when the caller gives none: the one source of the defaults (the agent's
 * configuration and the CLI flags take theirs from here). They let a pack of 256 MiB of data
 * through, e.g. a single 256 MiB data.json: 320 MiB inflated leaves 64 MiB for policy.wasm,
 * the Rego and the tar headers beside it, and 256 MiB compressed holds even data that does
 * not compress (hashes, keys).
 */
export const DEFAULT_PACK_LIMITS: Readonly<PackLimits> = Object.freeze({
  maxCompressedBytes: 256 * MiB,
  maxUncompressedBytes: 320 * MiB,
  maxFiles: 10_000,
  maxFileBytes: 256 * MiB,
  maxPathLength: 256,
});

/** The limits a user can set (the path length is fixed). */
export type SettableLimit = 'maxCompressedBytes' | 'maxUncompressedBytes' | 'maxFiles' | 'maxFileBytes';

/**
 * Where the limits in force were set, so that a refusal can say what raises them: the
 * name of each limit there, and how that kind of setting is changed.
 */
export interface LimitKeys {
  /** `config`: a key of the agent configuration; `flag`: a command-line flag; `option`: a library option. */
  readonly kind: 'config' | 'flag' | 'option';
  readonly names: Readonly<Record<SettableLimit, string>>;
}

/** Limits and where they were set, as the agent, the CLI and library callers hand them on. */
export interface LimitSettings {
  /** Absent limits take the defaults. */
  readonly limits?: Partial<PackLimits>;
  /** Default: OPTION_LIMIT_KEYS. */
  readonly limitKeys?: LimitKeys;
}

/** The agent's configuration keys (`limits:` in its YAML file). */
export const AGENT_LIMIT_KEYS: LimitKeys = Object.freeze({
  kind: 'config',
  names: Object.freeze({
    maxCompressedBytes: 'limits.max_pack_bytes',
    maxUncompressedBytes: 'limits.max_uncompressed_bytes',
    maxFiles: 'limits.max_files',
    maxFileBytes: 'limits.max_file_bytes',
  }),
});

/** The flags of `warden pack build` and `warden pack verify`. */
export const CLI_LIMIT_KEYS: LimitKeys = Object.freeze({
  kind: 'flag',
  names: Object.freeze({
    maxCompressedBytes: '--max-pack-bytes',
    maxUncompressedBytes: '--max-uncompressed-bytes',
    maxFiles: '--max-files',
    maxFileBytes: '--max-file-bytes',
  }),
});

/** The PackLimits property names: for library callers of readPack / buildPack. */
export const OPTION_LIMIT_KEYS: LimitKeys = Object.freeze({
  kind: 'option',
  names: Object.freeze({
    maxCompressedBytes: 'maxCompressedBytes',
    maxUncompressedBytes: 'maxUncompressedBytes',
    maxFiles: 'maxFiles',
    maxFileBytes: 'maxFileBytes',
  }),
});

/** A refusal over a limit, as `overLimit` words it. */
export interface OverLimit {
  readonly limit: SettableLimit;
  /** The limit's value in force. */
  readonly value: number;
  /** The size or count found; with `atLeast`, how far reading got before it stopped. */
  readonly actual: number;
  /** The actual size is not known in full: reading stopped at the limit. */
  readonly atLeast?: boolean;
  readonly keys: LimitKeys;
  /** More details (kept from earlier versions: `size`, `path`). */
  readonly details?: Record<string, unknown>;
}

/**
 * The error for something over a limit. The message reads "<what> <actual> bytes, over the
 * limit (<key> <value>)", `what` ending in its verb ("data.json is", "the pack holds");
 * `details` holds {limit, key, actual} (`limit` the value in force, `key` the setting that
 * raises it); the hint says how to raise it where it was set.
 */
export function overLimit(code: ErrorCode, what: string, o: OverLimit): WardenError {
  const key = o.keys.names[o.limit];
  const unit = o.limit === 'maxFiles' ? 'entries' : 'bytes';
  const amount = o.atLeast ? `more than ${o.value} ${unit}` : `${o.actual} ${unit}`;
  return new WardenError(code, `${what} ${amount}, over the limit (${setting(key, o)})`, {
    details: { ...o.details, limit: o.value, key, actual: o.actual, ...(o.atLeast ? { at_least: true } : {}) },
    hint: raiseHint(key, o),
  });
}

// "limits.max_file_bytes: 1024", "--max-file-bytes 1024", "maxFileBytes: 1024".
function setting(key: string, o: OverLimit): string {
  return o.keys.kind === 'flag' ? `${key} ${o.value}` : `${key}: ${o.value}`;
}

// How to raise the limit, in the words of where it was set.
function raiseHint(key: string, o: OverLimit): string {
  const wanted = o.atLeast ? 'a larger value' : `at least ${o.actual}`;
  const thing = o.limit === 'maxFiles' ? 'this many entries' : 'this size';
  switch (o.keys.kind) {
    case 'config':
      return `if ${thing} is expected, set ${key} in the agent configuration to ${wanted} (now ${o.value}); otherwise the pack is not the one you meant to publish`;
    case 'flag':
      return `if ${thing} is expected, pass ${key} with ${wanted} (now ${o.value})`;
    case 'option':
      return `if ${thing} is expected, raise the ${key} limit to ${wanted} (now ${o.value})`;
  }
}

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
