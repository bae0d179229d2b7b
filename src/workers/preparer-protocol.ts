/**
 * The messages between the agent's thread and its engine preparer thread
 * (preparer.ts, preparer-thread.ts). The pack's files (or its bytes) are moved or copied over; the
 * prepared engine comes back as its compiled module and its shared memory,
 * which structured clone shares (neither is copied).
 */
import type { EngineHandover } from '../engine/wasm.js';
import type { LimitKeys, PackLimits } from '../pack/limits.js';
import type { PackManifest } from '../pack/manifest.js';
import type { WireError } from './protocol.js';

/** Agent → preparer: load this pack's engine, from its read files or (`prepare-pack`) its verified bytes. */
export type PrepareRequest =
  | {
      readonly t: 'prepare';
      readonly id: number;
      readonly files: ReadonlyMap<string, Uint8Array>;
      readonly manifest: PackManifest;
    }
  | {
      readonly t: 'prepare-pack';
      readonly id: number;
      /** The verified pack: decompressed and read on the preparer thread too. */
      readonly pack: Uint8Array;
      readonly limits: Partial<PackLimits>;
      readonly limitKeys: LimitKeys;
    };

/** Preparer → agent. */
export type PrepareReply =
  | {
      readonly t: 'prepared';
      readonly id: number;
      readonly handover: EngineHandover;
      readonly goldenRun: number;
    }
  | { readonly t: 'prepare-failed'; readonly id: number; readonly error: WireError };
