import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { Registry } from 'prom-client';
import { EventBus } from '../../src/notify/bus.js';
import type { WardenEvent, WardenEventType } from '../../src/notify/events.js';
import { createLogger } from '../../src/observe/logger.js';

const log = createLogger('silent');

function event(id: number, type: WardenEventType = 'policy.updated'): WardenEvent {
  return { id, type, pack: 'gov', at: new Date(0).toISOString(), data: { revision: id } };
}

// The value of one counter series, 0 if it was never incremented.
async function metric(registry: Registry, name: string, subscriber: string): Promise<number> {
  const m = registry.getSingleMetric(name);
  const values = m === undefined ? [] : (await m.get()).values;
  return values.find((v) => v.labels.subscriber === subscriber)?.value ?? 0;
}

describe('EventBus', () => {
  it('delivers to each subscriber in publish order, filtered by type', async () => {
    const bus = new EventBus({ log });
    const all: number[] = [];
    const pins: number[] = [];
    bus.subscribe('*', async (e) => {
      await delay(Math.random() * 3); // uneven handler times must not reorder
      all.push(e.id);
    });
    bus.subscribe(['policy.pinned', 'policy.unpinned'], (e) => void pins.push(e.id));
    for (let i = 1; i <= 30; i++) bus.publish(event(i, i % 3 === 0 ? 'policy.pinned' : 'policy.updated'));
    await bus.drain();
    assert.deepEqual(
      all,
      Array.from({ length: 30 }, (_, i) => i + 1),
    );
    assert.deepEqual(pins, [3, 6, 9, 12, 15, 18, 21, 24, 27, 30]);
  });

  it('never runs a handler inside publish', async () => {
    const bus = new EventBus({ log });
    let ran = false;
    bus.subscribe('*', () => {
      ran = true;
    });
    bus.publish(event(1));
    assert.equal(ran, false);
    await bus.drain();
    assert.equal(ran, true);
  });

  it('keeps delivering after a handler throws or rejects, to it and to the others', async () => {
    const registry = new Registry();
    const bus = new EventBus({ log, registry });
    const seenByFaulty: number[] = [];
    const seenByHealthy: number[] = [];
    bus.subscribe(
      '*',
      (e) => {
        seenByFaulty.push(e.id);
        if (e.id % 2 === 0) throw new Error('sync boom');
        return Promise.reject(new Error('async boom'));
      },
      { name: 'faulty' },
    );
    bus.subscribe('*', (e) => void seenByHealthy.push(e.id), { name: 'healthy' });
    for (let i = 1; i <= 5; i++) bus.publish(event(i));
    await bus.drain();
    assert.deepEqual(seenByFaulty, [1, 2, 3, 4, 5]);
    assert.deepEqual(seenByHealthy, [1, 2, 3, 4, 5]);
    assert.equal(await metric(registry, 'warden_event_handler_failure_total', 'faulty'), 5);
    assert.equal(await metric(registry, 'warden_event_delivered_total', 'faulty'), 0);
    assert.equal(await metric(registry, 'warden_event_delivered_total', 'healthy'), 5);
  });

  it('does not let a slow handler delay another subscriber', async () => {
    const bus = new EventBus({ log });
    const t0 = performance.now();
    const fastAt: number[] = [];
    let slowDone = 0;
    bus.subscribe('*', async () => {
      await delay(300);
      slowDone += 1;
    });
    bus.subscribe('*', () => void fastAt.push(performance.now() - t0));
    for (let i = 1; i <= 3; i++) bus.publish(event(i));
    const publishMs = performance.now() - t0;
    await delay(150);
    // Bounds are half the slow handler's 300 ms: far from it, and loose for a loaded machine.
    assert.ok(publishMs < 150, `publish took ${publishMs} ms`);
    assert.equal(fastAt.length, 3);
    assert.ok(Math.max(...fastAt) < 150, `fast subscriber got its last event after ${Math.max(...fastAt)} ms`);
    assert.equal(slowDone, 0, 'the slow one is still on its first event');
    await bus.drain();
    assert.equal(slowDone, 3);
  });

  it('drops the oldest events of a full queue, counts them and reports them', async () => {
    const registry = new Registry();
    const bus = new EventBus({ log, registry, queueLimit: 3 });
    const got: number[] = [];
    const dropped: number[] = [];
    bus.subscribe('*', (e) => void got.push(e.id), { name: 'small', onDrop: (e) => dropped.push(e.id) });
    for (let i = 1; i <= 10; i++) bus.publish(event(i));
    assert.equal(bus.queued, 3);
    await bus.drain();
    assert.deepEqual(got, [8, 9, 10]);
    assert.deepEqual(dropped, [1, 2, 3, 4, 5, 6, 7]);
    assert.equal(await metric(registry, 'warden_event_dropped_total', 'small'), 7);
    assert.equal(await metric(registry, 'warden_event_delivered_total', 'small'), 3);
  });

  it('drain waits for queued and running deliveries', async () => {
    const bus = new EventBus({ log });
    const got: number[] = [];
    bus.subscribe('*', async (e) => {
      await delay(30);
      got.push(e.id);
    });
    for (let i = 1; i <= 5; i++) bus.publish(event(i));
    await bus.drain();
    assert.deepEqual(got, [1, 2, 3, 4, 5]);
    assert.equal(bus.queued, 0);
  });

  it('drain gives up at its timeout when a handler hangs', async () => {
    const bus = new EventBus({ log });
    bus.subscribe('*', () => new Promise<void>(() => undefined));
    bus.publish(event(1));
    bus.publish(event(2));
    const t0 = performance.now();
    await bus.drain(150);
    const waited = performance.now() - t0;
    assert.ok(waited >= 140 && waited < 1000, `drain waited ${waited} ms`);
    assert.equal(bus.queued, 1);
  });

  it('stops delivering to a subscriber once it unsubscribes', async () => {
    const bus = new EventBus({ log });
    const got: number[] = [];
    const unsubscribe = bus.subscribe('*', (e) => void got.push(e.id));
    bus.publish(event(1));
    await bus.drain();
    bus.publish(event(2)); // queued, not yet delivered: discarded too
    unsubscribe();
    bus.publish(event(3));
    await bus.drain();
    assert.deepEqual(got, [1]);
  });

  it('ignores events published after close, having delivered the earlier ones', async () => {
    const bus = new EventBus({ log });
    const got: number[] = [];
    bus.subscribe('*', async (e) => {
      await delay(20);
      got.push(e.id);
    });
    bus.publish(event(1));
    bus.publish(event(2));
    await bus.close();
    bus.publish(event(3));
    await delay(50);
    assert.deepEqual(got, [1, 2]);
  });

  it('lets two buses share one registry', () => {
    const registry = new Registry();
    assert.doesNotThrow(() => {
      new EventBus({ log, registry });
      new EventBus({ log, registry });
    });
  });
});
