/**
 * The pack server's view of its folder: which files it serves, their bytes and
 * their digests. Only regular files directly in DIR whose names end in
 * `.tar.gz` or `.tar.gz.sigstore.json` (and match `[A-Za-z0-9._-]+`) are held,
 * so a temp file being written (`x.tar.gz.tmp`, `.warden-tmp-…`) is never served.
 *
 * Changes are seen through `fs.watch` and, because watch events can be missed
 * (network filesystems, overflowing queues, editors), a periodic rescan. A scan
 * only stats; a file is read and hashed again only when its inode, size, mtime
 * or ctime changed. Each version is read once into memory, so a response always
 * carries the bytes its ETag names even if the file is replaced meanwhile.
 */
import { watch, type FSWatcher } from 'node:fs';
import { open, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { WardenError, messageOf } from '../errors.js';
import { DEFAULT_PACK_LIMITS } from '../pack/limits.js';
import { sha256Digest } from '../verify/digest.js';

/** One version of one served file. */
export interface ServedFile {
  /** File name inside DIR. */
  readonly name: string;
  readonly bytes: Buffer;
  /** `sha256:<hex>` of bytes. */
  readonly digest: string;
  /** The quoted digest, as sent in `ETag`. */
  readonly etag: string;
}

/** The server's log callback (a pino `info` fits). */
export type LogFn = (obj: object, msg: string) => void;

/** Called with the new version of a file, or undefined when it went away. */
export type ChangeListener = (name: string, file: ServedFile | undefined) => void;

/** Files over this size are logged and not served (memory is bounded): the agent's default limit, `--max-pack-bytes`. */
export const MAX_SERVED_BYTES = DEFAULT_PACK_LIMITS.maxCompressedBytes;

const SERVED_NAME = /^[A-Za-z0-9._-]+\.tar\.gz(\.sigstore\.json)?$/;

interface Cached extends ServedFile {
  // inode:size:mtime:ctime of the version held, to skip unchanged files cheaply.
  readonly stamp: string;
}

export interface PackIndexOptions {
  readonly dir: string;
  readonly rescanMs?: number;
  readonly maxBytes?: number;
  readonly log?: LogFn;
  /** Use fs.watch besides the rescan (default true; tests turn it off to exercise the rescan alone). */
  readonly watch?: boolean;
}

/** The served files of one folder, kept current by watch + rescan. */
export class PackIndex {
  readonly #dir: string;
  readonly #maxBytes: number;
  readonly #log: LogFn;
  readonly #files = new Map<string, Cached>();
  readonly #skipped = new Map<string, string>();
  readonly #listeners = new Set<ChangeListener>();
  #watcher: FSWatcher | undefined;
  #timer: NodeJS.Timeout | undefined;
  #scanning: Promise<void> | undefined;
  #again = false;
  #closed = false;
  #lastScanError = '';
  /** Changes found by the scan running now, applied at its end (undefined: no scan running). */
  #changes: Array<[string, Cached | undefined]> | undefined;

  private constructor(options: PackIndexOptions) {
    this.#dir = options.dir;
    this.#maxBytes = options.maxBytes ?? MAX_SERVED_BYTES;
    this.#log = options.log ?? (() => undefined);
  }

  /** Scans DIR once (IO_FAILED if it cannot be read), then keeps watching it. */
  static async open(options: PackIndexOptions): Promise<PackIndex> {
    const index = new PackIndex(options);
    try {
      await index.#scanOnce();
    } catch (err) {
      throw new WardenError('IO_FAILED', `cannot read pack folder ${options.dir}: ${messageOf(err)}`, { cause: err });
    }
    index.#startWatching(options.rescanMs ?? 1000, options.watch ?? true);
    return index;
  }

  /** The current version of a file in DIR, if it is served. */
  get(name: string): ServedFile | undefined {
    return this.#files.get(name);
  }

  /** Subscribes to changes of content (not mere touches); returns the unsubscribe function. */
  onChange(listener: ChangeListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Rescans now; concurrent calls share one scan and ask for one more after it. */
  rescan(): Promise<void> {
    this.#again = true;
    this.#scanning ??= this.#scanLoop().finally(() => {
      this.#scanning = undefined;
    });
    return this.#scanning;
  }

  /** Stops watching; the files held stay readable. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#watcher?.close();
    clearInterval(this.#timer);
    await this.#scanning;
  }

  // Watch for prompt updates, interval for the events watch misses.
  #startWatching(rescanMs: number, useWatch: boolean): void {
    try {
      this.#watcher = useWatch ? watch(this.#dir, { persistent: false }, () => void this.rescan()) : undefined;
      this.#watcher?.on('error', (err) =>
        this.#log(
          { code: 'IO_FAILED', dir: this.#dir, err: err.message },
          'pack folder watch failed; rescanning on the interval only',
        ),
      );
    } catch (err) {
      this.#log(
        { code: 'IO_FAILED', dir: this.#dir, err: messageOf(err) },
        'cannot watch pack folder; rescanning on the interval only',
      );
    }
    this.#timer = setInterval(() => void this.rescan(), rescanMs);
    this.#timer.unref();
  }

  // Runs scans until no one asked for another; logs a failing scan once per distinct error.
  async #scanLoop(): Promise<void> {
    while (this.#again && !this.#closed) {
      this.#again = false;
      try {
        await this.#scanOnce();
        this.#lastScanError = '';
      } catch (err) {
        const message = messageOf(err);
        if (message !== this.#lastScanError)
          this.#log(
            { code: 'IO_FAILED', dir: this.#dir, err: message },
            'pack folder scan failed; serving the files held',
          );
        this.#lastScanError = message;
      }
    }
  }

  // One pass: refresh every served name in DIR, drop the ones that are gone. Packs are read
  // before signatures and what changed is applied at the end, all at once: publishers write the
  // signature first, so a scan that sees a new pack also holds its new signature, and nobody
  // (a woken long poll included) is served the new pack beside the old signature.
  async #scanOnce(): Promise<void> {
    const isSignature = (n: string): number => (n.endsWith('.sigstore.json') ? 1 : 0);
    const names = new Set(
      (await readdir(this.#dir)).filter((n) => SERVED_NAME.test(n)).sort((a, b) => isSignature(a) - isSignature(b)),
    );
    const changes: Array<[string, Cached | undefined]> = [];
    this.#changes = changes;
    try {
      for (const name of names) await this.#refresh(name);
    } finally {
      this.#changes = undefined;
      for (const [name, next] of changes) this.#set(name, next);
    }
    for (const name of [...this.#files.keys()]) if (!names.has(name)) this.#set(name, undefined);
    for (const name of [...this.#skipped.keys()]) if (!names.has(name)) this.#skipped.delete(name);
  }

  // Stats one file and re-reads it only if its stamp changed; the read and its stamp come from one open handle.
  async #refresh(name: string): Promise<void> {
    const path = join(this.#dir, name);
    const held = this.#files.get(name);
    try {
      const st = await stat(path);
      if (!st.isFile()) return this.#set(name, undefined);
      if (stampOf(st) === held?.stamp || stampOf(st) === this.#skipped.get(name)) return;
      const fh = await open(path, 'r');
      try {
        const fst = await fh.stat();
        const stamp = stampOf(fst);
        if (fst.size > this.#maxBytes) return this.#skip(name, stamp, fst.size);
        const bytes = await fh.readFile();
        if (bytes.length > this.#maxBytes) return this.#skip(name, stamp, bytes.length);
        this.#skipped.delete(name);
        const digest = sha256Digest(bytes);
        this.#set(name, { name, bytes, digest, etag: `"${digest}"`, stamp });
      } finally {
        await fh.close();
      }
    } catch (err) {
      // Gone between readdir and open (a rename in flight): the next scan settles it.
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return this.#set(name, undefined);
      this.#log(
        { code: 'IO_FAILED', file: path, err: messageOf(err) },
        'cannot read served file; keeping the version held',
      );
    }
  }

  // Logs an oversized file once per version and stops serving it.
  #skip(name: string, stamp: string, size: number): void {
    this.#skipped.set(name, stamp);
    this.#set(name, undefined);
    this.#log(
      { code: 'PACK_TOO_LARGE', file: join(this.#dir, name), size, limit: this.#maxBytes, key: '--max-pack-bytes' },
      `file is ${size} bytes, over the limit (--max-pack-bytes ${this.#maxBytes}); not served`,
    );
  }

  // Stores a version (or removal) and tells listeners when the content really changed; during a
  // scan, kept for its end.
  #set(name: string, next: Cached | undefined): void {
    if (this.#changes) {
      this.#changes.push([name, next]);
      return;
    }
    const held = this.#files.get(name);
    if (next === undefined) {
      if (held === undefined) return;
      this.#files.delete(name);
    } else {
      this.#files.set(name, next);
      if (held?.digest === next.digest) return;
    }
    for (const listener of this.#listeners) listener(name, next);
  }
}

// What identifies one version of a file without reading it.
function stampOf(st: { ino: number; size: number; mtimeMs: number; ctimeMs: number }): string {
  return `${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
}
