/**
 * Crash-safe file replacement: write a temp file in the same folder, fsync it,
 * rename it over the target, fsync the folder. A reader sees the old file or the
 * new one, never a torn one, whatever instant the process dies.
 */
import { randomBytes } from 'node:crypto';
import { open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** Prefix of temp files, so a start-up sweep can find and remove stale ones. */
export const TEMP_PREFIX = '.warden-tmp-';

/** Atomically replaces `path` with `data` (mode defaults to 0644). */
export async function writeFileAtomic(path: string, data: Uint8Array | string, mode = 0o644): Promise<void> {
  const dir = dirname(path);
  const tmp = join(dir, `${TEMP_PREFIX}${basename(path)}.${randomBytes(6).toString('hex')}`);
  const fh = await open(tmp, 'wx', mode);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } catch (err) {
    await fh.close();
    await rm(tmp, { force: true });
    throw err;
  }
  await fh.close();
  try {
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  await fsyncDir(dir);
}

/** Flushes a folder's entries (a rename is durable only after this). */
export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
