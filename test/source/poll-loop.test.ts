import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  LONG_POLL_FLOOR_MS,
  PollLoop,
  type Pace,
  type PollSchedule,
  type SetTimer,
} from '../../src/source/poll-loop.js';

// An injected clock: every pause the loop asks for is recorded and held until the test fires it,
// so the schedule is read step by step instead of measured.
function manualTimers(): {
  setTimer: SetTimer;
  /** Resolves with the delay of the next pause the loop asks for (at once if one is pending). */
  nextPause: () => Promise<number>;
  /** Ends the last pause nextPause() returned. */
  fire: () => void;
  /** Pauses neither ended nor cancelled. */
  pending: () => number;
} {
  const asked: Array<{ ms: number; fn: () => void; done: boolean }> = [];
  let seen = 0;
  let waiter: (() => void) | undefined;
  const setTimer: SetTimer = (fn, ms) => {
    const t = { ms, fn, done: false };
    asked.push(t);
    waiter?.();
    return () => void (t.done = true);
  };
  return {
    setTimer,
    nextPause: async () => {
      while (asked.length <= seen) await new Promise<void>((resolve) => (waiter = resolve));
      waiter = undefined;
      return (asked[seen++] as { ms: number }).ms;
    },
    fire: () => {
      const t = asked[seen - 1];
      assert.ok(t !== undefined && !t.done, 'a pause to end');
      t.done = true;
      t.fn();
    },
    pending: () => asked.filter((t) => !t.done).length,
  };
}

const schedule: PollSchedule = {
  pollMinSeconds: 10,
  pollMaxSeconds: 20,
  backoffBaseSeconds: 1,
  backoffMaxSeconds: 300,
};

describe('PollLoop', () => {
  it('waits a jittered poll interval after a success, and a capped, jittered, growing backoff after failures', async () => {
    const timers = manualTimers();
    const loop = new PollLoop({ ...schedule, backoffMaxSeconds: 3 }, { random: () => 0.5, setTimer: timers.setTimer });
    // fail, fail, fail, succeed, fail: the backoff starts again from its base after the success.
    const script = [false, false, false, true, false];
    let polls = 0;
    loop.start(() => {
      const ok = script[polls++] ?? true;
      return ok ? Promise.resolve(polls) : Promise.reject(new Error('down'));
    });
    const pauses: number[] = [];
    for (let i = 0; i < script.length; i++) {
      pauses.push(await timers.nextPause());
      timers.fire();
    }
    pauses.push(await timers.nextPause());
    await loop.stop();
    // Equal jitter at r = 0.5 of 1 s, 2 s, 3 s (capped); then 10 + 10 · 0.5 s; then 1 s again.
    assert.deepEqual(pauses, [750, 1500, 2250, 15_000, 750, 15_000]);
    assert.equal(polls, 6);
  });

  it('re-requests after a short jittered pause when the poll asks for it (long polling)', async () => {
    const timers = manualTimers();
    const loop = new PollLoop(schedule, { random: () => 0.25, setTimer: timers.setTimer });
    const paces: Pace[] = ['at_once', 'interval', 'at_once'];
    let polls = 0;
    loop.start(
      () => Promise.resolve(polls++),
      (n) => paces[n] ?? 'interval',
    );
    const pauses: number[] = [];
    for (let i = 0; i < 3; i++) {
      pauses.push(await timers.nextPause());
      timers.fire();
    }
    await timers.nextPause();
    await loop.stop();
    assert.deepEqual(pauses, [0.25 * LONG_POLL_FLOOR_MS, 12_500, 0.25 * LONG_POLL_FLOOR_MS]);
  });

  it('hands each poll the result of the last successful one (undefined before the first)', async () => {
    const timers = manualTimers();
    const loop = new PollLoop(schedule, { random: () => 0, setTimer: timers.setTimer });
    const seen: Array<number | undefined> = [];
    let n = 0;
    loop.start((_signal, previous: number | undefined) => {
      seen.push(previous);
      n += 1;
      return n === 2 || n === 3 ? Promise.reject(new Error('down')) : Promise.resolve(n);
    });
    for (let i = 0; i < 4; i++) {
      await timers.nextPause();
      timers.fire();
    }
    await timers.nextPause();
    await loop.stop();
    assert.deepEqual(seen, [undefined, 1, 1, 1, 4]);
  });

  it('runs one-off fetches and polls one at a time, in order', async () => {
    const timers = manualTimers();
    const loop = new PollLoop(schedule, { random: () => 0, setTimer: timers.setTimer });
    const events: string[] = [];
    let release: (() => void) | undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    loop.start(async () => {
      events.push('poll start');
      await held;
      events.push('poll end');
      return 1;
    });
    const once = loop.serial((signal) => {
      events.push(`once (aborted: ${signal.aborted})`);
      return Promise.resolve('done');
    });
    const failing = loop.serial(() => Promise.reject(new Error('refused')));
    const after = loop.serial(() => Promise.resolve('after'));
    release?.();
    assert.equal(await once, 'done');
    await assert.rejects(failing, /refused/);
    assert.equal(await after, 'after', 'a failed fetch does not block the queue');
    assert.deepEqual(events, ['poll start', 'poll end', 'once (aborted: false)']);
    await timers.nextPause();
    await loop.stop();
  });

  it('stop() aborts the poll in flight, cancels the pending pause, and start() after it runs anew', async () => {
    const timers = manualTimers();
    const loop = new PollLoop(schedule, { random: () => 0, setTimer: timers.setTimer });
    const signals: AbortSignal[] = [];
    const previous: Array<number | undefined> = [];
    let polls = 0;
    const poll = (signal: AbortSignal, prev: number | undefined): Promise<number> => {
      signals.push(signal);
      previous.push(prev);
      polls += 1;
      if (polls === 2) {
        // In flight until stop() aborts it.
        return new Promise((_resolve, reject) => signal.addEventListener('abort', () => reject(new Error('aborted'))));
      }
      return Promise.resolve(polls);
    };
    loop.start(poll);
    loop.start(() => assert.fail('a second start() while running is ignored'));
    await timers.nextPause();
    timers.fire();
    while (signals.length < 2) await new Promise<void>((resolve) => setImmediate(resolve));
    await loop.stop();
    assert.equal(signals[1]?.aborted, true, 'the poll in flight is aborted');
    assert.equal(polls, 2, 'no poll after stop()');
    assert.equal(timers.pending(), 0);

    loop.start(poll);
    await timers.nextPause();
    assert.equal(timers.pending(), 1);
    await loop.stop();
    assert.equal(timers.pending(), 0, 'stop() cancelled the pause it was in');
    assert.equal(signals[2]?.aborted, true);
    assert.notEqual(signals[2], signals[1], 'a new run has a new signal');
    assert.deepEqual(previous, [undefined, 1, undefined]);

    // A one-off fetch after stop() (an operator's reload while the loop is down) runs, unaborted.
    const once = await loop.serial((signal) => Promise.resolve(signal.aborted));
    assert.equal(once, false, 'a fetch after stop() gets a fresh signal');
  });
});
