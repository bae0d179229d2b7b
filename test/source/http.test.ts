import assert from 'node:assert/strict';
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { Server as HttpsServer, createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { WardenError, type ErrorCode } from '../../src/errors.js';
import { createLogger } from '../../src/observe/logger.js';
import { WardenMetrics } from '../../src/observe/metrics.js';
import { noneMatch } from '../../src/pack-server/pack-routes.js';
import { HttpSource, type HttpSourceConfig, type SetTimer } from '../../src/source/http.js';
import type { PackUpdate, SourceContext, UpdateOutcome } from '../../src/source/types.js';
import { startPackServer } from '../../src/pack-server/pack-server.js';
import { tempDir } from '../helpers/fs.js';
import { hasOpenssl, makePki } from '../helpers/pki.js';
import { pack, publish } from '../helpers/pack-server.js';
import { rejectsCode } from '../helpers/errors.js';
import { eventually } from '../helpers/wait.js';

type Route = (req: IncomingMessage, res: ServerResponse) => void;
interface Seen {
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly at: number;
}
interface TestServer {
  readonly base: string;
  readonly seen: Seen[];
}

const PACK_PATH = '/v1/policy/packs/gov';
const servers: (Server | HttpsServer)[] = [];
after(() => {
  for (const s of servers) {
    s.closeAllConnections();
    s.close();
  }
});

// Starts a real server on 127.0.0.1 (port 0) that records every request it sees.
async function serve(route: Route, server: Server | HttpsServer = createServer()): Promise<TestServer> {
  const seen: Seen[] = [];
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    seen.push({ path: req.url ?? '', headers: req.headers, at: performance.now() });
    res.on('error', () => undefined);
    route(req, res);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { base: `${server instanceof HttpsServer ? 'https' : 'http'}://127.0.0.1:${port}`, seen };
}

// A pack server (docs/design.md#the-pack-server-protocol) over mutable state: ETag, 304 on an If-None-Match list, signature beside the pack (with an ETag when sigEtag is set).
function packRoute(state: { body: Buffer; etag: string; sigStatus?: number; sig?: string; sigEtag?: string }): Route {
  return (req, res) => {
    if (req.url?.endsWith('.sigstore.json') === true) {
      if (state.sigEtag !== undefined && noneMatch(req.headers['if-none-match'], state.sigEtag))
        return void res.writeHead(304, { etag: state.sigEtag }).end();
      res
        .writeHead(state.sigStatus ?? 200, state.sigEtag === undefined ? {} : { etag: state.sigEtag })
        .end(state.sig ?? `{"sig":"${state.etag}"}`);
    } else if (noneMatch(req.headers['if-none-match'], state.etag)) {
      res.writeHead(304, { etag: state.etag }).end();
    } else {
      res.writeHead(200, { etag: state.etag, 'content-length': state.body.length }).end(state.body);
    }
  };
}

// A SourceContext whose logs, confirmations and errors the test can read.
function context() {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString('utf8').split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  const errors: WardenError[] = [];
  const counts = { confirmed: 0 };
  const metrics = new WardenMetrics({ defaultMetrics: false });
  const ctx: SourceContext = {
    pack: 'gov',
    log: createLogger('debug', sink),
    metrics,
    onConfirmed: () => void counts.confirmed++,
    onFetchError: (e) => void errors.push(e),
  };
  return { ctx, lines, errors, counts, metrics };
}

function config(url: string, over: Partial<HttpSourceConfig> = {}): HttpSourceConfig {
  return {
    url,
    pollMinSeconds: 0.05,
    pollMaxSeconds: 0.1,
    longPollSeconds: 0,
    timeoutSeconds: 2,
    maxBytes: 1024 * 1024,
    ...over,
  };
}

// A handler that records updates and answers with `outcome` (or activates).
function recorder(outcome?: (u: PackUpdate) => UpdateOutcome) {
  const updates: PackUpdate[] = [];
  const handler = (u: PackUpdate): Promise<UpdateOutcome> => {
    updates.push(u);
    return Promise.resolve(outcome ? outcome(u) : { status: 'activated', digest: `sha256:${u.etag ?? ''}` });
  };
  return { updates, handler };
}

describe('HttpSource.fetchOnce', () => {
  it('sends If-None-Match with the activated ETag and treats 304 as confirmed, without calling the handler', async () => {
    const srv = await serve(packRoute({ body: Buffer.from('pack'), etag: '"abc"' }));
    const { ctx, counts } = context();
    const source = new HttpSource(config(srv.base + PACK_PATH), ctx);
    source.setActive('"abc"');
    const rec = recorder();
    assert.equal(await source.fetchOnce(rec.handler), undefined);
    assert.equal(rec.updates.length, 0);
    assert.equal(counts.confirmed, 1);
    const h = srv.seen[0]?.headers;
    assert.equal(h?.['if-none-match'], '"abc"');
    assert.match(String(h?.['user-agent']), /^warden\/\d+\.\d+\.\d+/);
    assert.equal(h?.prefer, undefined);
  });

  it('hands a 200 to the handler with pack, signature, ETag and the correlation id the server saw', async () => {
    const srv = await serve(packRoute({ body: Buffer.from('pack-v1'), etag: '"v1"' }));
    const { ctx, counts, lines } = context();
    const source = new HttpSource(config(srv.base + PACK_PATH), ctx);
    const rec = recorder();
    assert.deepEqual(await source.fetchOnce(rec.handler), { status: 'activated', digest: 'sha256:"v1"' });
    const u = rec.updates[0];
    assert.ok(u);
    assert.equal(u.pack.toString(), 'pack-v1');
    assert.equal(u.signature?.toString(), '{"sig":""v1""}');
    assert.equal(u.etag, '"v1"');
    assert.equal(u.origin, srv.base + PACK_PATH);
    assert.deepEqual(
      srv.seen.map((s) => [s.path, s.headers['x-request-id']]),
      [
        [PACK_PATH, u.correlationId],
        [`${PACK_PATH}.sigstore.json`, u.correlationId],
      ],
    );
    assert.equal(srv.seen[0]?.headers['if-none-match'], undefined);
    assert.equal(counts.confirmed, 1);
    assert.ok(lines.length > 0 && lines.every((l) => l.correlation_id === u.correlationId && l.pack === 'gov'));
    // The next request asks relative to what was activated.
    assert.equal(await source.fetchOnce(rec.handler), undefined);
    assert.equal(srv.seen[2]?.headers['if-none-match'], '"v1"');
  });

  it('hands a non-tarball 200 to the handler as it is (verification is downstream)', async () => {
    const srv = await serve(packRoute({ body: Buffer.from('<html>not a pack</html>'), etag: '"x"' }));
    const rec = recorder();
    await new HttpSource(config(srv.base + PACK_PATH), context().ctx).fetchOnce(rec.handler);
    assert.equal(rec.updates[0]?.pack.toString(), '<html>not a pack</html>');
  });

  it('fetches the signature from a configured signature URL', async () => {
    const srv = await serve(packRoute({ body: Buffer.from('p'), etag: '"s"' }));
    const rec = recorder();
    await new HttpSource(
      config(srv.base + PACK_PATH, { signatureUrl: `${srv.base}/sigs/gov.sigstore.json` }),
      context().ctx,
    ).fetchOnce(rec.handler);
    assert.equal(srv.seen[1]?.path, '/sigs/gov.sigstore.json');
    assert.ok(rec.updates[0]?.signature);
  });

  it('never runs two fetches at once', async () => {
    let open = 0;
    let most = 0;
    const route = packRoute({ body: Buffer.from('p'), etag: '"c"' });
    const srv = await serve((req, res) => {
      most = Math.max(most, ++open);
      res.on('close', () => open--);
      setTimeout(() => route(req, res), 30);
    });
    const source = new HttpSource(config(srv.base + PACK_PATH), context().ctx);
    const rec = recorder();
    await Promise.all([source.fetchOnce(rec.handler), source.fetchOnce(rec.handler), source.fetchOnce(rec.handler)]);
    assert.equal(most, 1);
    assert.equal(rec.updates.length, 1, 'the 2nd and 3rd fetch asked with the ETag the 1st activated');
  });
});

// A handler refusing with `code` while `refusing.on`, else activating (digest = the ETag).
function refuser(code: ErrorCode, refusing = { on: true }) {
  return recorder((u) =>
    refusing.on
      ? { status: 'refused', error: new WardenError(code, `refused: ${code}`) }
      : { status: 'activated', digest: String(u.etag) },
  );
}

// The value of policy_refused_unchanged_total for pack gov.
async function skipped(metrics: WardenMetrics): Promise<number> {
  return (
    (await metrics.refusedUnchanged.get()).values.find((v) => v.labels.pack === 'gov' && v.labels.source === 'http')
      ?.value ?? 0
  );
}

const packRequests = (srv: TestServer): Seen[] => srv.seen.filter((s) => s.path === PACK_PATH);
const signatureRequests = (srv: TestServer): Seen[] => srv.seen.filter((s) => s.path === `${PACK_PATH}.sigstore.json`);

describe('HttpSource after a refusal', () => {
  it('asks with the active and the refused ETag; a 304 for the refused one is skipped, counted, and confirms nothing', async () => {
    const state = { body: Buffer.from('pack-v2'), etag: '"v2"', sigEtag: '"s2"' };
    const srv = await serve(packRoute(state));
    const { ctx, counts, metrics } = context();
    const source = new HttpSource(config(srv.base + PACK_PATH), ctx);
    source.setActive('"v1"');
    const rec = refuser('SIGNATURE_INVALID');
    const first = await source.fetchOnce(rec.handler);
    assert.equal(first?.status, 'refused');
    for (let i = 0; i < 3; i++)
      assert.deepEqual(await source.fetchOnce(rec.handler), first, 'the remembered refusal, said again');
    assert.equal(rec.updates.length, 1, 'handed over once');
    assert.deepEqual(
      packRequests(srv).map((s) => s.headers['if-none-match']),
      ['"v1"', '"v1", "v2"', '"v1", "v2"', '"v1", "v2"'],
    );
    // The signature is asked for conditionally with its own remembered ETag (the pair may change on that side only).
    assert.deepEqual(
      signatureRequests(srv).map((s) => s.headers['if-none-match']),
      [undefined, '"s2"', '"s2"', '"s2"'],
    );
    assert.equal(counts.confirmed, 0, 'a 304 for the refused pack does not confirm the active one');
    assert.equal(await skipped(metrics), 3);
    // A new pack is fetched and handed over; after its activation only its ETag is sent.
    Object.assign(state, { body: Buffer.from('pack-v3'), etag: '"v3"', sigEtag: '"s3"' });
    const good = refuser('SIGNATURE_INVALID', { on: false });
    assert.equal((await source.fetchOnce(good.handler))?.status, 'activated');
    assert.equal(good.updates[0]?.pack.toString(), 'pack-v3');
    assert.equal(await source.fetchOnce(good.handler), undefined);
    assert.equal(packRequests(srv).at(-1)?.headers['if-none-match'], '"v3"');
    assert.equal(counts.confirmed, 2);
  });

  it('takes a 304 without ETag as the refused pack when both ETags were sent', async () => {
    const srv = await serve((req, res) => {
      if (req.url?.endsWith('.sigstore.json') === true) return void res.writeHead(200).end('{"sig":1}');
      if (noneMatch(req.headers['if-none-match'], '"v2"')) return void res.writeHead(304).end();
      res.writeHead(200, { etag: '"v2"' }).end('pack-v2');
    });
    const { ctx, counts, metrics } = context();
    const source = new HttpSource(config(srv.base + PACK_PATH), ctx);
    source.setActive('"v1"');
    const rec = refuser('PACK_DOWNGRADE');
    await source.fetchOnce(rec.handler);
    assert.equal((await source.fetchOnce(rec.handler))?.status, 'refused');
    assert.equal(rec.updates.length, 1);
    assert.equal(counts.confirmed, 0);
    assert.equal(await skipped(metrics), 1);
  });

  it('does not remember a transient refusal: the same pack is fetched and handed over again', async () => {
    const srv = await serve(packRoute({ body: Buffer.from('pack-v2'), etag: '"v2"' }));
    const { ctx, metrics } = context();
    const source = new HttpSource(config(srv.base + PACK_PATH), ctx);
    source.setActive('"v1"');
    const rec = refuser('OPA_FAILED');
    await source.fetchOnce(rec.handler);
    await source.fetchOnce(rec.handler);
    assert.equal(rec.updates.length, 2);
    assert.deepEqual(
      packRequests(srv).map((s) => s.headers['if-none-match']),
      ['"v1"', '"v1"'],
    );
    assert.equal(await skipped(metrics), 0);
  });

  it('fetches the pack again when only its signature changed, and hands over the new pair', async () => {
    const state = { body: Buffer.from('pack-v2'), etag: '"v2"', sig: 'wrong', sigEtag: '"s-wrong"' };
    const srv = await serve(packRoute(state));
    const { ctx, counts } = context();
    const source = new HttpSource(config(srv.base + PACK_PATH), ctx);
    source.setActive('"v1"');
    const refusing = { on: true };
    const rec = refuser('SIGNATURE_MISSING', refusing);
    await source.fetchOnce(rec.handler);
    assert.equal((await source.fetchOnce(rec.handler))?.status, 'refused');
    Object.assign(state, { sig: 'fixed', sigEtag: '"s-fixed"' });
    refusing.on = false;
    assert.equal((await source.fetchOnce(rec.handler))?.status, 'activated');
    assert.deepEqual(
      rec.updates.map((u) => [u.pack.toString(), u.signature?.toString()]),
      [
        ['pack-v2', 'wrong'],
        ['pack-v2', 'fixed'],
      ],
    );
    assert.equal(rec.updates[1]?.etag, '"v2"');
    // 3rd poll: 304 for the refused pack, signature changed (200), pack fetched again without a condition.
    assert.deepEqual(
      packRequests(srv).map((s) => s.headers['if-none-match']),
      ['"v1"', '"v1", "v2"', '"v1", "v2"', undefined],
    );
    assert.equal(await source.fetchOnce(rec.handler), undefined);
    assert.equal(packRequests(srv).at(-1)?.headers['if-none-match'], '"v2"');
    assert.equal(counts.confirmed, 2);
  });

  it('against a server without ETags: the same pack and signature are downloaded but not handed over again; a new signature is', async () => {
    const state = { pack: 'pack-v2', sig: 'bad' };
    const srv = await serve(
      (req, res) => void res.writeHead(200).end(req.url?.endsWith('.sigstore.json') === true ? state.sig : state.pack),
    );
    const { ctx, counts, metrics } = context();
    const source = new HttpSource(config(srv.base + PACK_PATH), ctx);
    const refusing = { on: true };
    const rec = refuser('SIGNATURE_INVALID', refusing);
    await source.fetchOnce(rec.handler);
    for (let i = 0; i < 2; i++) assert.equal((await source.fetchOnce(rec.handler))?.status, 'refused');
    assert.equal(rec.updates.length, 1);
    assert.equal(packRequests(srv).length, 3, 'downloaded every time: nothing to ask conditionally');
    assert.equal(await skipped(metrics), 2);
    state.sig = 'good';
    refusing.on = false;
    assert.equal((await source.fetchOnce(rec.handler))?.status, 'activated');
    assert.equal(rec.updates[1]?.signature?.toString(), 'good');
    assert.equal(counts.confirmed, 1);
  });

  it('a forced fetch forgets the refusal: the pack is fetched in full and handed over again', async () => {
    const srv = await serve(packRoute({ body: Buffer.from('pack-v2'), etag: '"v2"' }));
    const { ctx, metrics } = context();
    const source = new HttpSource(config(srv.base + PACK_PATH), ctx);
    source.setActive('"v1"');
    const rec = refuser('PACK_GOLDEN_FAILED');
    await source.fetchOnce(rec.handler);
    await source.fetchOnce(rec.handler, { force: true });
    assert.equal(rec.updates.length, 2);
    assert.deepEqual(
      packRequests(srv).map((s) => s.headers['if-none-match']),
      ['"v1"', '"v1"'],
    );
    await source.fetchOnce(rec.handler);
    assert.equal(rec.updates.length, 2, 'remembered again after the forced fetch refused it');
    assert.equal(await skipped(metrics), 1);
  });

  it('long-polls the reference pack server on the refused ETag: held while unchanged, woken by a new pack', async () => {
    const dir = tempDir('warden-refused-lp-');
    const bad = pack(1);
    await publish(dir, 'gov.tar.gz.sigstore.json', Buffer.from('{"not":"a bundle"}'));
    await publish(dir, 'gov.tar.gz', bad);
    const server = await startPackServer({ dir, host: '127.0.0.1', port: 0, maxWaitSeconds: 30 });
    const { ctx, metrics } = context();
    const source = new HttpSource(
      config(`${server.url}${PACK_PATH}`, { longPollSeconds: 20, pollMinSeconds: 10, pollMaxSeconds: 10 }),
      ctx,
    );
    const good = pack(2);
    const rec = recorder((u) =>
      u.pack.equals(good)
        ? { status: 'activated', digest: String(u.etag) }
        : { status: 'refused', error: new WardenError('SIGNATURE_BUNDLE_MALFORMED', 'bad') },
    );
    source.start(rec.handler);
    try {
      await eventually(() => rec.updates.length === 1 && server.waiting() === 1);
      assert.equal(await skipped(metrics), 0, 'held, not answered');
      await publish(dir, 'gov.tar.gz.sigstore.json', Buffer.from('{"good":1}'));
      await publish(dir, 'gov.tar.gz', good);
      await eventually(() => rec.updates.length === 2, { timeoutMs: 5000 });
      assert.deepEqual(rec.updates[1]?.pack, good);
      assert.equal(rec.updates[1]?.signature?.toString(), '{"good":1}');
      await eventually(() => server.waiting() === 1, { timeoutMs: 5000 }); // and waits on the server again, on the new pack
    } finally {
      await source.stop();
      await server.close();
    }
  });
});

describe('HttpSource against bad servers', () => {
  it('cuts off a body that drips forever: FETCH_TIMEOUT within the timeout', async () => {
    const srv = await serve((_req, res) => {
      res.writeHead(200);
      const drip = setInterval(() => res.write('x'), 20);
      res.on('close', () => clearInterval(drip));
    });
    const { ctx, errors, lines, metrics } = context();
    const started = performance.now();
    const err = await rejectsCode(
      new HttpSource(config(srv.base + PACK_PATH, { timeoutSeconds: 0.5 }), ctx).fetchOnce(recorder().handler),
      'FETCH_TIMEOUT',
    );
    const took = performance.now() - started;
    assert.ok(took >= 450 && took < 1200, `took ${took} ms`);
    assert.deepEqual(errors, [err]);
    const warn = lines.find((l) => l.msg === 'policy fetch failed');
    assert.equal(warn?.code, 'FETCH_TIMEOUT');
    assert.equal(typeof warn?.correlation_id, 'string');
    const failures = await metrics.fetchFailures.get();
    assert.deepEqual(
      failures.values.map((v) => [v.labels, v.value]),
      [[{ pack: 'gov', source: 'http', code: 'FETCH_TIMEOUT' }, 1]],
    );
  });

  it('refuses a declared Content-Length over the limit at the headers: FETCH_TOO_LARGE', async () => {
    const srv = await serve((_req, res) => {
      res.writeHead(200, { 'content-length': 50 * 1024 * 1024 }).write(Buffer.alloc(1024));
    });
    const err = await rejectsCode(
      new HttpSource(
        config(srv.base + PACK_PATH, { maxBytes: 64 * 1024, maxBytesKey: 'limits.max_pack_bytes' }),
        context().ctx,
      ).fetchOnce(recorder().handler),
      'FETCH_TOO_LARGE',
    );
    assert.equal(err.details.declared_bytes, 50 * 1024 * 1024);
    assert.match(err.message, /the response body is 52428800 bytes, over the limit \(limits\.max_pack_bytes: 65536\)$/);
    assert.deepEqual(
      { limit: err.details.limit, key: err.details.key, actual: err.details.actual },
      { limit: 65536, key: 'limits.max_pack_bytes', actual: 52428800 },
    );
    assert.match(err.hint, /set limits\.max_pack_bytes in the agent configuration to at least 52428800 \(now 65536\)/);
  });

  it('cuts a chunked body as soon as it grows past the limit: FETCH_TOO_LARGE, far fewer bytes sent than offered', async () => {
    const offered = 64 * 1024 * 1024;
    const chunk = Buffer.alloc(16 * 1024, 7);
    const server = { sent: 0, closed: false };
    const srv = await serve((_req, res) => {
      res.writeHead(200);
      const pump = (): void => {
        while (server.sent < offered && !res.destroyed) {
          server.sent += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        res.end();
      };
      res.on('close', () => (server.closed = true));
      pump();
    });
    const err = await rejectsCode(
      new HttpSource(config(srv.base + PACK_PATH, { maxBytes: 64 * 1024 }), context().ctx).fetchOnce(
        recorder().handler,
      ),
      'FETCH_TOO_LARGE',
    );
    assert.ok(Number(err.details.received_bytes) > 64 * 1024);
    await eventually(() => server.closed);
    assert.ok(server.sent < offered / 4, `server sent ${server.sent} of ${offered} bytes`);
  });

  for (const status of [500, 503, 404]) {
    it(`reports HTTP ${status} as FETCH_HTTP_STATUS with the status`, async () => {
      const srv = await serve((_req, res) => res.writeHead(status).end('no'));
      const err = await rejectsCode(
        new HttpSource(config(srv.base + PACK_PATH), context().ctx).fetchOnce(recorder().handler),
        'FETCH_HTTP_STATUS',
      );
      assert.equal(err.details.status, status);
    });
  }

  it('reports a refused connection as FETCH_FAILED with the system code', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    await new Promise((resolve) => server.close(resolve));
    const err = await rejectsCode(
      new HttpSource(config(`http://127.0.0.1:${port}/p`), context().ctx).fetchOnce(recorder().handler),
      'FETCH_FAILED',
    );
    assert.equal(err.details.system_code, 'ECONNREFUSED');
  });

  it('fails with SIGNATURE_FETCH_FAILED and does not call the handler when the signature 404s', async () => {
    const srv = await serve(packRoute({ body: Buffer.from('p'), etag: '"n"', sigStatus: 404 }));
    const rec = recorder();
    const { ctx, errors } = context();
    const err = await rejectsCode(
      new HttpSource(config(srv.base + PACK_PATH), ctx).fetchOnce(rec.handler),
      'SIGNATURE_FETCH_FAILED',
    );
    assert.equal(rec.updates.length, 0);
    assert.equal(err.details.status, 404);
    assert.ok(err.cause instanceof WardenError && err.cause.code === 'FETCH_HTTP_STATUS');
    assert.equal(errors[0]?.code, 'SIGNATURE_FETCH_FAILED');
  });
});

describe('HttpSource polling loop', () => {
  it('long-polls with Prefer: wait=N and picks up a change the moment the server answers', async () => {
    const state = { body: Buffer.from('v1'), etag: '"v1"' };
    const held: ServerResponse[] = [];
    const plain = packRoute(state);
    const srv = await serve((req, res) => {
      if (req.url === PACK_PATH && req.headers['if-none-match'] === state.etag && req.headers.prefer !== undefined) {
        held.push(res);
        res.on('close', () => held.splice(held.indexOf(res), 1));
      } else plain(req, res);
    });
    const source = new HttpSource(
      config(srv.base + PACK_PATH, { longPollSeconds: 5, pollMinSeconds: 10, pollMaxSeconds: 10 }),
      context().ctx,
    );
    const rec = recorder();
    source.start(rec.handler);
    try {
      await eventually(() => rec.updates.length === 1 && held.length === 1);
      assert.equal(srv.seen.at(-1)?.headers.prefer, 'wait=5');
      Object.assign(state, { body: Buffer.from('v2'), etag: '"v2"' });
      const changed = performance.now();
      for (const res of [...held]) res.writeHead(200, { etag: state.etag }).end(state.body);
      await eventually(() => rec.updates.length === 2);
      assert.ok(performance.now() - changed < 3000, 'picked up at once, not after the 10 s poll interval');
      assert.equal(rec.updates[1]?.pack.toString(), 'v2');
      await eventually(() => held.length === 1); // waiting on the server again
    } finally {
      const stopping = performance.now();
      await source.stop();
      assert.ok(performance.now() - stopping < 2500, 'stop() aborts the request held for 5 s');
    }
    await eventually(() => held.length === 0);
  });

  it('long poll waits a poll interval instead of hammering a server that answers at once, or a pack that is refused', async () => {
    const fast = await serve(packRoute({ body: Buffer.from('p'), etag: '"q"' }));
    const bad = await serve(packRoute({ body: Buffer.from('bad'), etag: '"r"' }));
    const cfg = { longPollSeconds: 5, pollMinSeconds: 0.1, pollMaxSeconds: 0.15 };
    const sources = [
      new HttpSource(config(fast.base + PACK_PATH, cfg), context().ctx),
      new HttpSource(config(bad.base + PACK_PATH, cfg), context().ctx),
    ];
    sources[0]?.start(recorder().handler);
    sources[1]?.start(
      recorder(() => ({ status: 'refused', error: new WardenError('PACK_MALFORMED', 'not a pack') })).handler,
    );
    // How many requests a fixed time holds is what is tested (no hammering), so this wait stays real.
    await delay(400);
    await Promise.all(sources.map((s) => s.stop()));
    assert.ok(fast.seen.length >= 2 && fast.seen.length <= 6, `${fast.seen.length} requests in 400 ms`);
    const refusedFetches = bad.seen.filter((s) => s.path === PACK_PATH).length;
    assert.ok(refusedFetches >= 2 && refusedFetches <= 5, `${refusedFetches} fetches of a refused pack in 400 ms`);
  });

  it('backs off exponentially on repeated 503s, returns to the poll interval on success, and stops cleanly', async () => {
    const ok = packRoute({ body: Buffer.from('p'), etag: '"b"' });
    const srv = await serve((req, res) => (srv.seen.length <= 5 ? res.writeHead(503).end() : ok(req, res)));
    const { ctx, errors, counts } = context();
    const timersBefore = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    // An injected timer: every pause the source asks for is recorded and ends at once, so the test reads
    // the schedule instead of measuring it; from the 8th on a pause is held until stop() cancels it.
    const asked: number[] = [];
    const pending = new Set<() => void>();
    const setTimer: SetTimer = (fn, ms) => {
      asked.push(ms);
      const fire = (): void => void (pending.delete(fire) && fn());
      pending.add(fire);
      if (asked.length < 8) setImmediate(fire);
      return () => void pending.delete(fire);
    };
    const source = new HttpSource(
      config(srv.base + PACK_PATH, { backoffBaseSeconds: 0.02, backoffMaxSeconds: 10 }),
      ctx,
      { random: () => 0.5, setTimer },
    );
    source.start(recorder().handler);
    await eventually(() => srv.seen.filter((s) => s.path === PACK_PATH).length >= 8 && asked.length >= 8);
    const stopping = performance.now();
    await source.stop();
    assert.ok(performance.now() - stopping < 1000, 'stop() resolves promptly');
    const g = asked;
    // Equal jitter at r = 0.5: 15, 30, 60, 120, 240 ms after the five 503s.
    [15, 30, 60, 120, 240].forEach((want, i) =>
      assert.ok((g[i] ?? 0) >= want - 2, `pauses ${g.join(',')}: #${i} < ${want}`),
    );
    for (let i = 1; i < 4; i++) assert.ok((g[i + 1] ?? 0) > (g[i] ?? 0) * 1.4, `pauses ${g.join(',')} should grow`);
    // After recovery: poll delay 50 + 50 · 0.5 = 75 ms, back to normal.
    assert.ok((g[6] ?? 0) >= 65 && (g[6] ?? 0) < 150, `pauses ${g.join(',')}`);
    assert.equal(errors.length, 5);
    assert.ok(errors.every((e) => e.code === 'FETCH_HTTP_STATUS'));
    assert.ok(counts.confirmed >= 2);
    assert.equal(pending.size, 0, 'stop() cancelled the pause it was in');
    const seenAtStop = srv.seen.length;
    // "Nothing after stop()" is what is tested here: a short real wait in which no request may arrive.
    await delay(150);
    assert.equal(srv.seen.length, seenAtStop, 'no request after stop()');
    assert.equal(
      process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length,
      timersBefore,
      'no timer left behind',
    );
  });
});

describe('HttpSource over mTLS', { skip: hasOpenssl ? false : 'openssl is not on PATH' }, () => {
  it('fetches with the right client certificate and fails with FETCH_FAILED without one', async () => {
    const pki = makePki();
    const tlsServer = createTlsServer({
      ca: pki.ca,
      cert: pki.serverCert,
      key: pki.serverKey,
      requestCert: true,
      rejectUnauthorized: true,
    });
    const srv = await serve(packRoute({ body: Buffer.from('tls-pack'), etag: '"t"' }), tlsServer);
    assert.match(srv.base, /^https:/);
    const rec = recorder();
    const url = srv.base + PACK_PATH;
    await new HttpSource(
      config(url, { tls: { ca: pki.ca, cert: pki.clientCert, key: pki.clientKey } }),
      context().ctx,
    ).fetchOnce(rec.handler);
    assert.equal(rec.updates[0]?.pack.toString(), 'tls-pack');
    assert.ok(rec.updates[0]?.signature, 'the signature came over the same mTLS settings');
    await rejectsCode(
      new HttpSource(config(url, { tls: { ca: pki.ca } }), context().ctx).fetchOnce(rec.handler),
      'FETCH_FAILED',
    );
    // And a server certificate from an untrusted CA is refused too.
    await rejectsCode(
      new HttpSource(config(url, { tls: { cert: pki.clientCert, key: pki.clientKey } }), context().ctx).fetchOnce(
        rec.handler,
      ),
      'FETCH_FAILED',
    );
    assert.equal(rec.updates.length, 1);
  });
});
