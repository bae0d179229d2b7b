/**
 * A webhook dead-letter file: one NDJSON line per event that was not delivered
 * (its last attempt failed, it was dropped from a full queue, or the dispatcher
 * stopped first), appended and fsynced. Lines that arrive while a write runs go
 * out together in the next one, so a burst costs one fsync, not one per event.
 * The file is opened per batch (log rotation just works) with mode 0600: events
 * may carry pack data. A crash mid-write can leave a torn last line; readers
 * skip lines that do not parse. Replaying a record means POSTing its `event`
 * again, freshly signed, with X-Warden-Delivery = event.id.
 */
import { mkdir, open } from 'node:fs/promises';
import { dirname } from 'node:path';
import { WardenError, messageOf } from '../errors.js';
import type { WardenEvent } from './events.js';

/** One line of the dead-letter file. */
export interface DeadLetterRecord {
  /** ISO time the record was written. */
  readonly time: string;
  /** The webhook URL (without credentials or query). */
  readonly url: string;
  /** Attempts made (0 when the event never got one: dropped or stopped). */
  readonly attempts: number;
  readonly last_error: string;
  /** HTTP status of the last answer, if there was one. */
  readonly last_status?: number;
  readonly event: WardenEvent;
}

// A line waiting for its batch's fsync.
interface Pending {
  readonly line: string;
  readonly settle: (err: WardenError | undefined) => void;
}

/** Appends records durably to one file, batching concurrent appends. */
export class DeadLetterFile {
  readonly path: string;
  #pending: Pending[] = [];
  #writing = false;

  constructor(path: string) {
    this.path = path;
  }

  /** Resolves once the record is on disk; rejects with IO_FAILED. */
  append(record: DeadLetterRecord): Promise<void> {
    const line = `${JSON.stringify(record)}\n`;
    return new Promise((resolve, reject) => {
      this.#pending.push({ line, settle: (err) => (err === undefined ? resolve() : reject(err)) });
      if (!this.#writing) void this.#flush();
    });
  }

  // Writes whatever is pending, batch after batch, until nothing is.
  async #flush(): Promise<void> {
    this.#writing = true;
    while (this.#pending.length > 0) {
      const batch = this.#pending;
      this.#pending = [];
      let failure: WardenError | undefined;
      try {
        await appendSynced(this.path, batch.map((p) => p.line).join(''));
      } catch (err) {
        failure = new WardenError(
          'IO_FAILED',
          `cannot append to the dead-letter file ${this.path}: ${messageOf(err)}`,
          { cause: err, details: { path: this.path } },
        );
      }
      for (const p of batch) p.settle(failure);
    }
    this.#writing = false;
  }
}

// Appends and fsyncs before closing, creating the folder if needed.
async function appendSynced(path: string, data: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const fh = await open(path, 'a', 0o600);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
}
