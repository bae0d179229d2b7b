/**
 * The decision log's files: `decisions-<timestamp>.ndjson` in one folder,
 * appended to until the next batch would pass `maxFileBytes`, then a new file;
 * only the newest `maxFiles` are kept. Each process starts a new file, so a
 * line torn by a crash stays at the end of an old one. Any failure drops the
 * open file: the next append creates the folder again if need be and starts a
 * new file (never appending after a possibly torn line).
 */
import { mkdir, open, readdir, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';

/** The name of a decision-log file (logFileName); nothing else in the folder matches it. */
export const LOG_FILE_NAME = /^decisions-\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z\.ndjson$/;

/** The file name for a log started at `ms` (sorts by time, safe on every file system). */
export function logFileName(ms: number): string {
  return `decisions-${new Date(ms).toISOString().replace(/[:.]/g, '-')}.ndjson`;
}

/** Size-rotated, count-bounded NDJSON files in one folder. */
export class RotatingFiles {
  #fh: FileHandle | undefined;
  #name = '';
  #size = 0;
  #lastStamp = 0;

  constructor(
    readonly dir: string,
    private readonly maxFileBytes: number,
    private readonly maxFiles: number,
  ) {}

  /** Appends `text` with one write (more only if the system writes it short); rotates and prunes first if needed. */
  async append(text: string): Promise<void> {
    const bytes = Buffer.from(text, 'utf8');
    try {
      if (this.#fh === undefined || (this.#size > 0 && this.#size + bytes.length > this.maxFileBytes))
        await this.#rotate();
      const fh = this.#fh as FileHandle;
      for (let done = 0; done < bytes.length;) {
        const { bytesWritten } = await fh.write(bytes, done, bytes.length - done, null);
        done += bytesWritten;
      }
      this.#size += bytes.length;
    } catch (err) {
      this.#discard();
      throw err;
    }
  }

  /** Flushes and closes the open file, if any. */
  async close(): Promise<void> {
    const fh = this.#fh;
    this.#fh = undefined;
    if (fh === undefined) return;
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  }

  // Closes the current file and opens a fresh one, then removes the oldest files past maxFiles.
  async #rotate(): Promise<void> {
    await this.close();
    await mkdir(this.dir, { recursive: true });
    for (let attempt = 0; ; attempt++) {
      // Strictly increasing stamps, so two rotations in one millisecond do not collide.
      this.#lastStamp = Math.max(Date.now(), this.#lastStamp + 1);
      try {
        const name = logFileName(this.#lastStamp);
        this.#fh = await open(join(this.dir, name), 'wx', 0o640);
        this.#name = name;
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt >= 100) throw err;
      }
    }
    this.#size = 0;
    await this.#prune();
  }

  // Removes the oldest log files until maxFiles remain, never the open one (a clock set back can make it sort first).
  async #prune(): Promise<void> {
    const names = (await readdir(this.dir)).filter((n) => LOG_FILE_NAME.test(n) && n !== this.#name).sort();
    names.push(this.#name);
    for (const name of names.slice(0, Math.max(0, names.length - this.maxFiles)))
      await rm(join(this.dir, name), { force: true });
  }

  // Forgets the open file after a failure; closing it is best effort.
  #discard(): void {
    const fh = this.#fh;
    this.#fh = undefined;
    this.#size = 0;
    fh?.close().catch(() => undefined);
  }
}
