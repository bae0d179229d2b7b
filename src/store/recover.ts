/**
 * Rebuilding a pack's state from the blobs on disk, for when state.json is
 * unreadable or names a missing blob: every blob that hashes to its name and
 * that the inspector accepts becomes a version, newest sequence first; the
 * newest is active and the next one last-known-good.
 */
import { toWardenError, WardenError } from '../errors.js';
import { MANIFEST_PATH, parseManifest } from '../pack/manifest.js';
import type { LimitSettings } from '../pack/limits.js';
import { readPack } from '../pack/reader.js';
import { listBlobs, readBlob } from './blobs.js';
import type { BlobInspector, PackState, RecoveryResult, StoredVersion } from './types.js';

/** Signer recorded for a recovered version: the store cannot know it; the activator verifies before loading. */
export const RECOVERED_SIGNER = 'unknown (recovered from store)';
/** Origin recorded for a recovered version. */
export const RECOVERED_ORIGIN = 'store';

/**
 * The default inspector: the pack's own signed marker, read with the safe pack
 * reader with `limits`. It does not check the signature (no trust here); whoever loads a
 * recovered version verifies it, as it does every stored one.
 */
export function markerInspector(pack: string, limits: LimitSettings = {}): BlobInspector {
  return async ({ pack: bytes }) => {
    const read = await readPack(bytes, limits.limits, limits.limitKeys ? { limitKeys: limits.limitKeys } : {});
    const manifest = parseManifest(read.get(MANIFEST_PATH));
    const marker = manifest.metadata.warden;
    if (marker.pack !== pack)
      throw new WardenError('PACK_NAME_MISMATCH', `stored pack names "${marker.pack}", not "${pack}"`);
    return {
      revision: manifest.revision,
      sequence: marker.sequence,
      signer: RECOVERED_SIGNER,
      origin: RECOVERED_ORIGIN,
    };
  };
}

/** Versions rebuilt from a blobs folder (active = newest sequence, lkg = the next), and what was skipped. */
export async function rebuildFromBlobs(dir: string, inspect: BlobInspector): Promise<RecoveryResult> {
  const found: { version: StoredVersion; mtime: number }[] = [];
  const skipped: { digest: string; error: WardenError }[] = [];
  for (const { digest, mtime } of await listBlobs(dir)) {
    try {
      const blob = await readBlob(dir, digest);
      const seen = await inspect({ digest, pack: blob.pack, signature: blob.signature });
      const version: StoredVersion = {
        digest,
        revision: seen.revision,
        sequence: seen.sequence,
        signer: seen.signer,
        origin: seen.origin,
        storedAt: mtime.toISOString(),
        number: 0, // numbered below, oldest first
      };
      found.push({ version, mtime: mtime.getTime() });
    } catch (err) {
      skipped.push({ digest, error: toWardenError(err) });
    }
  }
  // Newest sequence first; equal sequences by newest file, then digest, so the order is stable.
  found.sort(
    (a, b) =>
      b.version.sequence - a.version.sequence || b.mtime - a.mtime || a.version.digest.localeCompare(b.version.digest),
  );
  const versions = found.map((f, i) => ({ ...f.version, number: found.length - i }));
  const state: PackState = {
    active: versions[0]?.digest,
    lastKnownGood: versions[1]?.digest,
    versions,
    pinned: undefined,
    rollbacks: [],
    nextNumber: versions.length + 1,
  };
  return { ...state, skipped };
}
