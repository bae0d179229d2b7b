/**
 * The lines of decision logs, streamed: folders (every log file in it, oldest
 * first: Warden's `decisions-<time>.ndjson` names sort by time, rotated and
 * gzipped ones included), plain files, `.gz` files (inflated as a stream) and
 * `-` (standard input). At most one chunk and one line of at most
 * `maxLineBytes` are held at a time; a longer line is not kept but reported as
 * over-long, and reading goes on after its line break.
 */
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { WardenError, messageOf } from '../errors.js';

/** A line too long to keep (its bytes were skipped). */
export const OVERLONG = Symbol('overlong');

/** The log files of a folder: `.ndjson`, `.jsonl`, `.json`, `.log`, each optionally `.gz`. */
const LOG_FILE = /\.(ndjson|jsonl|json|log)(\.gz)?$/;

/** Expands the --decisions arguments into files, in order: a folder's log files sorted by name. */
export async function decisionFiles(args: readonly string[]): Promise<string[]> {
  const files: string[] = [];
  for (const arg of args) {
    if (arg === '-') {
      files.push(arg);
      continue;
    }
    let isDir: boolean;
    try {
      isDir = (await stat(arg)).isDirectory();
    } catch (err) {
      throw new WardenError('IO_FAILED', `cannot read ${arg}: ${messageOf(err)}`, { cause: err });
    }
    if (!isDir) {
      files.push(arg);
      continue;
    }
    const names = (await readdir(arg, { withFileTypes: true }))
      .filter((e) => e.isFile() && LOG_FILE.test(e.name))
      .map((e) => e.name)
      .sort();
    files.push(...names.map((n) => join(arg, n)));
  }
  return files;
}

/** The bytes of one file (inflated when it ends in `.gz`); `-` is standard input. */
export function openLog(file: string): Readable {
  const raw = file === '-' ? process.stdin : createReadStream(file);
  if (!file.endsWith('.gz')) return raw;
  const gunzip = createGunzip();
  raw.on('error', (err: Error) => gunzip.destroy(err));
  return raw.pipe(gunzip);
}

/** The lines of `source` (no line break; a `\r` before it dropped), or OVERLONG for a line past maxLineBytes. */
export async function* linesOf(
  source: AsyncIterable<Buffer>,
  maxLineBytes: number,
): AsyncGenerator<string | typeof OVERLONG> {
  let parts: Buffer[] = [];
  let held = 0;
  let overlong = false;
  const finish = (tail: Buffer): string | typeof OVERLONG | undefined => {
    const long = overlong || held + tail.length > maxLineBytes;
    const line = long ? OVERLONG : text(parts.length === 0 ? tail : Buffer.concat([...parts, tail]));
    parts = [];
    held = 0;
    overlong = false;
    return line === '' ? undefined : line;
  };
  for await (const chunk of source) {
    let start = 0;
    for (let nl = chunk.indexOf(0x0a, start); nl >= 0; nl = chunk.indexOf(0x0a, start)) {
      const line = finish(chunk.subarray(start, nl));
      if (line !== undefined) yield line;
      start = nl + 1;
    }
    const rest = chunk.subarray(start);
    if (rest.length === 0 || overlong) continue;
    if (held + rest.length > maxLineBytes) {
      overlong = true;
      parts = [];
      held = 0;
    } else {
      // A copy: the stream may reuse its chunk.
      parts.push(Buffer.from(rest));
      held += rest.length;
    }
  }
  if (held > 0 || overlong) {
    const line = finish(Buffer.alloc(0));
    if (line !== undefined) yield line;
  }
}

function text(bytes: Buffer): string {
  const end = bytes.length > 0 && bytes[bytes.length - 1] === 0x0d ? bytes.length - 1 : bytes.length;
  return bytes.toString('utf8', 0, end).trim();
}
