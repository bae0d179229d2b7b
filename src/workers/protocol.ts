/**
 * The messages between the primary thread and a decision worker. Only strings,
 * numbers and the pack's bytes cross: the input and the result travel as JSON
 * text, which is cheap to copy and exact.
 */
import type { PackLimits } from '../pack/limits.js';

/** Primary → worker. */
export type ToWorker =
  | {
      readonly t: 'load';
      readonly id: number;
      readonly name: string;
      readonly pack: Uint8Array;
      readonly limits: Partial<PackLimits>;
    }
  | { readonly t: 'unload'; readonly id: number }
  | {
      readonly t: 'decide';
      readonly n: number;
      readonly id: number;
      readonly path: string;
      readonly input: string | undefined;
    };

/** A failure as data: a WardenError's code, message and details, or another error's name and message. */
export interface WireError {
  readonly code?: string;
  readonly name: string;
  readonly message: string;
  readonly details?: Record<string, unknown>;
}

/** Worker → primary. */
export type FromWorker =
  | { readonly t: 'loaded'; readonly id: number; readonly entrypoints: readonly string[]; readonly goldenRun: number }
  | { readonly t: 'load-failed'; readonly id: number; readonly error: WireError }
  | { readonly t: 'decided'; readonly n: number; readonly result: string | undefined; readonly ns: number }
  | { readonly t: 'failed'; readonly n: number; readonly error: WireError };
