/**
 * The store stage (docs/design.md#the-store-layout): verified packs on local disk, crash-safely.
 *
 *     data_dir/LOCK                                    the agent lock (lock.ts)
 *     data_dir/packs/<name>/blobs/<hex>.tar.gz         content-addressed pack bytes
 *     data_dir/packs/<name>/blobs/<hex>.sigstore.json  its signature, if signed
 *     data_dir/packs/<name>/state.json                 active, lastKnownGood, versions
 *
 * Invariant: at every instant state.json (old or new) names only complete
 * blobs, so a kill -9 anywhere leaves a loadable pack. Hence the order of every
 * write: blobs (temp → fsync → rename → fsync dir), then state.json (same), and
 * only then the deletion of evicted blobs. A crash between the steps leaves temp
 * files or unreferenced blobs, which the next open() removes.
 * Operations on one pack run one at a time, in call order (a per-pack chain).
 */
import { copyFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { WardenError, isWardenError, toWardenError } from '../errors.js';
import { isPackName, PACK_NAME_RULE } from '../pack/name.js';
import type { LimitSettings } from '../pack/limits.js';
import { fsyncDir } from '../util/atomic-write.js';
import { sha256Digest } from '../verify/digest.js';
import { deleteBlob, readBlob, writeBlob } from './blobs.js';
import {
  applyActivate,
  applyCommit,
  applyPin,
  applyRollback,
  applyShadow,
  bound,
  type ManualAction,
} from './history.js';
import { acquireLock, type StoreLock } from './lock.js';
import { markerInspector, rebuildFromBlobs } from './recover.js';
import { EMPTY_STATE, readStateFile, writeStateFile } from './state-file.js';
import { sweepStore, type OpenReport } from './sweep.js';
import type {
  BlobInspector,
  CommitInput,
  PackState,
  Pin,
  RecoveryResult,
  ShadowRecord,
  StoredPack,
  StoreOptions,
} from './types.js';

export type { OpenReport };

/** A data_dir opened by this process (it holds the lock until close()). */
export class PackStore {
  readonly #chains = new Map<string, Promise<unknown>>();
  readonly #madeDirs = new Set<string>();
  #closed = false;
  #report: OpenReport = { tempFiles: [], orphans: [], corrupt: [] };

  private constructor(
    readonly dataDir: string,
    private readonly historyLimit: number,
    private readonly lock: StoreLock,
    private readonly packLimits: LimitSettings = {},
  ) {}

  /**
   * Creates the folders, takes the lock (STORE_LOCKED if a live agent holds it),
   * then removes stale temp files and orphan blobs — after the lock, so a
   * running agent's writes are never swept.
   */
  static async open(dataDir: string, opts: StoreOptions): Promise<PackStore> {
    if (!Number.isInteger(opts.historyLimit) || opts.historyLimit < 1) {
      throw new WardenError('USAGE', `historyLimit must be a whole number ≥ 1, not ${opts.historyLimit}`);
    }
    await guard(() => mkdir(join(dataDir, 'packs'), { recursive: true }).then(() => fsyncDir(dataDir)));
    const lock = await acquireLock(dataDir);
    const store = new PackStore(dataDir, opts.historyLimit, lock, opts.packLimits);
    try {
      store.#report = await guard(() => sweepStore(dataDir, isPackName));
      return store;
    } catch (err) {
      await lock.release();
      throw err;
    }
  }

  /** What open() cleaned up. */
  get openReport(): OpenReport {
    return this.#report;
  }

  /** The pack's state; nothing stored → empty state; state.json unreadable → STORE_CORRUPT (then call recover()). */
  state(pack: string): Promise<PackState> {
    return this.#run(pack, () => readStateFile(this.#statePath(pack)));
  }

  /**
   * Rebuilds state.json from the blobs present (newest sequence active, the next
   * lkg), keeping a copy of an unparseable old file as `state.json.corrupt`.
   * `inspect` describes each blob; by default the pack's own marker is read.
   */
  recover(pack: string, inspect: BlobInspector = markerInspector(pack, this.packLimits)): Promise<RecoveryResult> {
    return this.#run(pack, async () => {
      const path = this.#statePath(pack);
      await readStateFile(path).catch(async (err: unknown) => {
        if (!isWardenError(err, 'STORE_CORRUPT')) throw err;
        await copyFile(path, `${path}.corrupt`);
        return EMPTY_STATE;
      });
      const rebuilt = await rebuildFromBlobs(this.#blobsDir(pack), inspect);
      await this.#ensureDirs(pack);
      const { skipped: _skipped, ...rebuiltState } = rebuilt;
      const { state, evicted } = bound(rebuiltState, this.historyLimit);
      await writeStateFile(path, state);
      await this.#evict(pack, evicted);
      return { ...state, skipped: rebuilt.skipped };
    });
  }

  /** A stored version's bytes; bytes that no longer hash to the digest, or a missing blob → STORE_CORRUPT. */
  load(pack: string, digest: string): Promise<StoredPack> {
    return this.#run(pack, async () => {
      const version = (await readStateFile(this.#statePath(pack))).versions.find((v) => v.digest === digest);
      if (version === undefined)
        throw new WardenError('USAGE', `pack "${pack}" has no stored version ${digest}`, { details: { pack, digest } });
      const blob = await readBlob(this.#blobsDir(pack), digest);
      return { version, pack: blob.pack, signature: blob.signature };
    });
  }

  /**
   * Stores a verified pack (blobs first, then state.json) and, with `activate`,
   * makes it active and the previous active the last-known-good. The same digest
   * twice stays one version. Evicted blobs are deleted after the state is written.
   */
  commit(pack: string, stored: CommitInput, activate: boolean): Promise<PackState> {
    return this.#run(pack, async () => {
      const { digest } = stored.version;
      const actual = sha256Digest(stored.pack);
      if (actual !== digest)
        throw new WardenError('DIGEST_MISMATCH', `commit of ${digest} with bytes that hash to ${actual}`, {
          details: { digest, actual },
        });
      const path = this.#statePath(pack);
      const prev = await readStateFile(path);
      await this.#ensureDirs(pack);
      const fresh = await writeBlob(this.#blobsDir(pack), digest, stored.pack, stored.signature);
      const { state, evicted } = applyCommit(
        prev,
        stored.version,
        activate,
        new Date().toISOString(),
        this.historyLimit,
      );
      try {
        await writeStateFile(path, state);
      } catch (err) {
        // The old state.json is intact; a blob only this commit wrote is garbage now.
        if (fresh && !prev.versions.some((v) => v.digest === digest))
          await deleteBlob(this.#blobsDir(pack), digest).catch(() => undefined);
        throw err;
      }
      await this.#evict(pack, evicted);
      return state;
    });
  }

  /** Makes an already-stored version active (operator rollback); the previous active becomes lkg. */
  markActive(pack: string, digest: string): Promise<PackState> {
    return this.#run(pack, async () => {
      const path = this.#statePath(pack);
      const prev = await readStateFile(path);
      if (!prev.versions.some((v) => v.digest === digest))
        throw new WardenError('USAGE', `pack "${pack}" has no stored version ${digest}`, { details: { pack, digest } });
      const { state, evicted } = applyActivate(prev, digest, new Date().toISOString(), this.historyLimit);
      await writeStateFile(path, state);
      await this.#evict(pack, evicted);
      return state;
    });
  }

  /**
   * An operator rollback in one state write: `digest` becomes active (the
   * previous active the lkg), the pack is pinned to it, and the rollback is
   * recorded with who and why.
   */
  rollback(pack: string, digest: string, manual: ManualAction): Promise<PackState> {
    return this.#run(pack, async () => {
      const path = this.#statePath(pack);
      const prev = await readStateFile(path);
      if (!prev.versions.some((v) => v.digest === digest))
        throw new WardenError('USAGE', `pack "${pack}" has no stored version ${digest}`, { details: { pack, digest } });
      const { state, evicted } = applyRollback(prev, digest, new Date().toISOString(), this.historyLimit, manual);
      await writeStateFile(path, state);
      await this.#evict(pack, evicted);
      return state;
    });
  }

  /** Records a version's shadow run in the history (started, or how it ended). */
  recordShadow(pack: string, digest: string, shadow: ShadowRecord): Promise<PackState> {
    return this.#run(pack, async () => {
      const path = this.#statePath(pack);
      const state = applyShadow(await readStateFile(path), digest, shadow);
      await writeStateFile(path, state);
      return state;
    });
  }

  /** Sets (or, with undefined, clears) the pack's pin. */
  setPin(pack: string, pin: Pin | undefined): Promise<PackState> {
    return this.#run(pack, async () => {
      const path = this.#statePath(pack);
      const state = applyPin(await readStateFile(path), pin);
      await this.#ensureDirs(pack);
      await writeStateFile(path, state);
      return state;
    });
  }

  /** Waits for operations in flight, then releases the lock. Later calls fail with USAGE. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all(this.#chains.values());
    await this.lock.release();
  }

  // Runs `work` after every earlier operation on the same pack; raw fs errors become IO_FAILED.
  #run<T>(pack: string, work: () => Promise<T>): Promise<T> {
    if (this.#closed) return Promise.reject(new WardenError('USAGE', `the store at ${this.dataDir} is closed`));
    if (!isPackName(pack))
      return Promise.reject(new WardenError('USAGE', `invalid pack name "${pack}" (${PACK_NAME_RULE})`));
    const next = (this.#chains.get(pack) ?? Promise.resolve()).then(() => guard(work));
    this.#chains.set(
      pack,
      next.catch(() => undefined),
    );
    return next;
  }

  // Creates the pack's folders once, making the new entries durable.
  async #ensureDirs(pack: string): Promise<void> {
    if (this.#madeDirs.has(pack)) return;
    const made = await mkdir(this.#blobsDir(pack), { recursive: true });
    if (made !== undefined) {
      await fsyncDir(join(this.dataDir, 'packs'));
      await fsyncDir(join(this.dataDir, 'packs', pack));
    }
    this.#madeDirs.add(pack);
  }

  // Deletes blobs the new state no longer names; a failure only leaves an orphan for the next open().
  async #evict(pack: string, digests: readonly string[]): Promise<void> {
    for (const d of digests) await deleteBlob(this.#blobsDir(pack), d).catch(() => undefined);
  }

  #statePath(pack: string): string {
    return join(this.dataDir, 'packs', pack, 'state.json');
  }

  #blobsDir(pack: string): string {
    return join(this.dataDir, 'packs', pack, 'blobs');
  }
}

// Runs fs work; anything but a WardenError becomes IO_FAILED with the system message.
async function guard<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    throw toWardenError(err, 'IO_FAILED');
  }
}
