/**
 * The s3 source against a real MinIO on 127.0.0.1 (test/helpers/minio.ts): requests
 * signed by the AWS SDK and verified by the server. The agent-level contract it
 * shares with the http source is test/agent/source-contract.test.ts.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { WardenError } from '../../src/errors.js';
import { createLogger } from '../../src/observe/logger.js';
import { WardenMetrics } from '../../src/observe/metrics.js';
import { S3Source, type S3SourceConfig } from '../../src/source/s3.js';
import type { PackUpdate, SourceContext, UpdateOutcome } from '../../src/source/types.js';
import { rejectsCode } from '../helpers/errors.js';
import { tempDir } from '../helpers/fs.js';
import { MinioServer } from '../helpers/minio.js';
import { pack } from '../helpers/pack-server.js';
import { eventually } from '../helpers/wait.js';

const BUCKET = 'packs';

// A SourceContext whose confirmations, errors and metrics the test can read.
function context() {
  const sink = new Writable({ write: (_c, _e, cb) => cb() });
  const errors: WardenError[] = [];
  const counts = { confirmed: 0 };
  const metrics = new WardenMetrics({ defaultMetrics: false });
  const ctx: SourceContext = {
    pack: 'app',
    log: createLogger('debug', sink),
    metrics,
    onConfirmed: () => void counts.confirmed++,
    onFetchError: (e) => void errors.push(e),
  };
  return { ctx, errors, counts, metrics };
}

// A handler that records updates and answers with `outcome` (default: activated).
function recorder(outcome?: (u: PackUpdate) => UpdateOutcome) {
  const updates: PackUpdate[] = [];
  const handler = (u: PackUpdate): Promise<UpdateOutcome> => {
    updates.push(u);
    return Promise.resolve(outcome ? outcome(u) : { status: 'activated', digest: `d${updates.length}` });
  };
  return { updates, handler };
}

// The value of one sample of a counter (labels as a subset).
async function sample(metrics: WardenMetrics, name: string, labels: Record<string, string>): Promise<number> {
  const m = (await metrics.registry.getMetricsAsJSON()).find((x) => x.name === name);
  const values = (m?.values ?? []) as Array<{ value: number; labels: Record<string, unknown> }>;
  return values
    .filter((v) => Object.entries(labels).every(([k, want]) => v.labels[k] === want))
    .reduce((a, v) => a + v.value, 0);
}

describe('s3 source against a real MinIO', () => {
  let minio: MinioServer;
  const dir = tempDir();
  let files: { accessKeyIdFile: string; secretAccessKeyFile: string };
  const sources: S3Source[] = [];

  before(async () => {
    minio = await MinioServer.start();
    await minio.createBucket(BUCKET);
    files = await minio.credentialFiles(dir);
  });
  after(async () => {
    await Promise.all(sources.map((s) => s.stop()));
    await minio.close();
  });

  const source = (key: string, ctx: SourceContext, over: Partial<S3SourceConfig> = {}): S3Source => {
    const s = new S3Source(
      {
        endpoint: minio.endpoint,
        region: minio.region,
        forcePathStyle: true,
        bucket: BUCKET,
        key,
        credentials: files,
        pollMinSeconds: 0.05,
        pollMaxSeconds: 0.1,
        timeoutSeconds: 5,
        maxBytes: 1024 * 1024,
        ...over,
      },
      ctx,
    );
    sources.push(s);
    return s;
  };

  it('hands a new pack with its signature and ETag over, and answers unchanged (304) without handing it again', async () => {
    const { ctx, counts } = context();
    const s = source('change/app.tar.gz', ctx);
    await minio.publish(BUCKET, 'change/app.tar.gz', pack(1), '{"sig":1}');
    const { updates, handler } = recorder();
    const first = await s.fetchOnce(handler);
    assert.equal(first?.status, 'activated');
    assert.equal(updates.length, 1);
    assert.deepEqual(updates[0]?.pack, pack(1));
    assert.equal(updates[0]?.signature?.toString(), '{"sig":1}');
    assert.match(updates[0]?.etag ?? '', /^"[0-9a-f]+"$/);
    assert.equal(updates[0]?.origin, `s3://${BUCKET}/change/app.tar.gz`);
    for (let i = 0; i < 3; i++) assert.equal(await s.fetchOnce(handler), undefined);
    assert.equal(updates.length, 1, 'an unchanged pack is not handed over again');
    assert.equal(counts.confirmed, 4);
    await minio.publish(BUCKET, 'change/app.tar.gz', pack(2), '{"sig":2}');
    assert.equal((await s.fetchOnce(handler))?.status, 'activated');
    assert.deepEqual(updates[1]?.pack, pack(2));
    assert.notEqual(updates[1]?.etag, updates[0]?.etag);
  });

  it('resumes from the ETag of the stored pack: setActive makes the first poll a 304', async () => {
    const { ctx } = context();
    const etag = await minio.put(BUCKET, 'boot/app.tar.gz', pack(3));
    await minio.put(BUCKET, 'boot/app.tar.gz.sigstore.json', '{}');
    const s = source('boot/app.tar.gz', ctx);
    s.setActive(etag);
    const { updates, handler } = recorder();
    assert.equal(await s.fetchOnce(handler), undefined);
    assert.equal(updates.length, 0);
  });

  it('refuses a pack whose signature object is missing with SIGNATURE_FETCH_FAILED, counted', async () => {
    const { ctx, errors, metrics } = context();
    await minio.put(BUCKET, 'nosig/app.tar.gz', pack(4));
    const s = source('nosig/app.tar.gz', ctx);
    const { updates, handler } = recorder();
    const err = await rejectsCode(s.fetchOnce(handler), 'SIGNATURE_FETCH_FAILED');
    assert.equal(err.details?.s3_code, 'NoSuchKey');
    assert.equal(updates.length, 0, 'nothing reaches the pipeline without its signature');
    assert.equal(errors[0]?.code, 'SIGNATURE_FETCH_FAILED');
    assert.equal(
      await sample(metrics, 'policy_fetch_failure_total', { source: 's3', code: 'SIGNATURE_FETCH_FAILED' }),
      1,
    );
  });

  it('refuses an object over max_bytes with FETCH_TOO_LARGE naming the setting', async () => {
    const { ctx } = context();
    await minio.publish(BUCKET, 'big/app.tar.gz', Buffer.alloc(64 * 1024, 7), '{}');
    const s = source('big/app.tar.gz', ctx, { maxBytes: 4096, maxBytesKey: 'source.s3.max_bytes' });
    const err = await rejectsCode(s.fetchOnce(recorder().handler), 'FETCH_TOO_LARGE');
    assert.equal(err.details?.key, 'source.s3.max_bytes');
  });

  it('is refused by the server with a wrong secret (FETCH_ACCESS_DENIED, counted), and re-reads the key files at the next fetch', async () => {
    const { ctx, metrics } = context();
    await minio.publish(BUCKET, 'creds/app.tar.gz', pack(5), '{}');
    const own = tempDir();
    const mine = {
      accessKeyIdFile: join(own, 'id'),
      secretAccessKeyFile: join(own, 'secret'),
    };
    await writeFile(mine.accessKeyIdFile, minio.accessKeyId);
    await writeFile(mine.secretAccessKeyFile, `${minio.secretAccessKey}x`);
    const s = source('creds/app.tar.gz', ctx, { credentials: mine });
    const { updates, handler } = recorder();
    const err = await rejectsCode(s.fetchOnce(handler), 'FETCH_ACCESS_DENIED');
    // The right key id with a wrong secret: only a server that checks the SigV4 signature can tell.
    assert.equal(err.details?.s3_code, 'SignatureDoesNotMatch');
    assert.equal(err.details?.status, 403);
    await writeFile(mine.accessKeyIdFile, 'nobody-at-all');
    const unknown = await rejectsCode(s.fetchOnce(handler), 'FETCH_ACCESS_DENIED');
    assert.equal(unknown.details?.s3_code, 'InvalidAccessKeyId');
    assert.equal(await sample(metrics, 'policy_fetch_failure_total', { source: 's3', code: 'FETCH_ACCESS_DENIED' }), 2);
    assert.equal(updates.length, 0);
    // A rotated Secret: the files are read again for every request.
    await writeFile(mine.accessKeyIdFile, minio.accessKeyId);
    await writeFile(mine.secretAccessKeyFile, minio.secretAccessKey);
    assert.equal((await s.fetchOnce(handler))?.status, 'activated');
  });

  it('fails with FETCH_CREDENTIALS_UNAVAILABLE when a credentials file is missing', async () => {
    const { ctx } = context();
    const s = source('creds/app.tar.gz', ctx, {
      credentials: { accessKeyIdFile: join(dir, 'absent'), secretAccessKeyFile: files.secretAccessKeyFile },
    });
    await rejectsCode(s.fetchOnce(recorder().handler), 'FETCH_CREDENTIALS_UNAVAILABLE');
  });

  it('does not hand a refused pack over again while the store serves it (a 304 on its ETag), and hands it over once its signature is fixed', async () => {
    const { ctx, counts, metrics } = context();
    await minio.publish(BUCKET, 'refused/app.tar.gz', pack(6), '{"sig":"bad"}');
    const s = source('refused/app.tar.gz', ctx);
    const refusal = new WardenError('SIGNATURE_INVALID', 'bad');
    const { updates, handler } = recorder((u) =>
      u.signature?.toString() === '{"sig":"bad"}'
        ? { status: 'refused', error: refusal }
        : { status: 'activated', digest: 'ok' },
    );
    assert.equal((await s.fetchOnce(handler))?.status, 'refused');
    for (let i = 0; i < 3; i++) assert.equal((await s.fetchOnce(handler))?.status, 'refused');
    assert.equal(updates.length, 1, 'the refused pair is not verified again');
    assert.equal(counts.confirmed, 0, 'a refused pack is never a confirmation');
    assert.equal(await sample(metrics, 'policy_refused_unchanged_total', { source: 's3' }), 3);
    await minio.put(BUCKET, 'refused/app.tar.gz.sigstore.json', '{"sig":"good"}');
    assert.equal((await s.fetchOnce(handler))?.status, 'activated');
    assert.equal(updates.length, 2);
    assert.deepEqual(updates[1]?.pack, pack(6));
  });

  it('fails with FETCH_FAILED when the server is down, and polls on (backoff) until it is back', async () => {
    const { ctx, errors } = context();
    await minio.publish(BUCKET, 'down/app.tar.gz', pack(7), '{}');
    const s = source('down/app.tar.gz', ctx, { backoffBaseSeconds: 0.05, backoffMaxSeconds: 0.2 });
    await minio.stop();
    try {
      await rejectsCode(s.fetchOnce(recorder().handler), 'FETCH_FAILED');
    } finally {
      await minio.restart();
    }
    const { updates, handler } = recorder();
    await minio.stop();
    s.start(handler);
    await eventually(() => errors.length >= 3, { what: 'failed polls while the server is down' });
    await minio.restart();
    await eventually(() => updates.length === 1, { what: 'the pack fetched once the server is back' });
    await s.stop();
  });
});
