/**
 * The shipper's reading side: the decision-log files as they are on disk, the
 * complete lines at a position of one of them, and an upload body made of them
 * (OPA's decision-log upload: a gzip of a JSON array of events). Nothing here
 * holds a file open between calls; reads run on libuv's thread pool, gzip too.
 *
 * A line is complete when its `\n` is on disk. In the newest file (the writer
 * may be appending) bytes after the last `\n` are left for later; in an older
 * file (the writer has moved on: it never appends to a file it rotated away
 * from, and each process starts a new one) they are a line torn by a crash,
 * skipped and counted. A line that is not a JSON object's text (`{…}`) is
 * skipped the same way, so one bad line never makes a collector refuse a batch.
 */
import { open, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzip as gzipCb } from 'node:zlib';
import { LOG_FILE_NAME } from './decision-log-files.js';

const gzip = promisify(gzipCb);
const NL = 0x0a;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;

/** One decision-log file and its size when listed. */
export interface LogFile {
  readonly name: string;
  readonly size: number;
}

/** The folder's decision-log files, oldest first (names sort by time); none if the folder does not exist yet. */
export async function listLogFiles(dir: string): Promise<LogFile[]> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => LOG_FILE_NAME.test(n)).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const files: LogFile[] = [];
  for (const name of names) {
    try {
      files.push({ name, size: (await stat(join(dir, name))).size });
    } catch (err) {
      // Removed by the writer's retention between readdir and stat.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  return files;
}

/** What a read at a position found. */
export type Chunk =
  /** Complete lines, `start` to `end` (each without its `\n`). */
  | { readonly kind: 'lines'; readonly lines: Buffer[]; readonly end: number }
  /** Bytes up to `end` to skip: a torn or malformed line. */
  | { readonly kind: 'torn'; readonly end: number }
  /** No complete line yet. */
  | { readonly kind: 'none' };

/**
 * The complete lines of `path` from byte `start` (a line start), at most
 * `maxEvents` of them in about `windowBytes` (more if one line is longer);
 * `size` is the file's size as listed and `final` whether the writer is done
 * with the file (it is not the newest).
 */
export async function readLines(
  path: string,
  start: number,
  size: number,
  final: boolean,
  windowBytes: number,
  maxEvents: number,
): Promise<Chunk> {
  if (start >= size) return { kind: 'none' };
  const fh = await open(path, 'r');
  try {
    let window = Math.min(size - start, Math.max(1, windowBytes));
    for (;;) {
      const buf = Buffer.allocUnsafe(window);
      const { bytesRead } = await fh.read(buf, 0, window, start);
      const data = buf.subarray(0, bytesRead);
      const lastNl = data.lastIndexOf(NL);
      if (lastNl < 0) {
        if (start + bytesRead < size && bytesRead === window) {
          window = Math.min(size - start, window * 2); // one line longer than the window
          continue;
        }
        return final ? { kind: 'torn', end: start + bytesRead } : { kind: 'none' };
      }
      return split(data.subarray(0, lastNl + 1), start, maxEvents);
    }
  } finally {
    await fh.close();
  }
}

// The lines of `data` (ending with `\n`) read at `start`: up to maxEvents well-formed ones, or the first if it is malformed.
function split(data: Buffer, start: number, maxEvents: number): Chunk {
  const lines: Buffer[] = [];
  let at = 0;
  while (at < data.length && lines.length < maxEvents) {
    const nl = data.indexOf(NL, at);
    const line = data.subarray(at, nl);
    if (!wellFormed(line)) {
      if (lines.length > 0) break;
      return { kind: 'torn', end: start + nl + 1 };
    }
    lines.push(line);
    at = nl + 1;
  }
  return { kind: 'lines', lines, end: start + at };
}

// A JSON object's text, as the writer makes them (a crash can leave zeros or a prefix instead).
function wellFormed(line: Buffer): boolean {
  return line.length >= 2 && line[0] === OPEN_BRACE && line[line.length - 1] === CLOSE_BRACE;
}

/** An upload body: the gzip of the JSON array of the first `count` lines. */
export interface Body {
  readonly gzipped: Buffer;
  readonly count: number;
  /** Bytes of those lines on disk, their `\n` included. */
  readonly diskBytes: number;
  /** The array's size before gzip. */
  readonly rawBytes: number;
}

/**
 * The body of as many of `lines` (from the first) as fit in `maxBytes` once
 * gzipped; count 0 when the first line alone does not.
 */
export async function gzipBatch(lines: readonly Buffer[], maxBytes: number): Promise<Body> {
  let n = lines.length;
  for (;;) {
    const parts: Buffer[] = [Buffer.from('[')];
    let diskBytes = 0;
    for (let i = 0; i < n; i++) {
      if (i > 0) parts.push(Buffer.from(','));
      const line = lines[i] as Buffer;
      parts.push(line);
      diskBytes += line.length + 1;
    }
    parts.push(Buffer.from(']'));
    const raw = Buffer.concat(parts);
    const gzipped = await gzip(raw);
    if (gzipped.length <= maxBytes) return { gzipped, count: n, diskBytes, rawBytes: raw.length };
    if (n <= 1) return { gzipped: Buffer.alloc(0), count: 0, diskBytes: (lines[0]?.length ?? 0) + 1, rawBytes: 0 };
    n = Math.max(1, Math.min(n - 1, Math.floor((n * maxBytes * 0.9) / gzipped.length)));
  }
}
