/**
 * Assertions on Warden's coded errors.
 */
import assert from 'node:assert/strict';
import { WardenError, type ErrorCode } from '../../src/errors.js';

/** Asserts the promise rejects with a WardenError of this code (naming what came instead); returns it. */
export async function rejectsCode(p: Promise<unknown>, code: ErrorCode): Promise<WardenError> {
  const err = await p.then(
    () => assert.fail(`expected ${code}, but it resolved`),
    (e: unknown) => e,
  );
  assert.ok(err instanceof WardenError, `expected a WardenError ${code}, got ${String(err)}`);
  assert.equal(err.code, code, err.message);
  return err;
}
