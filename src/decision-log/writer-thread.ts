/**
 * The decision log's writer thread (decision-log-writer.ts) as the thread that
 * answers decisions sees it: started once, handed one batch of events at a
 * time, each request answered by a promise. Handing over is a postMessage, a
 * structured clone of the events made on this thread: about what JSON.stringify
 * of them costs (bench/decision-log.bench.ts: 0.7 µs an event with a JS input,
 * against 1.0 µs for its line; ~2 µs in an agent, where a batch's events are no
 * longer in the cache), so it is the one serialisation left here. The lines are
 * made, and written, over there.
 *
 * When the thread ends without being asked to (an uncaught error, out of
 * memory, terminated), every pending request rejects with {@link WriterExited}
 * and the owner is told once; the owner decides about a new one.
 *
 * Loading: dist/ holds decision-log-writer.js beside this file. Run from the
 * TypeScript sources (tsx: tests, benchmarks) only the .ts exists, and on Node 20
 * a worker does not get tsx's loader hooks from an inherited `--import tsx`,
 * so its first code registers tsx (`tsx/esm/api`) and then imports the .ts.
 */
import { existsSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { messageOf } from '../errors.js';
import type { DecisionLogEvent, DecisionLogLabels } from './decision-log-event.js';

/** What the writer thread starts with (its workerData). */
export interface WriterInit {
  readonly dir: string;
  readonly maxFileBytes: number;
  readonly maxFiles: number;
  readonly labels: DecisionLogLabels;
}

/** A request to the writer thread; `times[i]` is when `events[i]` was enqueued (ms since the epoch). */
export type WriterRequest =
  | {
      readonly type: 'write';
      readonly id: number;
      readonly events: readonly (DecisionLogEvent | null)[];
      readonly times: readonly number[];
    }
  | { readonly type: 'close'; readonly id: number };

/** The writer thread's answer: lines written, the indices of events that are not JSON, or why it failed. */
export interface WriterReply {
  readonly id: number;
  readonly lines: number;
  readonly invalid: readonly number[];
  readonly error?: string;
}

/** The writer thread ended while a request was pending. */
export class WriterExited extends Error {}

/** How long close() waits for the thread to close its file, at least. */
const MIN_CLOSE_MS = 1000;

/** One writer thread. */
export class WriterThread {
  readonly #worker: Worker;
  readonly #pending = new Map<number, { resolve: (r: WriterReply) => void; reject: (e: Error) => void }>();
  #nextId = 1;
  #lastError: string | undefined;
  #exit: string | undefined;
  #stopping = false;

  /** Starts the thread; `onExit` is called once if it ends without close() or terminate() asking. */
  constructor(init: WriterInit, onExit: (reason: string) => void) {
    this.#worker = spawn(init);
    this.#worker.unref();
    this.#worker.on('message', (reply: WriterReply) => {
      const p = this.#pending.get(reply.id);
      if (p === undefined) return;
      this.#pending.delete(reply.id);
      if (this.#pending.size === 0) this.#worker.unref();
      p.resolve(reply);
    });
    this.#worker.on('error', (err) => {
      this.#lastError = messageOf(err);
    });
    this.#worker.on('exit', (code) => {
      const reason = this.#lastError ?? `the writer thread exited with code ${code}`;
      this.#exit = reason;
      const pending = [...this.#pending.values()];
      this.#pending.clear();
      if (!this.#stopping) onExit(reason);
      for (const p of pending) p.reject(new WriterExited(reason));
    });
  }

  /** The thread's id (worker_threads.threadId inside it). */
  get threadId(): number {
    return this.#worker.threadId;
  }

  /**
   * Hands `events` over to be written. An event structured clone refuses (a
   * function, a symbol) is sent as its JSON data instead, which is what the
   * line would hold; one that is not JSON either is sent as null (invalid).
   */
  write(events: readonly DecisionLogEvent[], times: readonly number[]): Promise<WriterReply> {
    return this.#request((id) => {
      try {
        this.#worker.postMessage({ type: 'write', id, events, times } satisfies WriterRequest);
      } catch {
        this.#worker.postMessage({ type: 'write', id, events: events.map(asJsonData), times } satisfies WriterRequest);
      }
    });
  }

  /**
   * Asks the thread to flush and close its file, waits at most `timeoutMs`
   * (at least a second), then ends it. Returns why closing failed, if it did.
   */
  async close(timeoutMs: number): Promise<string | undefined> {
    this.#stopping = true;
    if (this.#exit !== undefined) return undefined;
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<WriterReply>((resolve) => {
      timer = setTimeout(
        () => resolve({ id: 0, lines: 0, invalid: [], error: `the file was not closed within ${timeoutMs} ms` }),
        Math.max(MIN_CLOSE_MS, timeoutMs),
      );
    });
    try {
      const closed = this.#request((id) => this.#worker.postMessage({ type: 'close', id } satisfies WriterRequest));
      return (await Promise.race([closed, expired])).error;
    } catch (err) {
      return messageOf(err);
    } finally {
      clearTimeout(timer);
      await this.#worker.terminate();
    }
  }

  /** Ends the thread at once, as a crash would (the owner is told): for tests. */
  async terminate(): Promise<void> {
    await this.#worker.terminate();
  }

  // Sends one request; the thread is kept referenced (the process does not end) while any is pending.
  #request(send: (id: number) => void): Promise<WriterReply> {
    if (this.#exit !== undefined) return Promise.reject(new WriterExited(this.#exit));
    const id = this.#nextId++;
    return new Promise<WriterReply>((resolve, reject) => {
      send(id);
      if (this.#pending.size === 0) this.#worker.ref();
      this.#pending.set(id, { resolve, reject });
    });
  }
}

// The event as JSON data (what its line holds), or null when it is not JSON.
function asJsonData(event: DecisionLogEvent): DecisionLogEvent | null {
  try {
    return JSON.parse(JSON.stringify(event)) as DecisionLogEvent;
  } catch {
    return null;
  }
}

let entry: { url: URL; eval: boolean } | undefined;

// Starts the worker from dist/'s .js, or from the .ts through tsx.
function spawn(init: WriterInit): Worker {
  if (entry === undefined) {
    const js = new URL('./decision-log-writer.js', import.meta.url);
    entry = existsSync(js)
      ? { url: js, eval: false }
      : { url: new URL('./decision-log-writer.ts', import.meta.url), eval: true };
  }
  const options = { workerData: init, name: 'warden decision log' };
  if (!entry.eval) return new Worker(entry.url, options);
  const tsx = JSON.stringify(import.meta.resolve('tsx/esm/api'));
  const code = `import(${tsx}).then((t) => { t.register(); return import(${JSON.stringify(entry.url.href)}); });`;
  return new Worker(code, { ...options, eval: true });
}
