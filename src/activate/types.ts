/**
 * What the activate stage exposes and takes: the narrow store view, the active
 * pack every decision reads, and the activator's options. Apart from the
 * Activator so that readers of `ActivePack` (router, decider, governance)
 * depend on a shape, not on the class that owns the state.
 */
import type { Engine } from '../engine/engine.js';
import type { NewEvent } from '../notify/events.js';
import type { Logger } from '../observe/logger.js';
import type { WardenMetrics } from '../observe/metrics.js';
import type { LimitKeys, PackLimits } from '../pack/limits.js';
import type { SourceKind } from '../source/types.js';
import type { ManualAction } from '../store/history.js';
import type { CommitInput, PackState, Pin, ShadowRecord, StoredPack } from '../store/types.js';
import type { SignerIdentity } from '../verify/verify.js';
import type { Candidate, EngineLoader, PackTrust } from './prepare.js';
import type { ShadowStarter } from './shadow.js';

/** The narrow view of the store the activator needs. */
export interface ActivationStore {
  state(pack: string): Promise<PackState>;
  recover(pack: string): Promise<PackState>;
  load(pack: string, digest: string): Promise<StoredPack>;
  commit(pack: string, stored: CommitInput, activate: boolean): Promise<PackState>;
  markActive(pack: string, digest: string): Promise<PackState>;
  rollback(pack: string, digest: string, manual: ManualAction): Promise<PackState>;
  setPin(pack: string, pin: Pin | undefined): Promise<PackState>;
  recordShadow(pack: string, digest: string, shadow: ShadowRecord): Promise<PackState>;
}

/** The pack that answers decisions right now. Immutable; replaced whole. */
export interface ActivePack {
  readonly name: string;
  readonly digest: string;
  readonly number: number | undefined;
  readonly revision: string;
  readonly sequence: number;
  readonly entrypoints: readonly string[];
  /** The manifest's roots (`authz`, `a/b`; `` owns every path): which data paths the pack answers. */
  readonly roots: readonly string[];
  readonly engine: Engine;
  readonly signer: SignerIdentity | undefined;
  readonly origin: string;
  readonly activatedAt: Date;
}

/** Everything the activator needs. */
export interface ActivatorOptions {
  readonly name: string;
  readonly sourceKind: SourceKind;
  readonly origin: string;
  readonly trust: PackTrust;
  readonly store: ActivationStore;
  readonly limits: Partial<PackLimits>;
  /** Where `limits` were set, named by refusals (the agent: its `limits.*` keys; default: the PackLimits names). */
  readonly limitKeys?: LimitKeys;
  readonly metrics: WardenMetrics;
  readonly log: Logger;
  /** Called after every swap (routing tables, cache flushes). */
  readonly onActivated?: (active: ActivePack) => void;
  /** Receives every event (the agent numbers, logs and fans them out). */
  readonly emit?: (event: NewEvent) => void;
  /**
   * A last check of a loaded candidate before it may become active (governance
   * checks its entrypoints answer in the right shape); throws a coded error to refuse it.
   */
  readonly accept?: (candidate: Candidate) => void;
  /** Builds candidates' engines; default: on this thread. The agent passes the decision workers' loader. */
  readonly engines?: EngineLoader;
  /**
   * rollout mode shadow: a new verified version becomes the pack's shadow (started
   * here) instead of active, and is promoted or refused on its gate's verdict.
   */
  readonly rollout?: { readonly start: ShadowStarter } | undefined;
  /** Computes a pack's digest; default SHA-256. A seam for fault-injection tests. */
  readonly digest?: (pack: Buffer) => string;
}
