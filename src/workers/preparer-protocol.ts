/**
 * The messages between the agent's thread and its engine preparer thread
 * (preparer.ts, preparer-thread.ts). The pack's files are copied over; the
 * prepared engine comes back as its compiled module and its shared memory,
 * which structured clone shares (neither is copied).
 */
import type { EngineHandover } from '../engine/wasm.js';
import type { PackManifest } from '../pack/manifest.js';
import type { WireError } from './protocol.js';

/** Agent → preparer: load this pack's engine. */
export interface PrepareRequest {
  readonly t: 'prepare';
  readonly id: number;
  readonly files: ReadonlyMap<string, Uint8Array>;
  readonly manifest: PackManifest;
}

/** Preparer → agent. */
export type PrepareReply =
  | {
      readonly t: 'prepared';
      readonly id: number;
      readonly handover: EngineHandover;
      readonly goldenRun: number;
    }
  | { readonly t: 'prepare-failed'; readonly id: number; readonly error: WireError };
