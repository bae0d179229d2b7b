/**
 * Decision-log shipping (`decision_log.service`): uploads the decision log's
 * files to a collector with OPA's decision-log service protocol (ship-upload.ts),
 * so a collector that accepts OPA's uploads accepts Warden's.
 *
 * The files stay the source of truth. The shipper never sees an event on the
 * request path: on a timer of the main thread it lists the folder, reads the
 * complete lines after its cursor (ship-batch.ts; reads and gzip run on libuv's
 * thread pool), posts them as one batch, and only after a 2xx moves and stores
 * its cursor (ship-cursor.ts). So delivery is at least once: a crash or a lost
 * answer re-sends at most the batch in flight (the collector can drop repeats
 * by `decision_id`), and a restart resumes from the cursor.
 *
 * - Caught up: the next look is a jittered [minDelayMs, maxDelayMs] later.
 *   Behind: batches go out back to back.
 * - A failure (network, timeout, 5xx, 408, 429): counted
 *   (`warden_decision_log_ship_failure_total{code="DECISION_LOG_SHIP_FAILED"}`),
 *   logged once per episode, retried after an exponential backoff with jitter
 *   (util/backoff.ts, as the http source).
 * - Any other 4xx is a refusal of that batch: counted
 *   (`{code="DECISION_LOG_SHIP_REFUSED"}`), logged, and skipped (its bytes
 *   counted as dropped, reason `refused`): holding it would stop every later
 *   batch behind one the collector will never take. It stays in the local file.
 * - Bounded backlog: past `queueMaxBytes` of unshipped data the oldest is given
 *   up (the cursor jumps forward; reason `backlog`). The shipper never deletes a
 *   file: the writer's retention (max_files) does, and a file it deletes before
 *   it was shipped is counted as dropped (reason `retention`).
 */
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import type { Registry } from 'prom-client';
import { WardenError, messageOf } from '../errors.js';
import type { Logger } from '../observe/logger.js';
import { counter, gauge } from '../observe/register.js';
import { Backoff, nextPollDelayMs } from '../util/backoff.js';
import { gzipBatch, listLogFiles, readLines, type LogFile } from './ship-batch.js';
import { readCursor, sweepCursorTemps, writeCursor, type ShipCursor } from './ship-cursor.js';
import { Uploader, uploadUrl } from './ship-upload.js';

/** `decision_log.service` as the shipper takes it. */
export interface ShipperSettings {
  /** The collector's service URL; batches go to `<url><resource>`. */
  readonly url: string;
  /** Default `/logs`, as OPA's. */
  readonly resource?: string;
  readonly headers?: Readonly<Record<string, string>>;
  /** A file holding the bearer token (read for every upload). */
  readonly tokenFile?: string;
  /** A PEM CA bundle trusted for an https collector. */
  readonly caFile?: string;
  /** Largest upload body, gzipped; default 32 KiB (OPA's upload_size_limit_bytes). */
  readonly batchMaxBytes?: number;
  /** Events per upload at most; default 10,000. */
  readonly batchMaxEvents?: number;
  /** Wait between looks once caught up: jittered between these; default 5–10 s. */
  readonly minDelayMs?: number;
  readonly maxDelayMs?: number;
  /** One upload's deadline; default 10 s. */
  readonly timeoutMs?: number;
  /** Longest backoff after failures; default 60 s. */
  readonly backoffMaxMs?: number;
  /** Unshipped bytes kept at most (oldest given up past it); default 128 MiB. */
  readonly queueMaxBytes?: number;
}

/** Options of a {@link DecisionLogShipper}. */
export interface ShipperOptions extends ShipperSettings {
  /** The decision log's folder. */
  readonly dir: string;
  readonly registry?: Registry;
  readonly log: Logger;
  readonly random?: () => number;
}

type DropReason = 'backlog' | 'retention' | 'refused' | 'too_large' | 'torn';
const DROP_REASONS: readonly DropReason[] = ['backlog', 'retention', 'refused', 'too_large', 'torn'];
type FailureCode = 'DECISION_LOG_SHIP_FAILED' | 'DECISION_LOG_SHIP_REFUSED';

const MiB = 2 ** 20;
/** Raw bytes read per gzipped byte allowed, before the first batch teaches the real ratio. */
const FIRST_RATIO = 8;
/** Largest read window for one batch. */
const MAX_WINDOW = 16 * MiB;
/** Window read to find a line start when the backlog bound cuts into the newest file. */
const CUT_WINDOW = 64 * 1024;

