/**
 * The agent's shutdown list (src/agent/closers.ts): the order a running
 * agent's close() and a failed start undo their parts in.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Closers } from '../../src/agent/closers.js';

describe('Closers', () => {
  it('closes last-in-first-out, each awaited before the next', async () => {
    const closers = new Closers();
    const order: string[] = [];
    for (const name of ['store', 'events', 'sources', 'server']) {
      closers.push(async () => {
        await Promise.resolve();
        order.push(name);
      });
    }
    await closers.close();
    assert.deepEqual(order, ['server', 'sources', 'events', 'store']);
  });

  it('runs every closer when one fails, then rethrows the first failure met (newest first)', async () => {
    const closers = new Closers();
    const order: string[] = [];
    closers.push(() => void order.push('store'));
    closers.push(() => {
      throw new Error('first');
    });
    closers.push(() => Promise.reject(new Error('second')));
    await assert.rejects(closers.close(), /second/);
    assert.deepEqual(order, ['store']);
  });

  it('closes nothing twice', async () => {
    const closers = new Closers();
    let closed = 0;
    closers.push(() => void (closed += 1));
    await closers.close();
    await closers.close();
    assert.equal(closed, 1);
  });
});
