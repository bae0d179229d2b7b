/**
 * The schedule of the remote sources (`http`, `oci`, `s3`): poll, pick a delay,
 * sleep, until stop(). A success waits a jittered poll interval (or, for a long
 * poll, re-requests after a short jittered pause); a failure waits a capped
 * exponential backoff with jitter (src/util/backoff.ts), reset by the next
 * success. Every fetch — the loop's and a one-off one (boot, an operator's
 * reload) — runs through one queue, so a source never has two in flight. The
 * source brings only its `poll(signal, previous)`: the requests, the change
 * detection and the logging of what it found (failures are logged and counted
 * there, so the loop swallows them).
 */
import { Backoff, nextPollDelayMs } from '../util/backoff.js';

/** Schedules fn after ms; returns a function that cancels it. */
export type SetTimer = (fn: () => void, ms: number) => () => void;

/** Upper bound of the jittered pause between two long polls. */
export const LONG_POLL_FLOOR_MS = 100;

/** The pollMinSeconds … backoffMaxSeconds settings every remote source shares. */
export interface PollSchedule {
  readonly pollMinSeconds: number;
  readonly pollMaxSeconds: number;
  /** First retry ceiling after a failure; default 1. */
  readonly backoffBaseSeconds?: number;
  /** Cap on the retry delay; default 300. */
  readonly backoffMaxSeconds?: number;
}

/** Seams for tests: randomness and timers. */
export interface PollDeps {
  readonly random?: () => number;
  readonly setTimer?: SetTimer;
}

/** What comes after a successful poll: a poll interval, or (long polling) the next request at once. */
export type Pace = 'interval' | 'at_once';

/**
 * One poll: `signal` aborts on stop(); `previous` is the result of the last
 * successful poll of this run (undefined before the first). Throws on failure.
 */
export type Poll<R> = (signal: AbortSignal, previous: R | undefined) => Promise<R>;

// An unref'd timeout: a sleeping poll loop never keeps the process alive.
const unrefTimer: SetTimer = (fn, ms) => {
  const t = setTimeout(fn, ms);
  t.unref();
  return () => clearTimeout(t);
};

/** The poll loop of one source: start(), stop(), and the queue one-off fetches share with it. */
export class PollLoop {
  readonly #schedule: PollSchedule;
  readonly #random: () => number;
  readonly #setTimer: SetTimer;
  readonly #backoff: Backoff;
  #tail: Promise<unknown> = Promise.resolve();
  #lifecycle = new AbortController();
  #loop: Promise<void> | undefined;
  #cancelSleep: (() => void) | undefined;

  constructor(schedule: PollSchedule, deps: PollDeps = {}) {
    this.#schedule = schedule;
    this.#random = deps.random ?? Math.random;
    this.#setTimer = deps.setTimer ?? unrefTimer;
    this.#backoff = new Backoff({
      baseMs: (schedule.backoffBaseSeconds ?? 1) * 1000,
      maxMs: (schedule.backoffMaxSeconds ?? 300) * 1000,
      random: this.#random,
    });
  }

  /** Runs fn after any fetch in flight (never two at once), with the signal stop() aborts. */
  serial<T>(fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const run = this.#tail.then(() => fn(this.#lifecycle.signal));
    this.#tail = run.catch(() => undefined);
    return run;
  }

  /** Polls until stop(); `pace` picks the delay after a success (default: a poll interval). A second start() while running is ignored. */
  start<R>(poll: Poll<R>, pace: (result: R) => Pace = () => 'interval'): void {
    if (this.#loop !== undefined) return;
    this.#loop = this.#run(poll, pace, this.#lifecycle.signal);
  }

  /**
   * Aborts the fetch in flight and the pending timer; resolves when the loop and any queued fetch
   * have ended. A fetch asked after that (serial) runs with a fresh signal, as after start().
   */
  async stop(): Promise<void> {
    this.#lifecycle.abort();
    this.#cancelSleep?.();
    await this.#loop;
    await this.#tail;
    this.#loop = undefined;
    this.#lifecycle = new AbortController();
  }

  // Fetch, pick a delay, sleep; ends when the signal is aborted.
  async #run<R>(poll: Poll<R>, pace: (result: R) => Pace, signal: AbortSignal): Promise<void> {
    let previous: R | undefined;
    while (!signal.aborted) {
      let delay: number;
      try {
        const last = previous;
        previous = await this.serial((s) => poll(s, last));
        this.#backoff.reset();
        delay = this.#delayAfter(pace(previous));
      } catch {
        delay = this.#backoff.next(); // already logged and counted by the source
      }
      if (signal.aborted) break;
      await this.#sleep(delay);
    }
  }

  // A jittered poll interval, or a jittered pause under LONG_POLL_FLOOR_MS before the next long poll.
  #delayAfter(pace: Pace): number {
    const { pollMinSeconds, pollMaxSeconds } = this.#schedule;
    if (pace === 'at_once') return Math.round(this.#random() * LONG_POLL_FLOOR_MS);
    return nextPollDelayMs(pollMinSeconds, pollMaxSeconds, this.#random);
  }

  // Sleeps ms; stop() cancels the timer and wakes the loop.
  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = (): void => {
        this.#cancelSleep = undefined;
        resolve();
      };
      const cancel = this.#setTimer(wake, ms);
      this.#cancelSleep = () => {
        cancel();
        wake();
      };
    });
  }
}
