import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { isWardenError } from '../../src/errors.js';
import { EventBus } from '../../src/notify/bus.js';
import type { WardenEvent } from '../../src/notify/events.js';
import {
  WebhookDispatcher,
  signWebhook,
  verifyWebhookSignature,
  type DeadLetterRecord,
  type WebhookConfig,
} from '../../src/notify/webhooks.js';
import { createLogger } from '../../src/observe/logger.js';
import { tempDir } from '../helpers/fs.js';
import { eventually } from '../helpers/wait.js';

const log = createLogger('silent');
const secret = randomBytes(32);

interface Received {
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  readonly at: number;
  /** What verifyWebhookSignature said on arrival. */
  readonly verified: boolean;
}
interface Receiver {
  readonly url: string;
  readonly got: Received[];
}

const servers: Server[] = [];
after(() => {
  for (const s of servers) {
    s.closeAllConnections();
    s.close();
  }
});

// A real receiver on 127.0.0.1 that verifies each request and answers `answer(n)` (n from 1).
async function receiver(answer: (n: number) => number | Promise<number>): Promise<Receiver> {
  const got: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const header = req.headers['x-warden-signature'];
      const verified = verifyWebhookSignature(
        secret,
        typeof header === 'string' ? header : undefined,
        body,
        Date.now() / 1000,
        300,
      );
      got.push({ headers: req.headers, body, at: performance.now(), verified });
      void Promise.resolve(answer(got.length)).then((status) => res.writeHead(status).end('ok'));
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, got };
}

function event(id: number): WardenEvent {
  return {
    id,
    type: 'policy.updated',
    pack: 'gov',
    at: '2025-01-01T00:00:00.000Z',
    data: { revision: `r${id}`, digest: 'sha256:ab' },
  };
}

function hook(url: string, extra: Partial<WebhookConfig> = {}): WebhookConfig {
  return {
    url,
    secret,
    timeoutSeconds: 2,
    maxAttempts: 3,
    backoff: { baseMs: 10, maxMs: 20 },
    deadLetterPath: join(tempDir(), 'dead.ndjson'),
    ...extra,
  };
}

// The lines of a dead-letter file, waiting up to 2 s for `count` of them.
async function deadLetters(path: string, count: number): Promise<DeadLetterRecord[]> {
  let lines: string[] = [];
  await eventually(
    async () => {
      lines = (await readFile(path, 'utf8').catch(() => '')).split('\n').filter((l) => l.length > 0);
      return lines.length >= count;
    },
    { timeoutMs: 2000, everyMs: 20, what: `${count} dead-letter records in ${path}` },
  );
  return lines.map((l) => JSON.parse(l) as DeadLetterRecord);
}

async function deliveries(registry: Registry, result: string): Promise<number> {
  const values = (await registry.getSingleMetric('warden_webhook_delivery_total')?.get())?.values ?? [];
  return values.filter((v) => v.labels.result === result).reduce((sum, v) => sum + v.value, 0);
}

describe('webhook signatures', () => {
  const body = JSON.stringify(event(1));
  const now = 1_750_000_000;
  const header = signWebhook(secret, body, now);

  it('verifies a fresh signature over the exact body', () => {
    assert.match(header, /^t=1750000000,v1=[0-9a-f]{64}$/);
    assert.equal(verifyWebhookSignature(secret, header, body, now + 10, 300), true);
    assert.equal(
      verifyWebhookSignature(secret, `${header},v1=${'0'.repeat(64)}`, body, now, 300),
      true,
      'one matching v1 among several',
    );
  });

  it('refuses a tampered body, another secret, an old or future timestamp, and malformed headers', () => {
    assert.equal(verifyWebhookSignature(secret, header, body.replace('r1', 'r2'), now, 300), false);
    assert.equal(verifyWebhookSignature(randomBytes(32), header, body, now, 300), false);
    assert.equal(verifyWebhookSignature(secret, header, body, now + 301, 300), false);
    assert.equal(verifyWebhookSignature(secret, header, body, now - 301, 300), false);
    for (const bad of [undefined, '', 'v1=abc', `t=${now}`, `t=x,v1=${'0'.repeat(64)}`, header.replace('t=', 't=1')]) {
      assert.equal(verifyWebhookSignature(secret, bad, body, now, 300), false, String(bad));
    }
  });
});