/** Ships one decision-log folder to one collector. */
export class DecisionLogShipper {
  readonly #dir: string;
  readonly #log: Logger;
  readonly #uploader: Uploader;
  readonly #batchMaxBytes: number;
  readonly #batchMaxEvents: number;
  readonly #minDelayMs: number;
  readonly #maxDelayMs: number;
  readonly #queueMaxBytes: number;
  readonly #random: () => number;
  readonly #backoff: Backoff;
  readonly #shipped;
  readonly #dropped;
  readonly #failures;
  readonly #backlog;
  readonly #abort = new AbortController();
  /** Undefined: not loaded yet, or nothing on disk when loaded (ship from the oldest file). */
  #cursor: ShipCursor | undefined;
  #loaded = false;
  /** Sizes of the files seen at the last listing: what a file retention deletes held. */
  #known = new Map<string, number>();
  #ratio = FIRST_RATIO;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #started = false;
  #closed = false;
  #failing = false;

  constructor(opts: ShipperOptions) {
    this.#dir = opts.dir;
    this.#log = opts.log;
    this.#uploader = new Uploader({
      url: uploadUrl(opts.url, opts.resource ?? '/logs'),
      headers: opts.headers ?? {},
      ...(opts.tokenFile === undefined ? {} : { tokenFile: opts.tokenFile }),
      ...(opts.caFile === undefined ? {} : { caFile: opts.caFile }),
      timeoutMs: opts.timeoutMs ?? 10_000,
    });
    this.#batchMaxBytes = opts.batchMaxBytes ?? 32 * 1024;
    this.#batchMaxEvents = opts.batchMaxEvents ?? 10_000;
    this.#minDelayMs = opts.minDelayMs ?? 5_000;
    this.#maxDelayMs = Math.max(this.#minDelayMs, opts.maxDelayMs ?? 10_000);
    this.#queueMaxBytes = opts.queueMaxBytes ?? 128 * MiB;
    this.#random = opts.random ?? Math.random;
    this.#backoff = new Backoff({
      baseMs: Math.max(10, Math.min(1000, this.#minDelayMs)),
      maxMs: opts.backoffMaxMs ?? 60_000,
      random: this.#random,
    });
    this.#shipped = counter(opts.registry, 'warden_decision_log_shipped_total');
    this.#dropped = counter(opts.registry, 'warden_decision_log_ship_dropped_bytes_total');
    this.#failures = counter(opts.registry, 'warden_decision_log_ship_failure_total');
    this.#backlog = gauge(opts.registry, 'warden_decision_log_ship_backlog_bytes');
    for (const reason of DROP_REASONS) this.#dropped.inc({ reason }, 0);
    for (const code of ['DECISION_LOG_SHIP_FAILED', 'DECISION_LOG_SHIP_REFUSED'] as const)
      this.#failures.inc({ code }, 0);
  }

  /** Where batches are posted. */
  get url(): string {
    return this.#uploader.target.url.toString();
  }

  /** The acknowledged position (for tests and diagnostics). */
  get cursor(): ShipCursor | undefined {
    return this.#cursor;
  }

  /** Starts shipping at once, then on its timer (idempotent). */
  start(): void {
    if (this.#started || this.#closed) return;
    this.#started = true;
    this.#schedule(0);
  }

  /** Stops: the timer, and an upload in flight (not acknowledged: sent again after a restart). */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#abort.abort();
    await this.#running;
    this.#uploader.close();
  }

  #schedule(delayMs: number): void {
    if (this.#closed) return;
    this.#timer = setTimeout(() => {
      this.#running = this.#run().finally(() => {
        this.#running = undefined;
      });
    }, delayMs);
    this.#timer.unref();
  }

  async #run(): Promise<void> {
    let delayMs: number;
    try {
      delayMs = await this.#shipAll();
    } catch (err) {
      // The folder or the cursor could not be read or written: retried like a failed upload.
      delayMs = this.#backoff.next();
      if (!this.#closed)
        this.#log.error(
          { code: 'DECISION_LOG_SHIP_FAILED', dir: this.#dir, err: messageOf(err), retry_in_ms: delayMs },
          'decision-log shipping could not read its files or store its cursor; retrying',
        );
    }
    this.#schedule(delayMs);
  }

  // Ships batches until caught up (→ the jittered interval) or an upload fails (→ the backoff).
  async #shipAll(): Promise<number> {
    if (!this.#loaded) await this.#load();
    while (!this.#closed) {
      const files = await listLogFiles(this.#dir);
      await this.#reconcile(files);
      await this.#bound(files);
      const i = this.#cursor === undefined ? -1 : files.findIndex((f) => f.name === this.#cursor?.file);
      const file = files[i];
      const cursor = this.#cursor;
      if (file === undefined || cursor === undefined) return this.#interval();
      const final = i < files.length - 1;
      if (cursor.offset >= file.size) {
        if (!final) return this.#interval();
        this.#cursor = { file: (files[i + 1] as LogFile).name, offset: 0 };
        continue;
      }
      // Aimed 5 % under the limit at the last batch's ratio: a window aimed over it (it was +10 %)
      // made nearly every steady batch overflow and be gzipped a second time, smaller.
      const window = Math.min(MAX_WINDOW, Math.ceil(this.#batchMaxBytes * this.#ratio * 0.95));
      let chunk;
      try {
        chunk = await readLines(
          join(this.#dir, file.name),
          cursor.offset,
          file.size,
          final,
          window,
          this.#batchMaxEvents,
        );
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue; // retention: the next listing counts it
        throw err;
      }
      if (chunk.kind === 'none') return this.#interval();
      if (chunk.kind === 'torn') {
        await this.#giveUp('torn', { file: file.name, offset: chunk.end }, chunk.end - cursor.offset);
        continue;
      }
      const body = await gzipBatch(chunk.lines, this.#batchMaxBytes);
      const next = { file: file.name, offset: cursor.offset + body.diskBytes };
      if (body.count === 0) {
        this.#log.warn(
          {
            code: 'DECISION_LOG_SHIP_DROPPED',
            reason: 'too_large',
            bytes: body.diskBytes,
            batch_max_bytes: this.#batchMaxBytes,
          },
          'a decision-log event alone is over batch_max_bytes once gzipped; not shipped (it stays in the local file)',
        );
        await this.#giveUp('too_large', next, body.diskBytes);
        continue;
      }
      this.#ratio = Math.min(64, Math.max(1, body.rawBytes / body.gzipped.length));
      const delay = await this.#upload(body.gzipped, body.count, next, body.diskBytes);
      if (delay !== undefined) return delay;
    }
    return 0;
  }

  // Posts one batch; undefined when the loop goes on (acknowledged or refused), else the backoff.
  async #upload(gzipped: Buffer, count: number, next: ShipCursor, diskBytes: number): Promise<number | undefined> {
    let status: number;
    let answer = '';
    try {
      ({ status, body: answer } = await this.#uploader.post(gzipped, this.#abort.signal));
    } catch (err) {
      if (this.#closed) return 0;
      return this.#failed(err instanceof WardenError ? err.message : messageOf(err), undefined);
    }
    if (status >= 200 && status < 300) {
      this.#cursor = next;
      await writeCursor(this.#dir, next);
      this.#shipped.inc(count);
      this.#backoff.reset();
      if (this.#failing) this.#log.info({ url: this.url }, 'decision-log shipping recovered');
      this.#failing = false;
      return undefined;
    }
    if (status >= 400 && status < 500 && status !== 408 && status !== 429) {
      this.#count('DECISION_LOG_SHIP_REFUSED');
      this.#log.error(
        { code: 'DECISION_LOG_SHIP_REFUSED', url: this.url, status, answer, events: count, bytes: diskBytes, at: next },
        'the decision-log collector refused a batch; skipped (it stays in the local file)',
      );
      await this.#giveUp('refused', next, diskBytes);
      return undefined;
    }
    return this.#failed(`the collector answered HTTP ${status}`, { status, answer });
  }

  // A failed upload: counted, logged once per episode; the backoff before the retry.
  #failed(err: string, extra: { status: number; answer: string } | undefined): number {
    this.#count('DECISION_LOG_SHIP_FAILED');
    const delayMs = this.#backoff.next();
    if (!this.#failing)
      this.#log.error(
        { code: 'DECISION_LOG_SHIP_FAILED', url: this.url, err, ...extra, retry_in_ms: delayMs },
        'shipping the decision log failed; retrying with backoff',
      );
    this.#failing = true;
    return delayMs;
  }

  #count(code: FailureCode): void {
    this.#failures.inc({ code });
  }

  // Moves the cursor over data that will not be shipped, counting its bytes.
  async #giveUp(reason: DropReason, next: ShipCursor, bytes: number): Promise<void> {
    this.#cursor = next;
    this.#dropped.inc({ reason }, Math.max(0, bytes));
    await writeCursor(this.#dir, next);
  }

  async #load(): Promise<void> {
    await sweepCursorTemps(this.#dir);
    const { cursor, damaged } = await readCursor(this.#dir);
    if (damaged !== undefined)
      this.#log.warn(
        { code: 'DECISION_LOG_SHIP_FAILED', dir: this.#dir, err: damaged },
        'the decision-log shipping cursor is unreadable; shipping again from the oldest file',
      );
    this.#cursor = cursor;
    this.#loaded = true;
  }

  // Puts the cursor on a file that exists: the oldest when there is none; past files retention deleted (counted).
  async #reconcile(files: readonly LogFile[]): Promise<void> {
    const first = files[0];
    const cursor = this.#cursor;
    if (first === undefined) {
      this.#known = new Map();
      return;
    }
    if (cursor === undefined) this.#cursor = { file: first.name, offset: 0 };
    else if (!files.some((f) => f.name === cursor.file)) {
      const next = files.find((f) => f.name > cursor.file);
      // Every file sorts before the cursor (a clock set back): nothing after it to ship yet.
      if (next !== undefined) {
        let bytes = Math.max(0, (this.#known.get(cursor.file) ?? cursor.offset) - cursor.offset);
        let lost = 1;
        for (const [name, size] of this.#known)
          if (name > cursor.file && name < next.name) {
            bytes += size;
            lost++;
          }
        this.#log.warn(
          { code: 'DECISION_LOG_SHIP_DROPPED', reason: 'retention', files: lost, bytes, dir: this.#dir },
          'decision-log files were deleted by retention (max_files) before they were shipped',
        );
        await this.#giveUp('retention', { file: next.name, offset: 0 }, bytes);
      }
    }
    this.#known = new Map(files.map((f) => [f.name, f.size]));
  }

  // Keeps the unshipped bytes within queueMaxBytes, giving up the oldest; sets the backlog gauge.
  async #bound(files: readonly LogFile[]): Promise<void> {
    let i = files.findIndex((f) => f.name === this.#cursor?.file);
    if (i < 0 || this.#cursor === undefined) {
      this.#backlog.set(0);
      return;
    }
    let offset = this.#cursor.offset;
    let backlog = files.slice(i).reduce((sum, f) => sum + f.size, 0) - offset;
    let dropped = 0;
    while (backlog > this.#queueMaxBytes) {
      const file = files[i] as LogFile;
      if (i < files.length - 1) {
        const bytes = Math.max(0, file.size - offset);
        dropped += bytes;
        backlog -= bytes;
        i++;
        offset = 0;
        continue;
      }
      const start = await lineStartAfter(join(this.#dir, file.name), file.size - this.#queueMaxBytes, file.size);
      if (start !== undefined && start > offset) {
        dropped += start - offset;
        backlog -= start - offset;
        offset = start;
      }
      break;
    }
    if (dropped > 0) {
      const next = { file: (files[i] as LogFile).name, offset };
      this.#log.warn(
        { code: 'DECISION_LOG_SHIP_DROPPED', reason: 'backlog', bytes: dropped, queue_max_bytes: this.#queueMaxBytes },
        'unshipped decision-log data over queue_max_bytes; the oldest was given up (it stays in the local files)',
      );
      await this.#giveUp('backlog', next, dropped);
    }
    this.#backlog.set(Math.max(0, backlog));
  }

  #interval(): number {
    return nextPollDelayMs(this.#minDelayMs / 1000, this.#maxDelayMs / 1000, this.#random);
  }
}

// The first line start at or after `from` (the byte after a `\n` at from-1 or later), if one is on disk before `size`.
async function lineStartAfter(path: string, from: number, size: number): Promise<number | undefined> {
  let fh;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    for (let at = Math.max(0, from - 1); at < size; at += CUT_WINDOW) {
      const buf = Buffer.allocUnsafe(Math.min(CUT_WINDOW, size - at));
      const { bytesRead } = await fh.read(buf, 0, buf.length, at);
      const nl = buf.subarray(0, bytesRead).indexOf(0x0a);
      if (nl >= 0) return at + nl + 1;
      if (bytesRead === 0) return undefined;
    }
    return undefined;
  } finally {
    await fh.close();
  }
}
