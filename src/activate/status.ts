/**
 * One pack's state as data, for /healthz and the admin API (errors as data,
 * docs/design.md#errors-are-data-with-stable-codes). Built by the Activator, which owns every field.
 */
import type { ErrorCode } from '../errors.js';
import type { SourceKind } from '../source/types.js';
import type { Pin } from '../store/types.js';
import type { ShadowProgress } from './shadow.js';

/** The last reload attempt. */
export interface ReloadRecord {
  readonly at: Date;
  readonly result: 'activated' | 'unchanged' | 'recorded' | 'shadow' | 'refused';
  readonly digest?: string;
  readonly correlationId?: string;
  readonly durationMs: number;
  readonly error?: { code: ErrorCode; message: string };
}

/** One pack's state as /healthz shows it. */
export interface PackStatus {
  readonly name: string;
  readonly source: { kind: SourceKind; origin: string };
  readonly active:
    | {
        digest: string;
        number: number | undefined;
        revision: string;
        sequence: number;
        entrypoints: readonly string[];
        activated_at: string;
        signer: string;
      }
    | undefined;
  readonly digest_age_seconds: number | undefined;
  readonly last_reload: (Omit<ReloadRecord, 'at'> & { at: string }) | undefined;
  readonly last_error: { at: string; code: ErrorCode; message: string } | undefined;
  readonly stale: boolean;
  readonly last_known_good: boolean;
  readonly pinned: boolean;
  readonly pin: Pin | undefined;
  /** The version running as a shadow (rollout mode shadow), with its progress; absent when none runs. */
  readonly shadow?: ShadowStatus | undefined;
}

/** A running shadow: which version, since when, and how far its gate is. */
export interface ShadowStatus extends ShadowProgress {
  readonly digest: string;
  readonly number: number | undefined;
  readonly revision: string;
  readonly sequence: number;
  readonly started_at: string;
}
