/**
 * The shipper's cursor: how far the collector has acknowledged the decision
 * log, as a file name and a byte offset in it. Everything in files that sort
 * before `file`, and the bytes of `file` before `offset`, are acknowledged (or
 * given up and counted). It lives beside the log files, as `ship-cursor.json`
 * (the writer's retention touches only `decisions-*.ndjson`), and is replaced
 * crash-safely (temp file, fsync, rename, fsync of the folder: atomic-write.ts),
 * only after the collector answered 2xx: a crash re-sends at most the batch in
 * flight.
 */
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { TEMP_PREFIX, writeFileAtomic } from '../util/atomic-write.js';
import { LOG_FILE_NAME } from './decision-log-files.js';

/** The cursor's file name, in the decision-log folder. */
export const CURSOR_FILE = 'ship-cursor.json';

/** Acknowledged up to `offset` bytes of `file`. */
export interface ShipCursor {
  readonly file: string;
  readonly offset: number;
}

/**
 * The stored cursor; undefined when there is none (ship from the oldest file)
 * or it is unreadable (`damaged` says why: the caller logs it and starts over).
 */
export async function readCursor(dir: string): Promise<{ cursor?: ShipCursor; damaged?: string }> {
  let text: string;
  try {
    text = await readFile(join(dir, CURSOR_FILE), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw err;
  }
  try {
    const v = JSON.parse(text) as { file?: unknown; offset?: unknown };
    if (typeof v.file === 'string' && LOG_FILE_NAME.test(v.file) && Number.isSafeInteger(v.offset))
      return { cursor: { file: v.file, offset: Math.max(0, v.offset as number) } };
    return { damaged: 'not a {file, offset} cursor' };
  } catch (err) {
    return { damaged: err instanceof Error ? err.message : String(err) };
  }
}

/** Replaces the stored cursor crash-safely. */
export async function writeCursor(dir: string, cursor: ShipCursor): Promise<void> {
  await writeFileAtomic(join(dir, CURSOR_FILE), `${JSON.stringify({ file: cursor.file, offset: cursor.offset })}\n`);
}

/** Removes temp files a crash left behind while the cursor was being replaced. */
export async function sweepCursorTemps(dir: string): Promise<void> {
  const prefix = `${TEMP_PREFIX}${CURSOR_FILE}.`;
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return;
  }
  await Promise.all(names.filter((n) => n.startsWith(prefix)).map((n) => rm(join(dir, n), { force: true })));
}
