import assert from 'node:assert/strict';
import { get, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { registerEventStream, type GapMessage } from '../../src/admin/events-route.js';
import { toWardenError } from '../../src/errors.js';
import { EventLog } from '../../src/notify/event-log.js';
import type { NewEvent, WardenEvent } from '../../src/notify/events.js';
import { tempDir } from '../helpers/fs.js';
import { eventually } from '../helpers/wait.js';

/** One parsed SSE block. */
interface Frame {
  readonly id?: string;
  readonly event?: string;
  readonly data?: string;
  readonly comments: readonly string[];
}

// A minimal SSE client on a raw http.get: parses frames as they arrive.
class SseClient {
  readonly frames: Frame[] = [];
  ended = false;
  /** Everything received, unparsed. */
  raw = '';
  private buf = '';

  private constructor(readonly res: IncomingMessage) {
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      this.raw += chunk;
      this.buf += chunk;
      let end: number;
      while ((end = this.buf.indexOf('\n\n')) >= 0) {
        this.frames.push(parseBlock(this.buf.slice(0, end)));
        this.buf = this.buf.slice(end + 2);
      }
    });
    res.on('end', () => {
      this.ended = true;
    });
  }

  static connect(port: number, query = '', headers: Record<string, string> = {}): Promise<SseClient> {
    return new Promise((resolve, reject) => {
      get({ host: '127.0.0.1', port, path: `/v1/admin/events${query}`, headers }, (res) =>
        resolve(new SseClient(res)),
      ).on('error', reject);
    });
  }

  /** Frames carrying data (dispatched events), in order. */
  events(): Frame[] {
    return this.frames.filter((f) => f.data !== undefined);
  }

  /** Waits until `done()` holds, failing after a second with the frames received. */
  until(done: () => boolean, what: string): Promise<void> {
    return eventually(done, {
      timeoutMs: 1000,
      everyMs: 5,
      what: () => `${what}; frames: ${JSON.stringify(this.frames)}`,
    });
  }

  /** Ids of the received events. */
  ids(): number[] {
    return this.events()
      .filter((f) => f.event !== 'gap')
      .map((f) => Number(f.id));
  }

  close(): void {
    this.res.destroy();
  }
}

// Parses one SSE block ("field: value" lines; ":" lines are comments).
function parseBlock(block: string): Frame {
  const fields: Record<string, string> = {};
  const comments: string[] = [];
  for (const line of block.split('\n')) {
    if (line.startsWith(':')) comments.push(line.slice(1).trim());
    else {
      const colon = line.indexOf(':');
      fields[line.slice(0, colon)] = line.slice(colon + 1).replace(/^ /, '');
    }
  }
  return { id: fields.id, event: fields.event, data: fields.data, comments };
}

// A distinct event numbered n.
const ev = (n: number): NewEvent => ({
  type: 'policy.updated',
  pack: 'authz',
  at: new Date().toISOString(),
  data: { n },
});

const apps: FastifyInstance[] = [];
const logs: EventLog[] = [];
after(async () => {
  for (const app of apps) await app.close();
  for (const log of logs) await log.close();
});