describe('WebhookDispatcher', () => {
  it('POSTs each event as signed JSON that the receiver can verify', async () => {
    const r = await receiver(() => 204);
    const bus = new EventBus({ log });
    new WebhookDispatcher({ bus, webhooks: [hook(r.url)], log });
    bus.publish(event(7));
    await bus.drain();
    const [got] = r.got;
    assert.ok(got);
    assert.equal(got.verified, true);
    assert.equal(got.body, JSON.stringify(event(7)));
    assert.equal(got.headers['content-type'], 'application/json');
    assert.equal(got.headers['x-warden-event'], 'policy.updated');
    assert.equal(got.headers['x-warden-delivery'], '7');
    const sig = String(got.headers['x-warden-signature']);
    assert.equal(
      verifyWebhookSignature(secret, sig, got.body.replace('r7', 'r8'), Date.now() / 1000, 300),
      false,
      'tampered body',
    );
    assert.equal(
      verifyWebhookSignature(secret, sig, got.body, Date.now() / 1000 + 600, 300),
      false,
      'replayed 10 minutes later',
    );
  });

  it('retries after 500s with growing delays and delivers on the third try', async () => {
    const r = await receiver((n) => (n <= 2 ? 500 : 200));
    const registry = new Registry();
    const bus = new EventBus({ log });
    const webhooks = [hook(r.url, { maxAttempts: 6, backoff: { baseMs: 100, maxMs: 1000 } })];
    new WebhookDispatcher({ bus, webhooks, log, registry, random: () => 0.5 });
    bus.publish(event(1));
    await bus.drain();
    assert.equal(r.got.length, 3);
    assert.ok(r.got.every((g) => g.verified && g.headers['x-warden-delivery'] === '1'));
    const [a, b, c] = r.got.map((g) => g.at);
    assert.ok(a !== undefined && b !== undefined && c !== undefined);
    // Equal jitter at r = 0.5: 75 ms, then 150 ms.
    assert.ok(b - a >= 70 && b - a < 140, `first gap ${b - a} ms`);
    assert.ok(c - b >= 145 && c - b < 300, `second gap ${c - b} ms`);
    assert.equal(await deliveries(registry, 'retry'), 2);
    assert.equal(await deliveries(registry, 'delivered'), 1);
    assert.equal(await deliveries(registry, 'dead_letter'), 0);
  });

  it('keeps events to one URL in order across retries', async () => {
    const r = await receiver((n) => (n === 1 ? 503 : 200));
    const bus = new EventBus({ log });
    new WebhookDispatcher({ bus, webhooks: [hook(r.url)], log });
    for (let i = 1; i <= 3; i++) bus.publish(event(i));
    await bus.drain();
    assert.deepEqual(
      r.got.map((g) => g.headers['x-warden-delivery']),
      ['1', '1', '2', '3'],
    );
  });

  it('writes a dead-letter record after the last attempt (error status, refused connection, timeout)', async () => {
    const failing = await receiver(() => 500);
    const hanging = await receiver(() => new Promise<number>(() => undefined));
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const refusedUrl = `http://user:pw@127.0.0.1:${(closed.address() as AddressInfo).port}/hook?token=x`;
    await new Promise((resolve) => closed.close(resolve));
    const registry = new Registry();
    const bus = new EventBus({ log });
    const webhooks = [
      hook(failing.url),
      hook(refusedUrl, { maxAttempts: 2 }),
      hook(hanging.url, { maxAttempts: 1, timeoutSeconds: 0.2 }),
    ];
    new WebhookDispatcher({ bus, webhooks, log, registry });
    bus.publish(event(42));
    await bus.drain();

    assert.equal(failing.got.length, 3);
    const [statusRec] = await deadLetters(webhooks[0]?.deadLetterPath ?? '', 1);
    assert.deepEqual(
      { ...statusRec, time: undefined },
      { time: undefined, url: failing.url, attempts: 3, last_error: 'HTTP 500', last_status: 500, event: event(42) },
    );
    assert.ok(Math.abs(Date.parse(statusRec?.time ?? '') - Date.now()) < 5000);

    const [refusedRec] = await deadLetters(webhooks[1]?.deadLetterPath ?? '', 1);
    assert.equal(
      refusedRec?.url,
      refusedUrl.replace('user:pw@', '').replace('?token=x', ''),
      'no credentials or query in records',
    );
    assert.equal(refusedRec?.attempts, 2);
    assert.match(refusedRec?.last_error ?? '', /ECONNREFUSED/);

    const [timeoutRec] = await deadLetters(webhooks[2]?.deadLetterPath ?? '', 1);
    assert.equal(timeoutRec?.attempts, 1);
    assert.match(timeoutRec?.last_error ?? '', /no answer within 200 ms/);
    assert.equal(await deliveries(registry, 'dead_letter'), 3);
    assert.equal(await deliveries(registry, 'retry'), 3);
  });

  it('does not let a slow receiver delay publish() or another webhook', async () => {
    // The slow receiver holds its first answer until the test has seen the fast one served.
    let answerSlow = (): void => undefined;
    const slowAnswered = new Promise<void>((resolve) => (answerSlow = resolve));
    const slow = await receiver(async (n) => {
      if (n === 1) await slowAnswered;
      return 200;
    });
    const fast = await receiver(() => 200);
    const bus = new EventBus({ log });
    new WebhookDispatcher({ bus, webhooks: [hook(slow.url, { timeoutSeconds: 5 }), hook(fast.url)], log });
    const t0 = performance.now();
    bus.publish(event(1));
    bus.publish(event(2));
    const publishMs = performance.now() - t0;
    // Bounds stay well under the slow receiver's 2 s, and loose for a loaded machine.
    assert.ok(publishMs < 500, `publish took ${publishMs} ms`);
    await eventually(() => fast.got.length >= 2 && slow.got.length >= 1, { timeoutMs: 2000 });
    assert.deepEqual(
      fast.got.map((g) => g.headers['x-warden-delivery']),
      ['1', '2'],
    );
    assert.ok((fast.got[1]?.at ?? Infinity) - t0 < 1000, 'fast receiver served before the slow one answered');
    assert.equal(slow.got.length, 1, 'slow receiver still on the first event');
    answerSlow();
    await bus.drain(6000);
    assert.deepEqual(
      slow.got.map((g) => g.headers['x-warden-delivery']),
      ['1', '2'],
    );
  });

  it('dead-letters events dropped from a full queue, and what is left at close()', async () => {
    const r = await receiver(() => 500);
    const bus = new EventBus({ log, queueLimit: 2 });
    const config = hook(r.url, { maxAttempts: 5, backoff: { baseMs: 5000, maxMs: 5000 } });
    const dispatcher = new WebhookDispatcher({ bus, webhooks: [config], log });
    for (let i = 1; i <= 3; i++) bus.publish(event(i)); // 1 is dropped at once
    const [dropped] = await deadLetters(config.deadLetterPath, 1);
    assert.equal(dropped?.event.id, 1);
    assert.equal(dropped?.attempts, 0);
    const t0 = performance.now();
    // 2 gets its first attempt, then waits 5 s to retry: cut short. The grace (each of close()'s two
    // drains) leaves a loaded machine time to dead-letter 3 after the stop; 200 ms did not always.
    await dispatcher.close(1000);
    assert.ok(performance.now() - t0 < 4500, 'close() does not wait out the 5 s backoff');
    const text = await readFile(config.deadLetterPath, 'utf8');
    const records = text
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as DeadLetterRecord);
    assert.deepEqual(
      records.map((d) => [d.event.id, d.attempts, d.last_error]),
      [
        [1, 0, 'dropped: the webhook queue was full'],
        [2, 1, 'HTTP 500'],
        [3, 0, 'stopped before the first attempt'],
      ],
    );
    assert.equal(r.got.length, 1, 'no attempt after close()');
    bus.publish(event(4));
    await bus.close();
    assert.equal(r.got.length, 1, 'unsubscribed');
  });

  it('refuses bad settings, listing every bad field', () => {
    const bad: WebhookConfig = {
      url: 'ftp://x',
      secret: Buffer.from('short'),
      events: [],
      maxAttempts: 0,
      timeoutSeconds: -1,
      deadLetterPath: '',
    };
    assert.throws(
      () => new WebhookDispatcher({ bus: new EventBus({ log }), webhooks: [hook('http://127.0.0.1:1/'), bad], log }),
      (err: unknown) => {
        assert.ok(isWardenError(err, 'CONFIG_INVALID'));
        for (const f of ['url', 'secret', 'events', 'maxAttempts', 'timeoutSeconds', 'deadLetterPath'])
          assert.match(err.message, new RegExp(`webhooks\\[1\\]\\.${f}:`));
        assert.doesNotMatch(err.message, /webhooks\[0\]/);
        return true;
      },
    );
  });
});
