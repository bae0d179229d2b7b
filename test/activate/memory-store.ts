/**
 * An in-memory ActivationStore for the Activator's unit tests: the store's own
 * pure transitions (history.ts) over a Map of blobs, so state moves exactly as
 * on disk without a data_dir. `tamper` swaps a stored version's signature for
 * one by another key, so that version no longer verifies.
 */
import type { ActivationStore } from '../../src/activate/activator.js';
import { WardenError } from '../../src/errors.js';
import {
  applyActivate,
  applyCommit,
  applyPin,
  applyRollback,
  applyShadow,
  type ManualAction,
} from '../../src/store/history.js';
import { EMPTY_STATE } from '../../src/store/state-file.js';
import type { CommitInput, PackState, Pin, ShadowRecord, StoredPack } from '../../src/store/types.js';

const HISTORY_LIMIT = 10;

/** One pack's state and blobs, held in memory. */
export class MemoryStore implements ActivationStore {
  #state: PackState = EMPTY_STATE;
  readonly #blobs = new Map<string, { pack: Buffer; signature: Buffer | undefined }>();

  /** The state as it stands (synchronously, for assertions). */
  get snapshot(): PackState {
    return this.#state;
  }

  /** Replaces a stored version's signature, so it no longer verifies. */
  tamper(digest: string, signature: Buffer): void {
    const blob = this.#blobs.get(digest);
    if (!blob) throw new Error(`no blob ${digest}`);
    this.#blobs.set(digest, { ...blob, signature });
  }

  state(_pack: string): Promise<PackState> {
    return Promise.resolve(this.#state);
  }

  recover(_pack: string): Promise<PackState> {
    return Promise.resolve(this.#state);
  }

  load(pack: string, digest: string): Promise<StoredPack> {
    const version = this.#state.versions.find((v) => v.digest === digest);
    const blob = this.#blobs.get(digest);
    if (!version || !blob)
      return Promise.reject(new WardenError('USAGE', `pack "${pack}" has no stored version ${digest}`));
    return Promise.resolve({ version, pack: blob.pack, signature: blob.signature });
  }

  commit(_pack: string, stored: CommitInput, activate: boolean): Promise<PackState> {
    this.#blobs.set(stored.version.digest, { pack: stored.pack, signature: stored.signature });
    return this.#apply(
      applyCommit(this.#state, stored.version, activate, new Date().toISOString(), HISTORY_LIMIT).state,
    );
  }

  markActive(_pack: string, digest: string): Promise<PackState> {
    return this.#apply(applyActivate(this.#state, digest, new Date().toISOString(), HISTORY_LIMIT).state);
  }

  rollback(_pack: string, digest: string, manual: ManualAction): Promise<PackState> {
    return this.#apply(applyRollback(this.#state, digest, new Date().toISOString(), HISTORY_LIMIT, manual).state);
  }

  recordShadow(_pack: string, digest: string, shadow: ShadowRecord): Promise<PackState> {
    return this.#apply(applyShadow(this.#state, digest, shadow));
  }

  setPin(_pack: string, pin: Pin | undefined): Promise<PackState> {
    return this.#apply(applyPin(this.#state, pin));
  }

  #apply(state: PackState): Promise<PackState> {
    this.#state = state;
    return Promise.resolve(state);
  }
}
