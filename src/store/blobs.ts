/**
 * Content-addressed pack files in `packs/<name>/blobs/`: `<hex>.tar.gz` and,
 * for signed packs, `<hex>.sigstore.json` (hex of the sha256 digest). The
 * signature is written before the pack and deleted after it, so a present
 * `.tar.gz` always has its complete signature beside it (if it has one).
 */
import { readFile, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { WardenError } from '../errors.js';
import { TEMP_PREFIX, writeFileAtomic } from '../util/atomic-write.js';
import { isSha256Digest, sha256Digest } from '../verify/digest.js';

const PACK_SUFFIX = '.tar.gz';
const SIG_SUFFIX = '.sigstore.json';
const BLOB_NAME = /^([0-9a-f]{64})\.(tar\.gz|sigstore\.json)$/;

/** Paths of a digest's pack and signature files in a blobs folder. */
export function blobPaths(dir: string, digest: string): { pack: string; signature: string } {
  if (!isSha256Digest(digest)) throw new WardenError('USAGE', `not a sha256 digest: ${digest}`);
  const hex = digest.slice('sha256:'.length);
  return { pack: join(dir, hex + PACK_SUFFIX), signature: join(dir, hex + SIG_SUFFIX) };
}

/**
 * Writes a digest's files atomically, skipping any already present with the same
 * bytes. Returns true if the pack file was newly written (so a failed commit may remove it).
 */
export async function writeBlob(
  dir: string,
  digest: string,
  pack: Buffer,
  signature: Buffer | undefined,
): Promise<boolean> {
  const paths = blobPaths(dir, digest);
  if (signature !== undefined) await writeIfChanged(paths.signature, signature);
  return writeIfChanged(paths.pack, pack);
}

/** Reads a digest's files; bytes that do not hash to the digest, or a missing pack, are STORE_CORRUPT. */
export async function readBlob(dir: string, digest: string): Promise<{ pack: Buffer; signature: Buffer | undefined }> {
  const paths = blobPaths(dir, digest);
  const pack = await readOptional(paths.pack);
  if (pack === undefined)
    throw new WardenError('STORE_CORRUPT', `stored pack ${digest} is missing (${paths.pack})`, {
      details: { digest, path: paths.pack },
    });
  const actual = sha256Digest(pack);
  if (actual !== digest) {
    throw new WardenError('STORE_CORRUPT', `stored pack ${paths.pack} hashes to ${actual}, not ${digest}`, {
      details: { digest, actual, path: paths.pack },
    });
  }
  return { pack, signature: await readOptional(paths.signature) };
}

/** Deletes a digest's files (pack first, see the file comment); missing files are fine. */
export async function deleteBlob(dir: string, digest: string): Promise<void> {
  const paths = blobPaths(dir, digest);
  await rm(paths.pack, { force: true });
  await rm(paths.signature, { force: true });
}

/** Digests that have a pack file in the folder, with the file's mtime. */
export async function listBlobs(dir: string): Promise<{ digest: string; mtime: Date }[]> {
  const out: { digest: string; mtime: Date }[] = [];
  for (const name of await listNames(dir)) {
    const m = BLOB_NAME.exec(name);
    if (m?.[2] !== 'tar.gz') continue;
    const st = await stat(join(dir, name)).catch(() => undefined);
    if (st?.isFile() === true) out.push({ digest: `sha256:${m[1] ?? ''}`, mtime: st.mtime });
  }
  return out;
}

/** Removes blob files (pack or signature) whose digest is not in `keep`; other names are left alone. */
export async function removeOrphans(dir: string, keep: ReadonlySet<string>): Promise<string[]> {
  const removed: string[] = [];
  for (const name of await listNames(dir)) {
    const m = BLOB_NAME.exec(name);
    if (m === null || keep.has(`sha256:${m[1] ?? ''}`)) continue;
    await rm(join(dir, name), { force: true });
    removed.push(name);
  }
  return removed;
}

/** Removes temp files (`TEMP_PREFIX*`) left by a crash mid-write; returns their names. */
export async function removeTempFiles(dir: string): Promise<string[]> {
  const stale = (await listNames(dir)).filter((n) => n.startsWith(TEMP_PREFIX));
  for (const name of stale) await rm(join(dir, name), { force: true, recursive: true });
  return stale;
}

/** File names in a folder; a missing folder has none. */
export async function listNames(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

// Atomically writes `path` unless it already holds exactly `bytes`; true if written.
async function writeIfChanged(path: string, bytes: Buffer): Promise<boolean> {
  const current = await readOptional(path);
  if (current?.equals(bytes) === true) return false;
  await writeFileAtomic(path, bytes);
  return true;
}

// Reads a file, or undefined when it does not exist.
async function readOptional(path: string): Promise<Buffer | undefined> {
  try {
    return await readFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}
