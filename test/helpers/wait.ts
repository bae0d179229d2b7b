/**
 * The one polling helper of the test suite: waits for a condition that
 * another process, server or timer makes true (an agent reloading, a webhook
 * arriving, a frame streamed), so no test sleeps a fixed time and hopes.
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';

/** How long and how often `eventually` looks, and what it reports when the time is up. */
export interface EventuallyOptions {
  /** Fail after this long; default 10 s. */
  readonly timeoutMs?: number;
  /** Pause between two looks; default 25 ms. */
  readonly everyMs?: number;
  /** What was awaited, for the failure message (a function: computed only on failure). */
  readonly what?: string | (() => string);
}

/**
 * Resolves once `check` holds; a throw or rejection counts as "not yet" (the
 * last one is named in the failure). Fails the test after `timeoutMs`.
 */
export async function eventually(check: () => boolean | Promise<boolean>, opts: EventuallyOptions = {}): Promise<void> {
  const { timeoutMs = 10_000, everyMs = 25 } = opts;
  const end = performance.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      if (await check()) return;
    } catch (err) {
      lastError = err;
    }
    if (performance.now() > end) break;
    await sleep(everyMs);
  }
  const what = typeof opts.what === 'function' ? opts.what() : (opts.what ?? 'condition');
  const why =
    lastError === undefined
      ? ''
      : ` (last error: ${lastError instanceof Error ? lastError.message : JSON.stringify(lastError)})`;
  assert.fail(`${what} not met within ${timeoutMs} ms${why}`);
}
