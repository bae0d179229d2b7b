/**
 * The bounded on-disk event log: one NDJSON line per event, appended and
 * fsynced before anyone hears of it, so the admin SSE stream can replay what a
 * client missed (Last-Event-ID) even across agent restarts. Ids come from the
 * log (last id + 1) and never go backwards: compaction keeps the newest lines,
 * so the last id always survives. A crash mid-append leaves a torn last line,
 * which open() drops by rewriting the file.
 */
import { mkdir, open, readdir, readFile, rm, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { z } from 'zod';
import { WardenError, messageOf } from '../errors.js';
import { TEMP_PREFIX, fsyncDir, writeFileAtomic } from '../util/atomic-write.js';
import { EVENT_TYPES, type NewEvent, type WardenEvent } from './events.js';

/** Events kept in memory (and, after compaction, on disk) unless told otherwise. */
export const DEFAULT_MAX_EVENTS = 1000;

/** Called after an event is durable; must not throw (a throw is swallowed). */
export type EventListener = (event: WardenEvent) => void;

const lineSchema = z.object({
  id: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
  type: z.enum(EVENT_TYPES),
  pack: z.string(),
  at: z.string(),
  data: z.record(z.string(), z.unknown()),
});

/** An append-only, size-bounded, crash-tolerant log of Warden's events. */
export class EventLog {
  /** Lines dropped at open: a torn tail, unparsable or out-of-order lines. */
  readonly skippedAtOpen: number;
  private readonly events: WardenEvent[];
  private readonly listeners = new Set<EventListener>();
  private last: number;
  private fileLines: number;
  private needsRewrite = false;
  private fh: FileHandle | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;

  private constructor(
    private readonly path: string,
    private readonly maxEvents: number,
    loaded: { events: WardenEvent[]; lines: number; skipped: number; last: number; fh: FileHandle },
  ) {
    this.events = loaded.events;
    this.fileLines = loaded.lines;
    this.skippedAtOpen = loaded.skipped;
    this.last = loaded.last;
    this.fh = loaded.fh;
  }

  /** Opens (creating if missing) the log at `path`, reading its tail to continue the ids. */
  static async open(path: string, opts: { maxEvents?: number } = {}): Promise<EventLog> {
    const maxEvents = opts.maxEvents ?? DEFAULT_MAX_EVENTS;
    if (!Number.isSafeInteger(maxEvents) || maxEvents < 1)
      throw new RangeError(`maxEvents must be a positive integer, got ${maxEvents}`);
    try {
      await mkdir(dirname(path), { recursive: true });
      await removeStaleTemps(path);
      const { events, lines, skipped } = parseLog(await readIfExists(path));
      const kept = events.slice(-maxEvents);
      const compact = skipped > 0 || lines > 2 * maxEvents;
      if (compact) await writeFileAtomic(path, toNdjson(kept));
      const fh = await open(path, 'a', 0o644);
      await fsyncDir(dirname(path));
      return new EventLog(path, maxEvents, {
        events: kept,
        lines: compact ? kept.length : lines,
        skipped,
        last: events.at(-1)?.id ?? 0,
        fh,
      });
    } catch (err) {
      throw new WardenError('IO_FAILED', `cannot open the event log ${path}: ${messageOf(err)}`, {
        cause: err,
        details: { path },
      });
    }
  }

  /** Numbers, persists (fsync) and then publishes one event; appends run one at a time. */
  append(e: NewEvent): Promise<WardenEvent> {
    if (this.closed)
      return Promise.reject(
        new WardenError('IO_FAILED', `the event log ${this.path} is closed`, { details: { path: this.path } }),
      );
    const run = this.queue.then(() => this.write(e));
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Held events with an id greater than `id`, oldest first. */
  since(id: number): WardenEvent[] {
    // Ids are increasing, so a binary search finds the first event after `id`.
    let lo = 0;
    let hi = this.events.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.events[mid]?.id ?? Infinity) <= id) lo = mid + 1;
      else hi = mid;
    }
    return this.events.slice(lo);
  }

  /** The id of the newest event ever appended (0 for a new log). */
  lastId(): number {
    return this.last;
  }

  /** The id of the oldest event still held (lastId() + 1 when none is held). */
  firstId(): number {
    return this.events[0]?.id ?? this.last + 1;
  }

  /** Registers a live listener, called after each durable append; returns its remover. */
  onAppend(listener: EventListener): () => void {
    const own: EventListener = (e) => listener(e);
    this.listeners.add(own);
    return () => void this.listeners.delete(own);
  }

  /** Live listeners right now (for tests and metrics). */
  listenerCount(): number {
    return this.listeners.size;
  }

  /** Waits for pending appends, then closes the file; later appends reject. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.queue;
    this.listeners.clear();
    await this.fh?.close();
    this.fh = undefined;
  }

  // One append: write + fsync (or a full rewrite when compacting or after a failed write), then publish.
  private async write(e: NewEvent): Promise<WardenEvent> {
    const fh = this.fh;
    if (fh === undefined)
      throw new WardenError('IO_FAILED', `the event log ${this.path} is closed`, { details: { path: this.path } });
    // The id is spent even if the write fails: a half-written line may still reach the disk.
    const event: WardenEvent = Object.freeze({ id: ++this.last, type: e.type, pack: e.pack, at: e.at, data: e.data });
    const line = `${JSON.stringify(event)}\n`;
    try {
      if (this.needsRewrite || this.fileLines + 1 > 2 * this.maxEvents) {
        await this.rewrite([...this.events, event].slice(-this.maxEvents));
      } else {
        await fh.appendFile(line);
        await fh.sync();
        this.fileLines += 1;
      }
    } catch (err) {
      this.needsRewrite = true;
      throw new WardenError('IO_FAILED', `cannot append to the event log ${this.path}: ${messageOf(err)}`, {
        cause: err,
        details: { path: this.path },
      });
    }
    this.events.push(event);
    if (this.events.length > this.maxEvents) this.events.splice(0, this.events.length - this.maxEvents);
    for (const listener of [...this.listeners]) {
      try {
        listener(event);
      } catch {
        // A listener's failure is its own; the event is already durable.
      }
    }
    return event;
  }

  // Replaces the file with `events` (temp → fsync → rename) and reopens the append handle on it.
  private async rewrite(events: readonly WardenEvent[]): Promise<void> {
    await writeFileAtomic(this.path, toNdjson(events));
    const old = this.fh;
    this.fh = await open(this.path, 'a', 0o644);
    await old?.close().catch(() => undefined);
    this.fileLines = events.length;
    this.needsRewrite = false;
  }
}

// The file's text, or '' if it does not exist yet.
async function readIfExists(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw err;
  }
}

// Valid events in file order with strictly increasing ids; a tail without '\n' counts as torn.
function parseLog(text: string): { events: WardenEvent[]; lines: number; skipped: number } {
  const parts = text.split('\n');
  const tail = parts.pop() ?? '';
  const events: WardenEvent[] = [];
  let skipped = tail === '' ? 0 : 1;
  for (const part of parts) {
    const parsed = lineSchema.safeParse(safeJson(part));
    const prev = events.at(-1)?.id ?? 0;
    if (parsed.success && parsed.data.id > prev) events.push(Object.freeze(parsed.data));
    else skipped += 1;
  }
  return { events, lines: parts.length, skipped };
}

// JSON.parse that answers undefined instead of throwing.
function safeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

// NDJSON text of events, one per line.
function toNdjson(events: readonly WardenEvent[]): string {
  return events.map((e) => `${JSON.stringify(e)}\n`).join('');
}

// Removes temp files a crash during an earlier compaction of this log left behind.
async function removeStaleTemps(path: string): Promise<void> {
  const prefix = `${TEMP_PREFIX}${basename(path)}.`;
  for (const name of await readdir(dirname(path))) {
    if (name.startsWith(prefix)) await rm(join(dirname(path), name), { force: true });
  }
}
