/**
 * Pipeline spans with the real OpenTelemetry SDK: a real pack server, the http
 * source and an activator go through fetch → verify → load → store → activate.
 * The spans nest (fetch → reload → verify/load/store/activate), share one trace
 * and carry the correlation id; the pack server receives the fetch span's
 * traceparent and logs it with the correlation id.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Activator } from '../../src/activate/activator.js';
import { createLogger } from '../../src/observe/logger.js';
import { WardenMetrics } from '../../src/observe/metrics.js';
import { startPackServer, type PackServer } from '../../src/pack-server/pack-server.js';
import { HttpSource } from '../../src/source/http.js';
import { keyTrust } from '../../src/verify/trust.js';
import { MemoryStore } from '../activate/memory-store.js';
import { tempDir } from '../helpers/fs.js';
import { installOtel, onlySpan, type InstalledOtel } from '../helpers/otel.js';
import { publish } from '../helpers/pack-server.js';
import { p256, signedBundle } from '../helpers/packs.js';
import { variant } from '../helpers/variants.js';

const key = p256();

describe('pipeline spans', () => {
  let otel: InstalledOtel;
  let server: PackServer;
  const served: Record<string, unknown>[] = [];

  before(async () => {
    otel = installOtel();
    const dir = tempDir('warden-otel-');
    const pack = await variant(1);
    await publish(dir, 'app.tar.gz.sigstore.json', await signedBundle(pack, key.privateKey));
    await publish(dir, 'app.tar.gz', pack);
    server = await startPackServer({
      dir,
      host: '127.0.0.1',
      port: 0,
      log: (entry) => void served.push(entry as Record<string, unknown>),
    });
  });

  after(async () => {
    await server.close();
    await otel.uninstall();
  });

  it('nests fetch → reload → verify, load, store, activate in one trace with the correlation id, and sends it to the pack server', async () => {
    const metrics = new WardenMetrics({ defaultMetrics: false });
    const log = createLogger('silent');
    const activator = new Activator({
      name: 'app',
      sourceKind: 'http',
      origin: 'test',
      trust: keyTrust({ publicKeys: [{ pem: key.publicPem }] }),
      store: new MemoryStore(),
      limits: {},
      metrics,
      log,
    });
    const source = new HttpSource(
      {
        url: `${server.url}/v1/policy/packs/app`,
        pollMinSeconds: 1,
        pollMaxSeconds: 2,
        longPollSeconds: 0,
        timeoutSeconds: 5,
        maxBytes: 1024 * 1024,
      },
      { pack: 'app', log, metrics, onConfirmed: () => undefined, onFetchError: () => undefined },
    );
    const outcome = await source.fetchOnce((u) => activator.submit(u));
    assert.equal(outcome?.status, 'activated');

    const fetch = onlySpan(otel, 'warden.fetch');
    const reload = onlySpan(otel, 'warden.reload');
    const correlationId = fetch.attributes['warden.correlation_id'];
    assert.equal(typeof correlationId, 'string');
    assert.equal(fetch.attributes['warden.pack'], 'app');
    assert.equal(fetch.attributes['warden.outcome'], 'activated');
    assert.equal(fetch.parentSpanContext, undefined, 'the fetch is a root span here (no host span around it)');
    const traceId = fetch.spanContext().traceId;

    assert.equal(reload.parentSpanContext?.spanId, fetch.spanContext().spanId);
    assert.equal(reload.attributes['warden.correlation_id'], correlationId);
    assert.equal(reload.attributes['warden.outcome'], 'activated');
    assert.equal(reload.attributes['warden.digest'], outcome?.status === 'activated' ? outcome.digest : '');

    for (const name of ['warden.verify', 'warden.load', 'warden.store', 'warden.activate']) {
      const child = onlySpan(otel, name);
      assert.equal(child.spanContext().traceId, traceId, `${name} is in the fetch's trace`);
      assert.equal(child.parentSpanContext?.spanId, reload.spanContext().spanId, `${name} is a child of the reload`);
      assert.equal(child.attributes['warden.correlation_id'], correlationId, `${name} has the correlation id`);
      assert.equal(child.attributes['warden.pack'], 'app');
    }
    assert.equal(onlySpan(otel, 'warden.activate').attributes['warden.revision'], 'v1');

    // Both requests (pack, signature) reached the server with the correlation id and the fetch span as parent.
    const requests = served.filter((e) => e.correlation_id === correlationId);
    assert.equal(requests.length, 2, JSON.stringify(served));
    for (const r of requests) {
      const [version, trace, parent, flags] = String(r.traceparent).split('-');
      assert.deepEqual([version, trace, parent, flags], ['00', traceId, fetch.spanContext().spanId, '01']);
    }
  });

  it('marks a refused reload as an error with its code', async () => {
    otel.exporter.reset();
    const stranger = p256();
    const metrics = new WardenMetrics({ defaultMetrics: false });
    const activator = new Activator({
      name: 'app',
      sourceKind: 'http',
      origin: 'test',
      trust: keyTrust({ publicKeys: [{ pem: stranger.publicPem }] }),
      store: new MemoryStore(),
      limits: {},
      metrics,
      log: createLogger('silent'),
    });
    const pack = await variant(2);
    const outcome = await activator.submit({
      pack,
      signature: await signedBundle(pack, key.privateKey),
      etag: undefined,
      origin: 'test',
      correlationId: 'c-refused',
    });
    assert.equal(outcome.status, 'refused');
    const reload = onlySpan(otel, 'warden.reload');
    assert.equal(reload.status.code, 2); // ERROR
    assert.equal(reload.attributes['warden.error.code'], outcome.status === 'refused' ? outcome.error.code : '');
    const verify = onlySpan(otel, 'warden.verify');
    assert.equal(verify.status.code, 2);
    assert.equal(verify.attributes['warden.correlation_id'], 'c-refused');
    assert.equal(otel.spans('warden.store').length, 0);
  });
});
