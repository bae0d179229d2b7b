/**
 * Polling for tests that wait on another process (an agent reloading, a webhook arriving).
 */
import assert from 'node:assert/strict';

/** Resolves once `fn` holds (a rejection counts as "not yet"); fails the test after timeoutMs. */
export async function eventually(fn: () => Promise<boolean>, timeoutMs = 10_000, everyMs = 50): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await fn().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  assert.fail(`condition not met within ${timeoutMs} ms`);
}
