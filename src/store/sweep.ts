/**
 * The start-up sweep: what a crash can leave behind, removed before the store
 * is used. Runs only while holding the lock, so no live writer's files go.
 */
import { join } from 'node:path';
import { isWardenError } from '../errors.js';
import { listNames, removeOrphans, removeTempFiles } from './blobs.js';
import { EMPTY_STATE, readStateFile } from './state-file.js';

/** What open() cleaned up, for the caller to log. */
export interface OpenReport {
  /** Temp files left by a crash mid-write (paths). */
  readonly tempFiles: readonly string[];
  /** Blob files no state.json referenced (a crash between blob and state write, or before a deletion). */
  readonly orphans: readonly string[];
  /** Packs whose state.json did not parse; their blobs were kept for recover(). */
  readonly corrupt: readonly string[];
}

/** Removes temp files in every store folder, and blobs that a readable state.json does not reference. */
export async function sweepStore(dataDir: string, isPackName: (name: string) => boolean): Promise<OpenReport> {
  const packs = join(dataDir, 'packs');
  const tempFiles: string[] = [];
  const orphans: string[] = [];
  const corrupt: string[] = [];
  const names = (await listNames(packs)).filter(isPackName);
  const folders = [dataDir, packs, ...names.flatMap((n) => [join(packs, n), join(packs, n, 'blobs')])];
  for (const dir of folders) tempFiles.push(...(await removeTempFiles(dir)).map((n) => join(dir, n)));
  for (const name of names) {
    const blobs = join(packs, name, 'blobs');
    const state = await readStateFile(join(packs, name, 'state.json')).catch((err: unknown) => {
      if (isWardenError(err, 'STORE_CORRUPT')) return undefined;
      throw err;
    });
    if (state === undefined) corrupt.push(name);
    // No state.json at all: nothing was committed yet; blobs stay for recover().
    else if (state !== EMPTY_STATE) {
      const removed = await removeOrphans(blobs, new Set(state.versions.map((v) => v.digest)));
      orphans.push(...removed.map((n) => join(blobs, n)));
    }
  }
  return { tempFiles, orphans, corrupt };
}
