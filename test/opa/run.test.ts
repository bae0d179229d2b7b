/**
 * Running opa as a child: a child that exits without reading its input is a
 * result (its exit status), never an unhandled EPIPE that ends the agent.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runOpa } from '../../src/opa/run.js';

describe('runOpa', () => {
  it('resolves with the exit status when the child exits before reading a large input (no EPIPE crash)', async () => {
    // `true` ignores its arguments and stdin and exits at once; 16 MiB cannot fit in a pipe buffer.
    const result = await runOpa('true', ['eval'], { stdin: 'x'.repeat(16 * 1024 * 1024) });
    assert.equal(result.status, 0);
    assert.equal(result.stdout, '');
  });
});