// A Fastify app on 127.0.0.1:0 with the route registered in an admin scope (its error handler answers {code, message}).
async function serve(
  opts: { maxEvents?: number; heartbeatSeconds?: number; auth?: boolean } = {},
): Promise<{ app: FastifyInstance; log: EventLog; port: number }> {
  const log = await EventLog.open(join(tempDir(), 'events.ndjson'), { maxEvents: opts.maxEvents ?? 100 });
  logs.push(log);
  const app = Fastify();
  app.setErrorHandler((err, _req, reply) => {
    const e = toWardenError(err);
    void reply.code(e.kind === 'usage' ? 400 : 500).send({ code: e.code, message: e.message });
  });
  await app.register((scope, _o, done) => {
    if (opts.auth === true)
      scope.addHook('preHandler', async (req, reply) =>
        req.headers.authorization === 'Bearer ok'
          ? undefined
          : reply.code(401).send({ code: 'UNAUTHORIZED', message: 'no' }),
      );
    registerEventStream(scope, log, { heartbeatSeconds: opts.heartbeatSeconds ?? 60 });
    done();
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  apps.push(app);
  return { app, log, port: (app.server.address() as AddressInfo).port };
}

describe('GET /v1/admin/events', () => {
  it('streams live events as SSE frames with id, type and JSON data', async () => {
    const { log, port } = await serve();
    await log.append(ev(0));
    const c = await SseClient.connect(port);
    assert.equal(c.res.statusCode, 200);
    assert.equal(c.res.headers['content-type'], 'text/event-stream');
    assert.equal(c.res.headers['cache-control'], 'no-cache');
    await c.until(() => c.frames.length >= 1, 'the opening id');
    assert.deepEqual(
      c.frames[0],
      { id: '1', event: undefined, data: undefined, comments: [] },
      'a bare id marks where a reconnect resumes',
    );
    const sent = [await log.append(ev(1)), await log.append(ev(2))];
    await c.until(() => c.events().length >= 2, 'two events');
    assert.deepEqual(c.ids(), [2, 3]);
    assert.equal(c.events()[0]?.event, 'policy.updated');
    assert.deepEqual(
      c.events().map((f) => JSON.parse(f.data ?? '') as WardenEvent),
      sent,
    );
    c.close();
  });

  it('replays exactly the missed events after a reconnect with Last-Event-ID, then streams live', async () => {
    const { log, port } = await serve();
    const first = await SseClient.connect(port);
    await log.append(ev(1));
    await log.append(ev(2));
    await first.until(() => first.events().length === 2, 'two events');
    const lastSeen = first.events().at(-1)?.id ?? '';
    first.close();
    for (let n = 3; n <= 5; n++) await log.append(ev(n));
    const again = await SseClient.connect(port, '', { 'Last-Event-ID': lastSeen });
    await again.until(() => again.events().length >= 3, 'the replay');
    assert.deepEqual(again.ids(), [3, 4, 5]);
    await log.append(ev(6));
    await again.until(() => again.events().length >= 4, 'a live event');
    // "No duplicate follows" is what is tested: a short real wait in which nothing more may arrive.
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(again.ids(), [3, 4, 5, 6], 'no duplicates, in order');
    again.close();
  });

  it('has neither gaps nor duplicates when events arrive while the client reconnects', async () => {
    const { log, port } = await serve();
    for (let n = 1; n <= 5; n++) await log.append(ev(n));
    const appending = (async () => {
      for (let n = 6; n <= 40; n++) await log.append(ev(n));
    })();
    const c = await SseClient.connect(port, '?last_event_id=2');
    await appending;
    await c.until(() => c.ids().at(-1) === 40, 'event 40');
    assert.deepEqual(
      c.ids(),
      Array.from({ length: 38 }, (_, i) => i + 3),
    );
    c.close();
  });

  it('sends a gap event first when the requested id is older than the log holds', async () => {
    const { log, port } = await serve({ maxEvents: 3 });
    for (let n = 1; n <= 10; n++) await log.append(ev(n));
    const c = await SseClient.connect(port, '', { 'Last-Event-ID': '2' });
    await c.until(() => c.events().length >= 4, 'gap and replay');
    const [gap, ...rest] = c.events();
    assert.equal(gap?.event, 'gap');
    assert.equal(gap?.id, undefined, 'a gap does not move the client’s Last-Event-ID');
    const body = JSON.parse(gap?.data ?? '') as GapMessage;
    assert.deepEqual({ ...body, message: '' }, { reason: 'expired', requested: 2, oldest: 8, last: 10, message: '' });
    assert.deepEqual(
      rest.map((f) => Number(f.id)),
      [8, 9, 10],
    );
    c.close();
  });

  it('sends a reset gap for an id beyond anything the log issued, then everything held', async () => {
    const { log, port } = await serve();
    await log.append(ev(1));
    const c = await SseClient.connect(port, '?last_event_id=99');
    await c.until(() => c.events().length >= 2, 'gap and replay');
    assert.equal((JSON.parse(c.events()[0]?.data ?? '') as GapMessage).reason, 'reset');
    assert.deepEqual(c.ids(), [1]);
    c.close();
  });

  it('answers a malformed Last-Event-ID with 400 EVENT_ID_INVALID', async () => {
    const { port } = await serve();
    const c = await SseClient.connect(port, '', { 'Last-Event-ID': 'abc' });
    assert.equal(c.res.statusCode, 400);
    await c.until(() => c.ended, 'the answer');
    assert.equal((JSON.parse(c.raw) as { code: string }).code, 'EVENT_ID_INVALID');
  });

  it('removes its listener when the client disconnects', async () => {
    const { log, port } = await serve();
    const a = await SseClient.connect(port);
    const b = await SseClient.connect(port);
    await a.until(() => log.listenerCount() === 2, 'two listeners');
    a.close();
    await b.until(() => log.listenerCount() === 1, 'one listener after a disconnect');
    b.close();
    await b.until(() => log.listenerCount() === 0, 'no listener');
    await log.append(ev(1));
  });

  it('sends heartbeat comments', async () => {
    const { port } = await serve({ heartbeatSeconds: 0.02 });
    const c = await SseClient.connect(port);
    await c.until(() => c.frames.some((f) => f.comments.includes('ping')), 'a ping');
    c.close();
  });

  it('runs the scope’s preHandler (authentication) before streaming', async () => {
    const { port } = await serve({ auth: true });
    const denied = await SseClient.connect(port);
    assert.equal(denied.res.statusCode, 401);
    denied.close();
    const allowed = await SseClient.connect(port, '', { authorization: 'Bearer ok' });
    assert.equal(allowed.res.statusCode, 200);
    allowed.close();
  });

  it('ends open streams when the app closes', async () => {
    const { app, log, port } = await serve();
    const c = await SseClient.connect(port);
    apps.splice(apps.indexOf(app), 1);
    await app.close();
    await c.until(() => c.ended, 'the stream to end');
    assert.equal(log.listenerCount(), 0);
  });
});
