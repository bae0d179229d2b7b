/**
 * The parent's side of timeline-child.ts: starts the closed-loop client in
 * its own process, waits for its first answers, lets a benchmark wait for the
 * first answer of a given version, and collects every request's timeline.
 * Also the figures a benchmark reads from a timeline: latencies of the
 * requests that overlap a time window, and those that do not.
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { summarize, type Summary } from './stats.js';
import type { FromTimeline, TimelinePlan, TimelineResult, ToTimeline } from './timeline-child.js';

export type { TimelinePlan, TimelineResult } from './timeline-child.js';

const CHILD = fileURLToPath(new URL('./timeline-child.ts', import.meta.url));

/** A running timeline client. */
export interface Timeline {
  /** Resolves once every connection has had an answer. */
  readonly ready: Promise<void>;
  /** When the first answer labelled `label` arrived (epoch ms); rejects after timeoutMs or if the client ends. */
  seen(label: string, timeoutMs: number): Promise<number>;
  /** Stops sending, waits for the answers in flight, resolves with every request. */
  stop(): Promise<TimelineResult>;
}

/** Forks the client (this process's Node and flags, so `--import tsx` carries over) on `plan`. */
export function startTimeline(plan: TimelinePlan): Timeline {
  const child = fork(CHILD, [JSON.stringify(plan)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const firsts = new Map<string, number>();
  const waiters = new Set<() => void>();
  let result: TimelineResult | undefined;
  let exited = false;
  const wake = (): void => {
    for (const w of [...waiters]) w();
  };
  child.on('message', (m: FromTimeline) => {
    if (m.t === 'seen') firsts.set(m.label, m.at);
    else if (m.t === 'ready') firsts.set('\u0000ready', 0);
    else result = m.result;
    wake();
  });
  child.on('exit', () => {
    exited = true;
    wake();
  });
  const until = <T>(get: () => T | undefined, timeoutMs: number, what: string): Promise<T> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        const v = get();
        if (v !== undefined) {
          done();
          resolve(v);
        } else if (exited) {
          done();
          reject(new Error(`the timeline client ended before ${what}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        waiters.delete(check);
      };
      waiters.add(check);
      check();
    });
  return {
    ready: until(() => (firsts.has('\u0000ready') ? true : undefined), 30_000, 'its first answers').then(
      () => undefined,
    ),
    seen: (label, timeoutMs) => until(() => firsts.get(label), timeoutMs, `an answer labelled ${label}`),
    stop: () => {
      if (!exited) child.send({ t: 'stop' } satisfies ToTimeline);
      return until(() => result, 60_000, 'its figures');
    },
  };
}

/** Latencies (ms) of the requests that overlap [from, to], and of those entirely outside it. */
export function splitByWindow(
  r: TimelineResult,
  from: number,
  to: number,
): { inside: number[]; outside: number[]; worstInside?: { latency: number; start: number } } {
  const inside: number[] = [];
  const outside: number[] = [];
  let worstInside: { latency: number; start: number } | undefined;
  for (let i = 0; i < r.start.length; i++) {
    const start = r.start[i] as number;
    const end = r.end[i] as number;
    const latency = end - start;
    if (end >= from && start <= to) {
      inside.push(latency);
      if (!worstInside || latency > worstInside.latency) worstInside = { latency, start };
    } else {
      outside.push(latency);
    }
  }
  return { inside, outside, ...(worstInside ? { worstInside } : {}) };
}

/** summarize, or undefined for no samples. */
export function summaryOf(xs: readonly number[]): Summary | undefined {
  return xs.length > 0 ? summarize(xs) : undefined;
}

/**
 * The longest time within [from, to] during which no answer arrived on any connection (the
 * clients were all waiting): a server blocked as a whole shows here as the length of the block,
 * a server merely slowed (less CPU) does not.
 */
export function longestSilence(r: TimelineResult, from: number, to: number): number {
  const ends = r.end.filter((e) => e >= from && e <= to).sort((a, b) => a - b);
  let longest = 0;
  let last = from;
  for (const e of [...ends, to]) {
    longest = Math.max(longest, e - last);
    last = e;
  }
  return longest;
}
